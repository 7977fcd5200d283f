"""All active watches compiled into one engine: each post is scanned once, whatever the number of watches.

Each watch is indexed under a few *anchor* terms, at least one of which must be present for the watch to match
(for an AND, the anchors of its rarest-looking child; for an OR, the union of its children's). The anchor text
terms of all watches go into one token index (tokenindex.py): a single pass over the post's tokens finds those
present, word boundaries included, at the same cost whatever their number. Field terms (hashtag, author,
source, language, domain) are dictionary look-ups. Only the watches anchored on a present term are
evaluated, with their other text terms checked as substrings of the token text. Watches with no possible anchor
(only regular expressions, say) are evaluated on every post.

Changes are incremental: adding or removing a watch indexes or drops its own terms and anchors, at the cost of
that one watch whatever the number of watches. A match in progress (in another thread) sees each watch either
whole or not at all. Anchors are chosen by how many watches share a term when the watch is added; as that
drifts, a full rebuild (in a worker thread: `rebuild`) chooses them afresh and swaps the new engine in at once,
replaying the changes made while it was being built.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from handlers.monitor.highlight import highlight_spans
from handlers.monitor.normalise import NormalisedPost, fold_name
from handlers.monitor.query import All, Any, Leaf, Node, Not, Query, Term, TermKind, compiled_regex
from handlers.monitor.tokenindex import TokenIndex

if TYPE_CHECKING:
    from handlers.monitor.post import Post

__all__ = ["Match", "Matcher", "highlight_spans"]

_Test = Callable[[set[int], str, Callable[[int], bool]], bool]

# Relative cost of anchoring a watch on a term of each kind: lower means rarer in posts, so fewer evaluations.
_FIELD_COST = {
    TermKind.AUTHOR: 1,
    TermKind.TAG: 2,
    TermKind.DOMAIN: 2,
    TermKind.SOURCE: 500,
    TermKind.LANG: 1000,
}


class Match(NamedTuple):
    """A watch that matched a post, with the terms found (for highlighting)."""

    watch_id: int
    terms: tuple[str, ...]


@dataclass(frozen=True, slots=True, eq=False)
class _Watch:
    """A watch compiled against the matcher's term ids (hashed by identity: candidates are sets of these)."""

    id: int
    query: Query
    sources: frozenset[str] | None
    test: _Test | None  # None: the anchor alone decides
    report: tuple[tuple[int, str | None, str], ...]  # (term id, needle of a text term, label) per positive term
    match: Match  # the match when `test` is None: one term, the anchor
    regex: bool  # the query has regular expressions
    terms: tuple[tuple[int, Term], ...]  # every term of the query with its id (query terms are distinct)


