"""Text normalisation shared by watch queries and the matcher, so both see words the same way."""

from __future__ import annotations

import contextlib
import itertools
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from handlers.monitor.post import Post

# Word characters: what `\w` matches plus combining marks (Devanagari vowel signs, Arabic harakat, Thai
# vowels…), which Python's `\w` leaves out and which would otherwise split words in two.
_MARK_CATEGORIES = {"Mn", "Mc", "Me"}


def _mark_class() -> str:
    """A regex character-class body listing every combining mark as ranges."""
    ranges: list[str] = []
    start = prev = -2
    # Marks live in planes 0-1 and in the variation selectors supplement.
    for cp in itertools.chain(range(0x20000), range(0xE0100, 0xE01F0)):
        if unicodedata.category(chr(cp)) in _MARK_CATEGORIES:
            if cp != prev + 1:
                if start >= 0:
                    ranges.append(f"\\U{start:08x}-\\U{prev:08x}")
                start = cp
            prev = cp
    ranges.append(f"\\U{start:08x}-\\U{prev:08x}")
    return "".join(ranges)


_WORD = re.compile(f"[\\w{_mark_class()}]+")

# Scripts written without spaces between words: each character is its own token, so terms in them match
# as substrings (CJK ideographs, kana, Hangul, Thai, Lao, Myanmar, Khmer).
_UNSPACED = re.compile(
    "[\u0e00-\u0e7f\u0e80-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f]"
)

# ASCII fast path: one byte table lower-cases letters and turns everything but [a-z0-9_] into a space.
_ASCII_TABLE = bytes(
    ord(ch.lower()) if (ch.isalnum() or ch == "_") else ord(" ") for ch in map(chr, range(128))
) + bytes(range(128, 256))

_HASHTAG = re.compile(r"(?<![\w&])#(\w+)")
_URL_HOST = re.compile(r"(?i)\bhttps?://([^\s/?#<>\"']+)")
_LANG = re.compile(r"^[a-z]{2,3}(?:[-_][a-z0-9]{2,8})*$")


def fold(text: str) -> str:
    """NFKC + casefold (applied so the result is stable under both)."""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def tokens(text: str) -> list[str]:
    """The folded words of `text`; characters of unspaced scripts are one token each."""
    folded = fold(text)
    if not folded.isascii():
        folded = _UNSPACED.sub(r" \g<0> ", folded)
    return _WORD.findall(folded)


def token_text(text: str) -> str:
    """`text` as space-padded folded tokens (" lock bit 3 0 "): a term occurs iff its token text is a substring."""
    if text.isascii():
        return b" ".join(text.encode().translate(_ASCII_TABLE).split()).join((b" ", b" ")).decode()
    return " " + " ".join(tokens(text)) + " "


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


def host_keys(host: str) -> set[str]:
    """A host and all its parent domains, so `domain:example.com` matches `a.example.com`."""
    labels = fold_host(host).split(".")
    return {".".join(labels[i:]) for i in range(len(labels) - 1)} if len(labels) > 1 else set()


def fold_lang(lang: str) -> str:
    """A language tag folded: lower-case, `_` as `-`."""
    return lang.strip().casefold().replace("_", "-")


def valid_lang(lang: str) -> bool:
    """True for a BCP-47-ish tag like `en`, `pt-br`, `zh-hant`."""
    return bool(_LANG.match(lang))


def lang_keys(lang: str | None) -> frozenset[str]:
    """A post's language tag and its primary subtag (`pt-br` → {`pt-br`, `pt`})."""
    if not lang:
        return frozenset()
    folded = fold_lang(lang)
    return frozenset({folded, folded.split("-", 1)[0]})


def handle_keys(handle: str | None) -> frozenset[str]:
    """An author's handle and, for `user@instance` handles, the bare user name."""
    if not handle:
        return frozenset()
    folded = fold_name(handle)
    return frozenset({folded, folded.split("@", 1)[0]})


def text_hashtags(text: str) -> list[str]:
    """Hashtags written in the text (`#LockBit` → `lockbit`)."""
    if "#" not in text:
        return []
    return [fold_name(tag) for tag in _HASHTAG.findall(text)]


def text_hosts(text: str) -> list[str]:
    """Hosts of the http(s) URLs written in the text."""
    if "://" not in text:
        return []
    return _URL_HOST.findall(text)


@dataclass(frozen=True, slots=True)
class NormalisedPost:
    """The parts of a post that queries look at, normalised once per post."""

    text: str  # token text of title + body
    raw: str  # title + body in NFKC form, for regular expressions
    tags: frozenset[str]
    authors: frozenset[str]
    source: str
    langs: frozenset[str]
    domains: frozenset[str]

    @classmethod
    def of(cls, post: Post) -> NormalisedPost:
        """Normalise a post."""
        full = post.full_text
        tags = {fold_name(t) for t in post.hashtags}
        tags.update(text_hashtags(full))
        domains: set[str] = set()
        for url in post.urls:
            domains |= host_keys(_url_host(url))
        for host in text_hosts(full):
            domains |= host_keys(host)
        return cls(
            text=token_text(full),
            raw=full if full.isascii() else unicodedata.normalize("NFKC", full),
            tags=frozenset(tags),
            authors=handle_keys(post.author.handle),
            source=fold_name(post.source),
            langs=lang_keys(post.lang),
            domains=frozenset(domains),
        )


def _url_host(url: str) -> str:
    """The host of a URL, tolerating a missing scheme."""
    try:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        return parts.hostname or ""
    except ValueError:
        return ""
