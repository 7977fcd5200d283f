"""All active watches compiled into one engine: each post is scanned once, whatever the number of watches.

Each watch is indexed under a few *anchor* terms, at least one of which must be present for the watch to match
(for an AND, the anchors of its rarest-looking child; for an OR, the union of its children's). The anchor text
terms of all watches go into one token index (tokenindex.py): a single pass over the post's tokens finds those
present, word boundaries included, at the same cost whatever their number. Field terms (hashtag, author,
source, language, domain) are dictionary look-ups. Only the watches anchored on a present term are
evaluated, with their other text terms checked as substrings of the token text. Watches with no possible anchor
(only regular expressions, say) are evaluated on every post.

Changes are copy-on-write: a large immutable base engine plus a small delta engine for recent additions and a
set of base watches since removed or replaced. Every change builds new engines off to the side and swaps one
reference, so a match in progress always sees a complete, consistent snapshot, and matching never pauses.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

from handlers.monitor.highlight import highlight_spans
from handlers.monitor.normalise import NormalisedPost, fold_name
from handlers.monitor.post import Post
from handlers.monitor.query import All, Any, Leaf, Node, Not, Query, Term, TermKind, compiled_regex
from handlers.monitor.tokenindex import TokenIndex

__all__ = ["Match", "Matcher", "highlight_spans"]

_NONE: frozenset[int] = frozenset()
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
    term_ids: tuple[int, ...]  # every term of the query (query terms are distinct)


class _Engine:
    """An immutable compiled set of watches: token index, field look-ups and anchor index."""

    __slots__ = ("always", "anchor_ids", "anchors", "authors", "domains", "has_fields", "langs", "regexes", "sources",
                 "tags", "texts", "watches")

    def __init__(
        self, watches: Iterable[_Watch], terms: dict[Term, int], by_id: dict[int, Term], usage: dict[int, int]
    ) -> None:
        self.watches: dict[int, _Watch] = {w.id: w for w in watches}
        anchors: dict[int, list[_Watch]] = {}
        always: list[_Watch] = []
        used: set[int] = set()  # field and regex terms of the watches, and the anchors
        for watch in self.watches.values():
            used.update(watch.term_ids)
            trigger = _trigger(watch.query.root, terms, usage)
            if trigger is None:
                always.append(watch)
            else:
                for tid in trigger[1]:
                    anchors.setdefault(tid, []).append(watch)
        self.anchors = {tid: tuple(ws) for tid, ws in anchors.items()}
        self.anchor_ids = frozenset(anchors)
        self.always = tuple(always)
        self.regexes: dict[int, str] = {}
        fields: dict[TermKind, dict[str, int]] = {kind: {} for kind in _FIELD_COST}
        texts: list[tuple[str, int]] = []
        for tid in used:
            term = by_id[tid]
            if term.kind is TermKind.TEXT:
                if tid in anchors:  # other text terms are checked on the few candidate watches only
                    texts.append((term.needle, tid))
            elif term.kind is TermKind.REGEX:
                self.regexes[tid] = term.value
            else:
                fields[term.kind][term.value] = tid
        self.texts = TokenIndex(texts) if texts else None
        self.tags, self.authors, self.domains = fields[TermKind.TAG], fields[TermKind.AUTHOR], fields[TermKind.DOMAIN]
        self.sources, self.langs = fields[TermKind.SOURCE], fields[TermKind.LANG]
        self.has_fields = any(fields.values())

    def __len__(self) -> int:
        return len(self.watches)

    def match(self, post: NormalisedPost, skip: frozenset[int]) -> list[Match]:
        """The watches of this engine matching the post."""
        # The anchor text terms and the field terms present: a few look-ups, written out (this runs per post).
        present = self.texts.found(post) if self.texts is not None else set()
        if self.has_fields:
            tags, authors, domains, langs = self.tags, self.authors, self.domains, self.langs
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
            if post.source in self.sources:
                present.add(self.sources[post.source])
        hits = present & self.anchor_ids
        if not hits and not self.always:
            return []
        if len(hits) == 1 and not self.always:  # the usual case: one anchor's watches, no set to build
            (anchor,) = hits
            candidates: Iterable[_Watch] = self.anchors[anchor]
        else:
            candidates = set(self.always)
            for tid in hits:
                candidates.update(self.anchors[tid])
        regex: Callable[[int], bool] = _no_regex
        text = post.text
        matches = []
        for watch in candidates:
            if (watch.sources is not None and post.source not in watch.sources) or watch.id in skip:
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
            if self._text is None:
                self._text = self._post.regex_text
            hit = self._done[tid] = compiled_regex(self._patterns[tid]).search(self._text) is not None
        return hit


@dataclass(frozen=True, slots=True)
class _State:
    """One consistent snapshot: base engine, delta engine, and base watches to ignore."""

    base: _Engine
    delta: _Engine
    stale: frozenset[int] = field(default_factory=frozenset)  # base ids removed or replaced since the build


class Matcher:
    """The matching engine for all active watches; safe to change while other threads match."""

    def __init__(self, *, max_delta: int = 1024) -> None:
        self._lock = threading.Lock()
        self._watches: dict[int, _Watch] = {}
        self._term_ids: dict[Term, int] = {}  # ids stay stable while a watch uses the term, and are never reused
        self._terms: dict[int, Term] = {}
        self._next_id = 0
        self._usage: dict[int, int] = {}  # term id → number of watches using it
        self._max_delta = max_delta
        self._empty = _Engine((), {}, {}, {})
        self._state = _State(base=self._empty, delta=self._empty)

    def __len__(self) -> int:
        return len(self._watches)

    def __contains__(self, watch_id: object) -> bool:
        return watch_id in self._watches

    def add(self, watch_id: int, query: Query, sources: frozenset[str] | None = None) -> None:
        """Add a watch, or replace the watch with this id; effective for the next post matched."""
        self.add_many([(watch_id, query, sources)])

    def add_many(self, watches: Iterable[tuple[int, Query, frozenset[str] | None]]) -> None:
        """Add (or replace) several watches with one rebuild."""
        with self._lock:
            state = self._state
            added: dict[int, _Watch] = {}
            for watch_id, query, sources in watches:
                self._forget(watch_id)
                added[watch_id] = self._watches[watch_id] = self._compile(watch_id, query, sources)
            stale = state.stale | (added.keys() & state.base.watches.keys())
            self._publish(state.base, {**state.delta.watches, **added}, stale)

    def remove(self, watch_id: int) -> None:
        """Remove a watch (no error if absent); effective for the next post matched."""
        with self._lock:
            if not self._forget(watch_id):
                return
            state = self._state
            stale = state.stale | {watch_id} if watch_id in state.base.watches else state.stale
            delta = {k: w for k, w in state.delta.watches.items() if k != watch_id}
            self._publish(state.base, delta, stale)

    def compact(self) -> None:
        """Fold the delta into a new base engine (also done automatically when the delta grows)."""
        with self._lock:
            self._rebuild()

    def match(self, post: Post) -> list[Match]:
        """The watches matching a post, by watch id."""
        return self.match_normalised(NormalisedPost.of(post))

    def match_normalised(self, post: NormalisedPost) -> list[Match]:
        """`match` for an already normalised post."""
        state = self._state  # one snapshot for the whole post
        matches = state.base.match(post, state.stale)
        if state.delta.watches:
            matches += state.delta.match(post, _NONE)
        if len(matches) > 1:
            matches.sort()
        return matches

    def _forget(self, watch_id: int) -> bool:
        """Drop a watch from the registry and term usage; False if it was not there."""
        old = self._watches.pop(watch_id, None)
        if old is None:
            return False
        for tid in old.term_ids:
            self._usage[tid] -= 1
        return True

    def _publish(self, base: _Engine, delta: dict[int, _Watch], stale: frozenset[int]) -> None:
        """Swap in a new snapshot, folding everything into a new base when the delta is big."""
        if len(delta) > max(64, min(self._max_delta, len(base) // 8)) or len(stale) > max(64, len(base) // 4):
            self._rebuild()
            return
        delta_engine = _Engine(delta.values(), self._term_ids, self._terms, self._usage) if delta else self._empty
        self._state = _State(base=base, delta=delta_engine, stale=stale)

    def _rebuild(self) -> None:
        """Build a new base engine from all current watches and swap it in; forget terms no watch uses."""
        for tid in [tid for tid, count in self._usage.items() if not count]:
            del self._usage[tid], self._term_ids[self._terms.pop(tid)]
        base = _Engine(self._watches.values(), self._term_ids, self._terms, self._usage)
        self._state = _State(base=base, delta=self._empty)

    def _compile(self, watch_id: int, query: Query, sources: frozenset[str] | None) -> _Watch:
        """Compile a query against the term ids."""
        ids = self._term_ids
        for term in query.terms:
            tid = ids.get(term)
            if tid is None:
                tid = ids[term] = self._next_id
                self._terms[tid] = term
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
            term_ids=tuple(ids[t] for t in query.terms),
        )


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