class _Engine:
    """The compiled watches: token index, field look-ups and anchor index, changed one watch at a time."""

    __slots__ = ("always", "anchor_ids", "anchored", "anchors", "authors", "domains", "has_fields", "langs",
                 "regexes", "sources", "tags", "texts", "uses", "watches")

    def __init__(self) -> None:
        self.watches: dict[int, _Watch] = {}
        self.anchored: dict[int, frozenset[int] | None] = {}  # watch id → its anchors (None: evaluated always)
        self.anchors: dict[int, tuple[_Watch, ...]] = {}  # anchor term id → watches anchored on it
        self.anchor_ids: set[int] = set()
        self.always: tuple[_Watch, ...] = ()
        self.regexes: dict[int, str] = {}
        self.texts = TokenIndex()  # the anchor text terms
        self.tags: dict[str, int] = {}
        self.authors: dict[str, int] = {}
        self.domains: dict[str, int] = {}
        self.sources: dict[str, int] = {}
        self.langs: dict[str, int] = {}
        self.uses: dict[int, int] = {}  # field and regex term id → watches of this engine using it
        self.has_fields = False

    def __len__(self) -> int:
        return len(self.watches)

    def _fields(self, kind: TermKind) -> dict[str, int]:
        return {TermKind.TAG: self.tags, TermKind.AUTHOR: self.authors, TermKind.DOMAIN: self.domains,
                TermKind.SOURCE: self.sources, TermKind.LANG: self.langs}[kind]

    def add(self, watch: _Watch, anchors: frozenset[int] | None) -> None:
        """Index a watch under `anchors` (an id already here is replaced). Its terms are indexed before it is
        reachable from an anchor, so a concurrent match never meets half of it."""
        self.remove(watch.id)
        for tid, term in watch.terms:
            if term.kind is TermKind.TEXT:
                continue
            self.uses[tid] = self.uses.get(tid, 0) + 1
            if term.kind is TermKind.REGEX:
                self.regexes[tid] = term.value
            else:
                self._fields(term.kind)[term.value] = tid
                self.has_fields = True
        self.watches[watch.id] = watch
        self.anchored[watch.id] = anchors
        if anchors is None:
            self.always = (*self.always, watch)
            return
        terms = dict(watch.terms)
        for tid in anchors:
            if tid not in self.anchors and terms[tid].kind is TermKind.TEXT:
                self.texts.add(terms[tid].needle, tid)
            self.anchors[tid] = (*self.anchors.get(tid, ()), watch)
            self.anchor_ids.add(tid)

    def remove(self, watch_id: int) -> bool:
        """Drop a watch (False if it is not here): first from its anchors, then its terms."""
        watch = self.watches.pop(watch_id, None)
        if watch is None:
            return False
        anchors = self.anchored.pop(watch_id)
        if anchors is None:
            self.always = tuple(w for w in self.always if w is not watch)
        else:
            for tid in anchors:
                left = tuple(w for w in self.anchors[tid] if w is not watch)
                if left:
                    self.anchors[tid] = left
                    continue
                self.anchor_ids.discard(tid)
                del self.anchors[tid]
                self.texts.remove(tid)
        for tid, term in watch.terms:
            if term.kind is TermKind.TEXT:
                continue
            self.uses[tid] -= 1
            if self.uses[tid]:
                continue
            del self.uses[tid]
            if term.kind is TermKind.REGEX:
                del self.regexes[tid]
            else:
                del self._fields(term.kind)[term.value]
        self.has_fields = bool(self.tags or self.authors or self.domains or self.sources or self.langs)
        return True

    def match(self, post: NormalisedPost) -> list[Match]:
        """The watches of this engine matching the post."""
        # The anchor text terms and the field terms present: a few look-ups, written out (this runs per post).
        present = self.texts.found(post)
        if self.has_fields:
            tags, authors, domains, langs, sources = self.tags, self.authors, self.domains, self.langs, self.sources
            if tags:
                for key in post.tags:
                    if key in tags:
                        present.add(tags[key])
            if authors:
                for key in post.authors:
                    if key in authors:
                        present.add(authors[key])
            if domains:
                for key in post.domains:
                    if key in domains:
                        present.add(domains[key])
            if langs:
                for key in post.langs:
                    if key in langs:
                        present.add(langs[key])
            tid = sources.get(post.source)
            if tid is not None:
                present.add(tid)
        hits = present & self.anchor_ids
        always = self.always
        if not hits and not always:
            return []
        anchors = self.anchors
        if len(hits) == 1 and not always:  # the usual case: one anchor's watches, no set to build
            (anchor,) = hits
            candidates: Iterable[_Watch] = anchors.get(anchor, ())
        else:
            candidates = set(always)
            for tid in hits:
                candidates.update(anchors.get(tid, ()))
        regex: Callable[[int], bool] = _no_regex
        text = post.text
        matches = []
        for watch in candidates:
            if watch.sources is not None and post.source not in watch.sources:
                continue
            if watch.test is None:  # one term, the anchor that is present
                matches.append(watch.match)
                continue
            if watch.regex and regex is _no_regex:  # a query with regular expressions: run them lazily
                regex = _RegexCheck(self.regexes, post)
            if watch.test(present, text, regex):
                terms = []
                for tid, needle, label in watch.report:
                    if tid in present or (needle in text if needle else tid in self.regexes and regex(tid)):
                        terms.append(label)
                matches.append(tuple.__new__(Match, (watch.id, tuple(terms))))
        return matches


def _no_regex(tid: int) -> bool:
    """The regex check of an engine without regular expressions (never called)."""
    raise LookupError(tid)


class _RegexCheck:
    """Regex term results for one post, computed on first use."""

    __slots__ = ("_done", "_patterns", "_post", "_text")

    def __init__(self, patterns: dict[int, str], post: NormalisedPost) -> None:
        self._patterns = patterns
        self._post = post
        self._text: str | None = None
        self._done: dict[int, bool] = {}

    def __call__(self, tid: int) -> bool:
        hit = self._done.get(tid)
        if hit is None:
            pattern = self._patterns.get(tid)  # None: its watch was removed while this post was being matched
            if pattern is None:
                return False
            if self._text is None:
                self._text = self._post.regex_text
            hit = self._done[tid] = compiled_regex(pattern).search(self._text) is not None
        return hit


