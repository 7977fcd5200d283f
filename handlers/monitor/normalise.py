"""Text normalisation shared by watch queries and the matcher, so both see words the same way."""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from handlers.monitor.scan import (
    TABLE_END,
    TRANSLATE,
    UNSPACED_CLASS,
    fold,
    padded_tokens,
    scan,
    symbol_spans,
    word_prefix,
)

if TYPE_CHECKING:
    from handlers.monitor.post import Post

__all__ = [
    "NormalisedPost", "display_tokens", "fold", "fold_host", "fold_lang", "fold_name", "fold_source", "handle_keys",
    "host_keys", "is_word", "lang_keys", "token_spans", "token_text", "tokens", "valid_host", "valid_lang",
    "word_prefix",
]

_UNSPACED_GAP = re.compile(f"(?<={UNSPACED_CLASS}) (?={UNSPACED_CLASS})")

_HOST = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:)?//([^/?#\s]+)")
_LANG = re.compile(r"^[a-z]{2,3}(?:[-_][a-z0-9]{2,8})*$")


def tokens(text: str) -> list[str]:
    """The folded words of `text`; characters of unspaced scripts are one token each."""
    folded = fold(text)
    return padded_tokens(folded).split() if symbol_spans(folded) else folded.translate(TRANSLATE).split()


def is_word(text: str) -> bool:
    """True when `text` is non-empty and made only of word characters (any script)."""
    return bool(text) and word_prefix(text) == text


def token_spans(folded: str) -> Iterator[tuple[str, int, int]]:
    """The tokens of already folded text with their (start, end), split exactly as `tokens` splits."""
    joined = symbol_spans(folded)
    start = -1
    skip_to = 0
    for i, ch in enumerate(folded):
        if i < skip_to:
            continue
        end = joined.get(i)
        if end is not None:  # a symbol joining a token: `.` starts one, `#` or `++` ends one
            skip_to = end
            if ch == ".":
                start = i
                continue
            yield folded[start:end], start, end
            start = -1
            continue
        kind = TRANSLATE[ord(ch)] if ord(ch) < TABLE_END else 0
        if isinstance(kind, int):  # a word character
            if start < 0:
                start = i
            continue
        if start >= 0:
            yield folded[start:i], start, i
            start = -1
        if kind != " ":  # a character of an unspaced script
            yield ch, i, i + 1
    if start >= 0:
        yield folded[start:], start, len(folded)


def token_text(text: str) -> str:
    """`text` as space-padded folded tokens (" lock bit 3 0 "): a term occurs iff its token text is a substring."""
    return scan(text)[0]


def display_tokens(value: str) -> str:
    """Token text for people: no spaces between characters of unspaced scripts ("勒 索" → "勒索")."""
    return value if value.isascii() else _UNSPACED_GAP.sub("", value)


def fold_name(name: str) -> str:
    """A handle, hashtag or source name folded for exact comparison (leading @/# dropped)."""
    return fold(name.strip()).lstrip("@#")


def fold_host(host: str) -> str:
    """A host name folded for comparison: lower-case ASCII (IDNA), no port, no trailing dot, no `www.`."""
    host = host.strip().rsplit("@", 1)[-1].split(":", 1)[0].rstrip(".")
    host = fold(host)
    if not host.isascii():
        with contextlib.suppress(UnicodeError):
            host = host.encode("idna").decode("ascii")
    return host.removeprefix("www.")


def valid_host(host: str) -> bool:
    """True when `host` (folded) looks like a DNS name with at least two labels."""
    labels = host.split(".")
    return len(labels) >= 2 and all(
        label and len(label) <= 63 and all(c.isalnum() or c == "-" for c in label) for label in labels
    )


@lru_cache(maxsize=8192)
def host_keys(host: str) -> frozenset[str]:
    """A host and all its parent domains, so `domain:example.com` matches `a.example.com`."""
    labels = fold_host(host).split(".")
    return frozenset(".".join(labels[i:]) for i in range(len(labels) - 1))


def fold_lang(lang: str) -> str:
    """A language tag folded: lower-case, `_` as `-`."""
    return lang.strip().casefold().replace("_", "-")


def valid_lang(lang: str) -> bool:
    """True for a BCP-47-ish tag like `en`, `pt-br`, `zh-hant`."""
    return bool(_LANG.match(lang))


@lru_cache(maxsize=1024)
def fold_source(source: str) -> str:
    """A source name folded (cached: there are few)."""
    return fold_name(source)


@lru_cache(maxsize=1024)
def lang_keys(lang: str | None) -> frozenset[str]:
    """A post's language tag and its primary subtag (`pt-br` → {`pt-br`, `pt`})."""
    if not lang:
        return frozenset()
    folded = fold_lang(lang)
    return frozenset({folded, folded.split("-", 1)[0]})


def handle_keys(handle: str | None) -> tuple[str, ...]:
    """An author's handle and, for `user@instance` handles, the bare user name."""
    if not handle:
        return ()
    folded = handle.strip().lower().lstrip("@#") if handle.isascii() else fold_name(handle)
    return (folded, folded.partition("@")[0]) if "@" in folded else (folded,)


class NormalisedPost(NamedTuple):
    """The parts of a post that queries look at, normalised once per post (a tuple: cheap to build)."""

    text: str  # token text of title + body
    raw: str  # title + body as given; `regex_text` is what regular expressions see
    tags: AbstractSet[str]
    authors: tuple[str, ...]
    source: str
    langs: frozenset[str]
    domains: AbstractSet[str]
    hashes: bytes  # a 64-bit hash per token of `text` (empty without the C scan), for the token filter

    @classmethod
    def of(cls, post: Post) -> NormalisedPost:
        """Normalise a post."""
        return cls.of_fields(post.text, title=post.title, source=post.source, handle=post.author.handle,
                             lang=post.lang, hashtags=post.hashtags, urls=post.urls)

    @classmethod
    def of_fields(
        cls, text: str, *, title: str | None = None, source: str, handle: str | None = None, lang: str | None = None,
        hashtags: list[str] | tuple[str, ...] = (), urls: list[str] | tuple[str, ...] = (),
    ) -> NormalisedPost:
        """Normalise the parts of a post that queries look at (hashtags and URL hosts in the text are found
        here; `hashtags` and `urls` are those a source gave besides)."""
        full = f"{title}\n{text}" if title else text
        text, found_tags, found_hosts, hashes = scan(full)
        if hashtags:
            tags = {fold_name(t) for t in hashtags}
            tags.update(found_tags)
        else:
            tags = frozenset(found_tags) if found_tags else _NONE
        domains = _domains(urls, found_hosts) if urls or found_hosts else _NONE
        fields = (text, full, tags, handle_keys(handle), fold_source(source), lang_keys(lang), domains, hashes)
        return tuple.__new__(cls, fields)

    @property
    def regex_text(self) -> str:
        """Title + body in NFKC form, for regular expressions."""
        return self.raw if self.raw.isascii() else unicodedata.normalize("NFKC", self.raw)


_NONE: frozenset[str] = frozenset()


def _domains(urls: list[str] | tuple[str, ...], hosts: tuple[str, ...]) -> AbstractSet[str]:
    """The hosts of the post's URLs and of the URLs in its text, with their parent domains."""
    domains: set[str] = set()
    for host in {*hosts, *map(_url_host, urls)}:
        domains |= host_keys(host)
    return domains


def _url_host(url: str) -> str:
    """The host of a URL (with or without a scheme)."""
    found = _HOST.match(url if "//" in url else f"//{url}")
    return found.group(1) if found else ""
