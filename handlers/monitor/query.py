"""The watch query language: parse a query into an immutable boolean tree and evaluate it on posts.

Syntax: words and "quoted phrases" (implicit AND), `OR`, `-term` / `NOT term`, parentheses, `#hashtag`,
`@account` / `from:account`, `source:name`, `lang:xx`, `domain:example.com`, `cve:CVE-2024-1234` and guarded
regular expressions `/.../` (RE2: linear time, length-capped, case-insensitive).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING

import re2

from handlers.monitor.normalise import (
    NormalisedPost,
    display_tokens,
    fold_host,
    fold_lang,
    fold_name,
    is_word,
    tokens,
    valid_host,
    valid_lang,
)

if TYPE_CHECKING:
    from handlers.monitor.post import Post

MAX_QUERY_LENGTH = 1000
MAX_TERMS = 64
MAX_DEPTH = 24
MAX_REGEX_LENGTH = 200
_REGEX_MEMORY = 1 << 20  # bytes RE2 may use for one compiled expression

EXAMPLE = 'lockbit OR "lock bit" -#test'

_FIELD = re.compile(r"^([A-Za-z]+):(.*)$", re.DOTALL)
_NAME = re.compile(r"^[\w.@-]+$")
_CVE = re.compile(r"^(?:cve-)?(\d{4})-(\d{4,})$", re.IGNORECASE)
_SPECIAL = '()"'


class QueryError(ValueError):
    """A malformed query: what is wrong, where (0-based character index) and a valid example."""

    def __init__(self, message: str, position: int, example: str = EXAMPLE) -> None:
        super().__init__(message, position, example)
        self.message = message
        self.position = position
        self.example = example

    def __str__(self) -> str:
        return f"{self.message} at position {self.position} — e.g. {self.example}"


class TermKind(StrEnum):
    """What an atomic term looks at."""

    TEXT = "text"  # words or a phrase in title + body
    TAG = "tag"  # a hashtag of the post
    AUTHOR = "author"  # the author's handle
    SOURCE = "source"  # the source name
    LANG = "lang"  # the post's language
    DOMAIN = "domain"  # a linked domain or a subdomain of it
    REGEX = "regex"  # an RE2 expression over title + body


@dataclass(frozen=True, slots=True)
class Term:
    """An atomic term; `value` is normalised (text terms: folded tokens joined by single spaces)."""

    kind: TermKind
    value: str

    def __str__(self) -> str:
        match self.kind:
            case TermKind.TEXT:
                return display_tokens(self.value)
            case TermKind.TAG:
                return f"#{self.value}"
            case TermKind.AUTHOR:
                return f"@{self.value}"
            case TermKind.REGEX:
                return f"/{self.value}/"
            case _:
                return f"{self.kind.value}:{self.value}"

    @property
    def needle(self) -> str:
        """For text terms: the padded token text searched in `NormalisedPost.text`."""
        return f" {self.value} "

    def holds(self, post: NormalisedPost) -> bool:
        """Whether this term occurs in the post."""
        match self.kind:
            case TermKind.TEXT:
                return self.needle in post.text
            case TermKind.TAG:
                return self.value in post.tags
            case TermKind.AUTHOR:
                return self.value in post.authors
            case TermKind.SOURCE:
                return self.value == post.source
            case TermKind.LANG:
                return self.value in post.langs
            case TermKind.DOMAIN:
                return self.value in post.domains
            case TermKind.REGEX:
                return compiled_regex(self.value).search(post.regex_text) is not None


@dataclass(frozen=True, slots=True)
class Not:
    """True when the child is false."""

    child: Node

    def holds(self, truth: Callable[[Term], bool]) -> bool:
        return not self.child.holds(truth)


@dataclass(frozen=True, slots=True)
class All:
    """True when every child is true (AND)."""

    children: tuple[Node, ...]

    def holds(self, truth: Callable[[Term], bool]) -> bool:
        return all(child.holds(truth) for child in self.children)


@dataclass(frozen=True, slots=True)
class Any:
    """True when at least one child is true (OR)."""

    children: tuple[Node, ...]

    def holds(self, truth: Callable[[Term], bool]) -> bool:
        return any(child.holds(truth) for child in self.children)


@dataclass(frozen=True, slots=True)
class Leaf:
    """A term as a node of the tree."""

    term: Term

    def holds(self, truth: Callable[[Term], bool]) -> bool:
        return truth(self.term)


Node = Not | All | Any | Leaf


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed watch query: the source text, the boolean tree and its distinct atomic terms."""

    text: str
    root: Node
    terms: tuple[Term, ...]  # every distinct atomic term, in order of appearance
    positive: tuple[Term, ...]  # the terms whose presence counts for a match (not under a negation)

    def evaluate(self, post: Post | NormalisedPost) -> bool:
        """Whether the query matches the post (the reference, term-by-term evaluation)."""
        normalised = post if isinstance(post, NormalisedPost) else NormalisedPost.of(post)
        return self.root.holds(lambda term: term.holds(normalised))

    def matched_terms(self, post: Post | NormalisedPost) -> tuple[str, ...]:
        """The positive terms found in the post (for highlighting); empty when the query does not match."""
        normalised = post if isinstance(post, NormalisedPost) else NormalisedPost.of(post)
        if not self.evaluate(normalised):
            return ()
        return tuple(str(term) for term in self.positive if term.holds(normalised))

    def __str__(self) -> str:
        return _render(self.root)