_Change = tuple[_Watch, frozenset[int] | None] | int  # an added watch with its anchors, or a removed id


class Matcher:
    """The matching engine for all active watches; safe to change while other threads match."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # held briefly, for one change or a snapshot
        self._building = threading.Lock()  # one rebuild at a time
        self._watches: dict[int, _Watch] = {}
        self._term_ids: dict[Term, int] = {}  # ids stay stable while a watch uses the term, and are never reused
        self._next_id = 0
        self._usage: dict[int, int] = {}  # term id → number of watches using it
        self._engine = _Engine()
        self._journal: list[_Change] | None = None  # the changes made while a rebuild runs
        self._changes = 0  # since the last rebuild

    def __len__(self) -> int:
        return len(self._watches)

    def __contains__(self, watch_id: object) -> bool:
        return watch_id in self._watches

    @property
    def needs_rebuild(self) -> bool:
        """True when enough watches changed since the last rebuild that their anchors are worth choosing afresh."""
        return self._changes > max(1024, len(self._watches) // 2)

    def add(self, watch_id: int, query: Query, sources: frozenset[str] | None = None) -> None:
        """Add a watch, or replace the watch with this id; effective for the next post matched."""
        with self._lock:
            watch = self._register(watch_id, query, sources)
            anchors = _anchors(watch, self._usage)
            self._engine.add(watch, anchors)
            self._changed((watch, anchors))

    def add_many(self, watches: Iterable[tuple[int, Query, frozenset[str] | None]]) -> None:
        """Add (or replace) many watches with one rebuild: for loading them all (in a worker thread)."""
        for watch_id, query, sources in watches:
            with self._lock:
                self._register(watch_id, query, sources)
        self.rebuild()

    def remove(self, watch_id: int) -> None:
        """Remove a watch (no error if absent); effective for the next post matched."""
        with self._lock:
            if not self._forget(watch_id):
                return
            self._engine.remove(watch_id)
            self._changed(watch_id)

    def rebuild(self) -> None:
        """Build a new engine from all current watches, anchors chosen afresh, and swap it in. Runs in any
        thread while others change watches: the changes made meanwhile are replayed on the new engine."""
        with self._building:
            with self._lock:
                watches = list(self._watches.values())
                usage = dict(self._usage)
                self._journal = []
                self._changes = 0
            engine = _Engine()
            for watch in watches:
                engine.add(watch, _anchors(watch, usage))
            while True:
                with self._lock:
                    pending, self._journal = self._journal, []
                    if len(pending) <= 64:  # few enough to replay while holding the lock
                        _replay(engine, pending)
                        self._engine = engine
                        self._journal = None
                        return
                _replay(engine, pending)

    def match(self, post: Post) -> list[Match]:
        """The watches matching a post, by watch id."""
        return self.match_normalised(NormalisedPost.of(post))

    def match_normalised(self, post: NormalisedPost) -> list[Match]:
        """`match` for an already normalised post."""
        matches = self._engine.match(post)
        if len(matches) > 1:
            matches.sort()
        return matches

    def _changed(self, change: _Change) -> None:
        self._changes += 1
        if self._journal is not None:
            self._journal.append(change)

    def _register(self, watch_id: int, query: Query, sources: frozenset[str] | None) -> _Watch:
        """Compile a watch against the term ids and keep it (replacing one with its id)."""
        self._forget(watch_id)
        watch = self._watches[watch_id] = self._compile(watch_id, query, sources)
        return watch

    def _forget(self, watch_id: int) -> bool:
        """Drop a watch from the registry and term usage; False if it was not there."""
        old = self._watches.pop(watch_id, None)
        if old is None:
            return False
        for tid, term in old.terms:
            self._usage[tid] -= 1
            if not self._usage[tid]:
                del self._usage[tid], self._term_ids[term]
        return True

    def _compile(self, watch_id: int, query: Query, sources: frozenset[str] | None) -> _Watch:
        """Compile a query against the term ids."""
        ids = self._term_ids
        for term in query.terms:
            tid = ids.get(term)
            if tid is None:
                tid = ids[term] = self._next_id
                self._next_id += 1
            self._usage[tid] = self._usage.get(tid, 0) + 1
        single = isinstance(query.root, Leaf) and query.root.term.kind is not TermKind.REGEX
        return _Watch(
            id=watch_id,
            query=query,
            sources=None if sources is None else frozenset(fold_name(s) for s in sources),
            test=None if single else _compile_test(query.root, ids),
            report=tuple(
                (ids[t], t.needle if t.kind is TermKind.TEXT else None, str(t)) for t in query.positive
            ),
            match=Match(watch_id, tuple(str(t) for t in query.positive)),
            regex=any(t.kind is TermKind.REGEX for t in query.terms),
            terms=tuple((ids[t], t) for t in query.terms),
        )


def _replay(engine: _Engine, changes: list[_Change]) -> None:
    for change in changes:
        if isinstance(change, int):
            engine.remove(change)
        else:
            engine.add(*change)


def _anchors(watch: _Watch, usage: dict[int, int]) -> frozenset[int] | None:
    """The anchor term ids of a watch (None: it has none and is evaluated on every post)."""
    trigger = _trigger(watch.query.root, {term: tid for tid, term in watch.terms}, usage)
    return None if trigger is None else trigger[1]


def _term_cost(term: Term, watches_using: int) -> int:
    """Expected relative frequency of a term in posts: phrases and long words are rarer; a term many watches
    share is a generic word (the specific terms of each watch are better anchors)."""
    if term.kind is TermKind.TEXT:
        base = 1 if " " in term.value else 4 if len(term.value) >= 6 else 8 if len(term.value) >= 4 else 16
    else:
        base = _FIELD_COST[term.kind]
    return base * (1 + watches_using)


def _trigger(node: Node, ids: dict[Term, int], usage: dict[int, int]) -> tuple[int, frozenset[int]] | None:
    """(cost, anchor term ids) such that the node can only be true when one anchor is present; None if none."""
    match node:
        case Leaf(term):
            if term.kind is TermKind.REGEX:
                return None
            tid = ids[term]
            return _term_cost(term, usage.get(tid, 0)), frozenset((tid,))
        case Not():
            return None
        case All(children):
            options = [t for t in (_trigger(c, ids, usage) for c in children) if t is not None]
            return min(options, key=lambda t: (t[0], len(t[1]))) if options else None
        case Any(children):
            parts = [_trigger(c, ids, usage) for c in children]
            if any(p is None for p in parts):
                return None
            return sum(p[0] for p in parts if p), frozenset().union(*(p[1] for p in parts if p))
    raise TypeError(node)


def _expression(node: Node, ids: dict[Term, int], operands: tuple[list[int], list[str]]) -> str:
    """Python source for a node over `p` (ids of the terms found present: fields, and the text terms the token
    index found), `t` (token text), `r` (regex check); term ids go to `_i` and text-term needles to `_n`, so
    watches of the same shape share one code object. A text term found by the index needs no substring search."""
    term_ids, needles = operands
    match node:
        case Leaf(term):
            term_ids.append(ids[term])
            if term.kind is TermKind.TEXT:
                needles.append(term.needle)
                return f"(_i[{len(term_ids) - 1}] in p or _n[{len(needles) - 1}] in t)"
            slot = f"_i[{len(term_ids) - 1}]"
            return f"r({slot})" if term.kind is TermKind.REGEX else f"({slot} in p)"
        case Not(child):
            return f"(not {_expression(child, ids, operands)})"
        case All(children):
            return "(" + " and ".join(_expression(c, ids, operands) for c in children) + ")"
        case Any(children):
            return "(" + " or ".join(_expression(c, ids, operands) for c in children) + ")"
    raise TypeError(node)


def _compile_test(root: Node, ids: dict[Term, int]) -> _Test:
    """The query as one Python function over its own term ids and needles."""
    operands: tuple[list[int], list[str]] = ([], [])
    shape = _expression(root, ids, operands)
    return _factory(shape)(tuple(operands[0]), tuple(operands[1]))


@lru_cache(maxsize=4096)
def _factory(shape: str) -> Callable[[tuple[int, ...], tuple[str, ...]], _Test]:
    """A maker of test functions for one query shape; the source holds only slots, names and operators."""
    return eval(f"lambda _i, _n: lambda p, t, r: {shape}", {"__builtins__": {}})
