"""Text normalisation shared by watch queries and the matcher, so both see words the same way."""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from handlers.monitor.post import Post

# Scripts written without spaces between words: each character is its own token, so terms in them match
# as substrings (CJK ideographs, kana, Hangul, Thai, Lao, Myanmar, Khmer).
_UNSPACED_CLASS = (
    "[\u0e00-\u0e7f\u0e80-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f]"
)
_UNSPACED = re.compile(_UNSPACED_CLASS)
_UNSPACED_GAP = re.compile(f"(?<={_UNSPACED_CLASS}) (?={_UNSPACED_CLASS})")
_MARKS = {"Mn", "Mc", "Me"}
_TABLE_END = 0x20000  # planes 0-1 (emoji included); rarer characters beyond count as word characters


def _char_table() -> list[int | str]:
    """`str.translate` table: a word character (letter, digit, `_`, combining mark) maps to itself, a
    separator to a space, a character of an unspaced script to itself between spaces."""
    table: list[int | str] = []
    for cp in range(_TABLE_END):
        ch = chr(cp)
        if _UNSPACED.match(ch):
            table.append(f" {ch} ")
        elif ch.isalnum() or ch == "_" or unicodedata.category(ch) in _MARKS:
            table.append(cp)
        else:
            table.append(" ")
    return table


_TABLE = _char_table()


def _is_separator(ch: str) -> bool:
    cp = ord(ch)
    return cp < _TABLE_END and _TABLE[cp] == " "


# ASCII fast path: one byte table lower-cases letters and turns everything but [a-z0-9_] into a space.
_ASCII_TABLE = bytes(ord(ch.lower()) if _TABLE[ord(ch)] != " " else ord(" ") for ch in map(chr, range(128))) + bytes(
    range(128, 256)
)

_HASHTAG = re.compile(r"#([^\s#]+)")  # the character before the `#` is checked separately (faster)
_URL_HOST = re.compile(r"://([\w.:@\[\]%-]+)")  # preceded by http or https, checked separately
_HOST = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//([^/?#\s]+)", re.IGNORECASE)
_LANG = re.compile(r"^[a-z]{2,3}(?:[-_][a-z0-9]{2,8})*$")


def fold(text: str) -> str:
    """NFKC + casefold (applied so the result is stable under both)."""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def tokens(text: str) -> list[str]:
    """The folded words of `text`; characters of unspaced scripts are one token each."""
    return fold(text).translate(_TABLE).split()


def word_prefix(text: str) -> str:
    """The leading run of word characters of `text` (any script)."""
    if text.isalnum():
        return text
    for i, ch in enumerate(text):
        if _is_separator(ch):
            return text[:i]
    return text


def is_word(text: str) -> bool:
    """True when `text` is non-empty and made only of word characters (any script)."""
    return bool(text) and word_prefix(text) == text


def token_spans(folded: str) -> Iterator[tuple[str, int, int]]:
    """The tokens of already folded text with their (start, end), split exactly as `tokens` splits."""
    start = -1
    for i, ch in enumerate(folded):
        kind = _TABLE[ord(ch)] if ord(ch) < _TABLE_END else 0
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
    if text.isascii():
        return b" ".join(text.encode().translate(_ASCII_TABLE).split()).join((b" ", b" ")).decode()
    return " " + " ".join(fold(text).translate(_TABLE).split()) + " "


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


@lru_cache(maxsize=8192)
def handle_keys(handle: str | None) -> tuple[str, ...]:
    """An author's handle and, for `user@instance` handles, the bare user name."""
    if not handle:
        return ()
    folded = fold_name(handle)
    return (folded, folded.split("@", 1)[0]) if "@" in folded else (folded,)


def text_hashtags(text: str) -> list[str]:
    """Hashtags written in the text (`#LockBit` → `lockbit`)."""
    if "#" not in text:
        return []
    tags = []
    for found in _HASHTAG.finditer(text):
        start = found.start()
        if start and (text[start - 1] == "&" or not _is_separator(text[start - 1])):
            continue  # inside a word or an HTML entity (`&#39;`), not a hashtag
        tag = word_prefix(fold(found.group(1)))
        if tag:
            tags.append(tag)
    return tags


def text_hosts(text: str) -> list[str]:
    """Hosts of the http(s) URLs written in the text."""
    if "://" not in text:
        return []
    hosts = []
    for found in _URL_HOST.finditer(text):
        start = found.start()
        for scheme in ("https", "http"):
            begin = start - len(scheme)
            if begin >= 0 and text[begin:start].lower() == scheme:
                if begin == 0 or _is_separator(text[begin - 1]):
                    hosts.append(found.group(1))
                break
    return hosts


class NormalisedPost(NamedTuple):
    """The parts of a post that queries look at, normalised once per post (a tuple: cheap to build)."""

    text: str  # token text of title + body
    raw: str  # title + body as given; `regex_text` is what regular expressions see
    tags: set[str]
    authors: tuple[str, ...]
    source: str
    langs: frozenset[str]
    domains: set[str]

    @classmethod
    def of(cls, post: Post) -> NormalisedPost:
        """Normalise a post."""
        full = f"{post.title}\n{post.text}" if post.title else post.text
        tags = {fold_name(t) for t in post.hashtags} if post.hashtags else set()
        if "#" in full:
            tags.update(text_hashtags(full))
        domains: set[str] = set()
        if post.urls or "://" in full:
            hosts = {_url_host(url) for url in post.urls}
            hosts.update(text_hosts(full))
            for host in hosts:
                domains |= host_keys(host)
        fields = (token_text(full), full, tags, handle_keys(post.author.handle), fold_source(post.source),
                  lang_keys(post.lang), domains)
        return tuple.__new__(cls, fields)

    @property
    def regex_text(self) -> str:
        """Title + body in NFKC form, for regular expressions."""
        return self.raw if self.raw.isascii() else unicodedata.normalize("NFKC", self.raw)


def _url_host(url: str) -> str:
    """The host of a URL (with or without a scheme)."""
    found = _HOST.match(url if "//" in url else f"//{url}")
    return found.group(1) if found else ""