def parse_query(text: str) -> Query:
    """Parse a watch query; raises `QueryError` pointing at the first problem."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"the query is longer than {MAX_QUERY_LENGTH} characters", MAX_QUERY_LENGTH)
    parser = _Parser(list(_lex(text)), len(text))
    root = parser.parse()
    terms = tuple(dict.fromkeys(_terms(root)))
    if len(terms) > MAX_TERMS:
        raise QueryError(f"the query has more than {MAX_TERMS} terms; split it into several watches", 0)
    if root.holds(lambda _term: False):
        raise QueryError(
            "the query needs at least one term that must appear (as written it matches posts without any)",
            0,
            "lockbit -test",
        )
    positive = tuple(dict.fromkeys(_positive_terms(root, negated=False)))
    return Query(text=text, root=root, terms=terms, positive=positive)


@lru_cache(maxsize=4096)
def compiled_regex(pattern: str) -> re2._Regexp:
    """The RE2 program for a (validated) regex term, case-insensitive."""
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    options.max_mem = _REGEX_MEMORY
    return re2.compile(pattern, options)


# ---- lexing ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    """A lexical token: kind is one of ( ) OR AND NOT - TERM END."""

    kind: str
    position: int
    term: Term | None = None


def _lex(text: str) -> Iterator[_Token]:
    """Split a query into tokens."""
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            yield _Token(ch, i)
            i += 1
        elif ch == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise QueryError("unclosed quote", i, '"lock bit"')
            yield _Token("TERM", i, _text_term(text[i + 1 : end], i))
            i = end + 1
        elif ch == "/":
            end = _regex_end(text, i)
            yield _Token("TERM", i, _regex_term(text[i + 1 : end], i))
            i = end + 1
        elif ch == "-":
            if i + 1 >= n or text[i + 1].isspace() or text[i + 1] == ")":
                raise QueryError("'-' must be followed directly by a term", i, "lockbit -test")
            yield _Token("-", i)
            i += 1
        else:
            end = i
            while end < n and not text[end].isspace() and text[end] not in _SPECIAL:
                end += 1
            word = text[i:end]
            yield _word_token(word, i) if word not in ("OR", "AND", "NOT") else _Token(word, i)
            i = end
    yield _Token("END", n)


def _regex_end(text: str, start: int) -> int:
    """Index of the `/` closing the regex opened at `start`."""
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "/":
            return i
        i += 1
    raise QueryError("unclosed regular expression (missing the closing '/')", start, r"/lock\s?bit/")


def _word_token(word: str, position: int) -> _Token:
    """A bare word: a field (`#tag`, `@acct`, `name:value`) or a text term."""
    if word[0] == "#":
        tag = fold_name(word[1:])
        if not is_word(tag):
            raise QueryError(f"'{word[1:]}' is not a valid tag name", position, "#ransomware")
        return _Token("TERM", position, Term(TermKind.TAG, tag))
    if word[0] == "@":
        return _Token("TERM", position, _name_term(TermKind.AUTHOR, word[1:], position, _NAME, "@alice"))
    field = _FIELD.match(word)
    if field:
        return _Token("TERM", position, _field_term(field.group(1).lower(), field.group(2), position))
    return _Token("TERM", position, _text_term(word, position))


def _text_term(raw: str, position: int) -> Term:
    """A word or phrase as a text term."""
    words = tokens(raw)
    if not words:
        what = "empty quotes" if not raw.strip() else f"'{raw}' has no letters or digits to match"
        raise QueryError(what, position)
    return Term(TermKind.TEXT, " ".join(words))


def _name_term(kind: TermKind, raw: str, position: int, shape: re.Pattern[str], example: str) -> Term:
    """A hashtag, account or source name."""
    value = fold_name(raw)
    if not value or not shape.match(value):
        raise QueryError(f"'{raw}' is not a valid {kind.value} name", position, example)
    return Term(kind, value)


def _field_term(field: str, raw: str, position: int) -> Term:
    """A `name:value` term."""
    if not raw:
        raise QueryError(f"'{field}:' needs a value", position, f"{field}:{_FIELD_EXAMPLES.get(field, 'x')}")
    match field:
        case "from":
            return _name_term(TermKind.AUTHOR, raw, position, _NAME, "from:alice")
        case "source":
            return _name_term(TermKind.SOURCE, raw, position, _NAME, "source:hackernews")
        case "lang":
            value = fold_lang(raw)
            if not valid_lang(value):
                raise QueryError(f"'{raw}' is not a language code", position, "lang:en")
            return Term(TermKind.LANG, value)
        case "domain":
            value = fold_host(raw)
            if not valid_host(value):
                raise QueryError(f"'{raw}' is not a domain name", position, "domain:example.com")
            return Term(TermKind.DOMAIN, value)
        case "cve":
            cve = _CVE.match(raw)
            if not cve:
                raise QueryError(f"'{raw}' is not a CVE id", position, "cve:CVE-2024-3400")
            return Term(TermKind.TEXT, f"cve {cve.group(1)} {cve.group(2)}")
    raise QueryError(
        f"unknown field '{field}:' (fields: from: source: lang: domain: cve:; put text in quotes)",
        position,
        f'"{field}:{raw}"',
    )


_FIELD_EXAMPLES = {
    "from": "alice",
    "source": "hackernews",
    "lang": "en",
    "domain": "example.com",
    "cve": "CVE-2024-3400",
}


def _regex_term(pattern: str, position: int) -> Term:
    """A guarded regular expression term."""
    example = r"/lock\s?bit/"
    if not pattern:
        raise QueryError("empty regular expression", position, example)
    if len(pattern) > MAX_REGEX_LENGTH:
        raise QueryError(f"regular expression longer than {MAX_REGEX_LENGTH} characters", position, example)
    try:
        program = compiled_regex(pattern)
    except UnicodeError:
        raise QueryError("the regular expression is not valid text", position, example) from None
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else exc
        raise QueryError(f"invalid regular expression ({reason})", position, example) from None
    if program.search("") is not None:
        raise QueryError("the regular expression matches empty text, so it would match every post", position,
                         example)
    return Term(TermKind.REGEX, pattern)


# ---- parsing ---------------------------------------------------------------------------------------


class _Parser:
    """Recursive-descent parser: or := and (OR and)*; and := unary+; unary := (-|NOT) unary | primary."""

    def __init__(self, tokens: list[_Token], length: int) -> None:
        self._tokens = tokens
        self._index = 0
        self._depth = 0
        self._length = length

    def parse(self) -> Node:
        node = self._or()
        token = self._peek()
        if token.kind == ")":
            raise QueryError("unexpected ')'", token.position)
        return node

    def _peek(self) -> _Token:
        return self._tokens[self._index]

    def _take(self) -> _Token:
        token = self._tokens[self._index]
        self._index += 1
        return token

    def _or(self) -> Node:
        children = [self._and()]
        while self._peek().kind == "OR":
            token = self._take()
            if self._peek().kind in ("END", ")", "OR", "AND"):
                raise QueryError("OR needs a term after it", token.position)
            children.append(self._and())
        return children[0] if len(children) == 1 else Any(tuple(children))

    def _and(self) -> Node:
        children: list[Node] = []
        while True:
            token = self._peek()
            if token.kind in ("END", ")", "OR"):
                break
            if token.kind == "AND":
                self._take()
                if not children or self._peek().kind in ("END", ")", "OR", "AND"):
                    raise QueryError("AND needs a term on both sides", token.position)
                continue
            children.append(self._unary())
        if not children:
            raise self._missing_term()
        return children[0] if len(children) == 1 else All(tuple(children))

    def _missing_term(self) -> QueryError:
        token = self._peek()
        if token.kind == "OR":
            return QueryError("OR needs a term before it", token.position)
        if token.kind == ")":
            before = self._tokens[self._index - 1] if self._index else None
            if before is not None and before.kind == "(":
                return QueryError("empty parentheses", before.position)
            return QueryError("unexpected ')'", token.position)
        return QueryError("empty query", token.position)

    def _unary(self) -> Node:
        token = self._peek()
        if token.kind in ("-", "NOT"):
            self._take()
            if self._peek().kind in ("END", ")", "OR", "AND"):
                raise QueryError(f"'{token.kind}' must be followed by a term", token.position, "lockbit -test")
            return Not(self._unary())
        return self._primary()

    def _primary(self) -> Node:
        token = self._take()
        if token.kind == "TERM" and token.term is not None:
            return Leaf(token.term)
        if token.kind == "(":
            self._depth += 1
            if self._depth > MAX_DEPTH:
                raise QueryError(f"parentheses nested deeper than {MAX_DEPTH}", token.position)
            if self._peek().kind == ")":
                raise QueryError("empty parentheses", token.position)
            node = self._or()
            if self._peek().kind != ")":
                raise QueryError("unclosed '('", token.position)
            self._take()
            self._depth -= 1
            return node
        raise QueryError(f"unexpected '{token.kind}'", token.position)


# ---- tree helpers ----------------------------------------------------------------------------------


def _terms(node: Node) -> Iterator[Term]:
    """Every term of the tree, in order of appearance."""
    match node:
        case Leaf(term):
            yield term
        case Not(child):
            yield from _terms(child)
        case All(children) | Any(children):
            for child in children:
                yield from _terms(child)


def _positive_terms(node: Node, negated: bool) -> Iterator[Term]:
    """The terms under an even number of negations."""
    match node:
        case Leaf(term):
            if not negated:
                yield term
        case Not(child):
            yield from _positive_terms(child, not negated)
        case All(children) | Any(children):
            for child in children:
                yield from _positive_terms(child, negated)


def _render(node: Node) -> str:
    """The canonical text of a tree (phrases quoted, operators explicit where needed)."""
    match node:
        case Leaf(term):
            text = str(term)
            return f'"{text}"' if term.kind == TermKind.TEXT and " " in text else text
        case Not(child):
            return f"-{_render(child)}" if isinstance(child, Leaf) else f"-({_render(child)})"
        case All(children):
            return " ".join(f"({_render(c)})" if isinstance(c, Any) else _render(c) for c in children)
        case Any(children):
            return " OR ".join(_render(c) for c in children)
    raise TypeError(node)
