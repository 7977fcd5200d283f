"""One pass over a post's text: its folded token text, hashtags, URL hosts and token hashes.

Words are runs of letters, digits, `_` and combining marks in any script; each character of a script written
without spaces (CJK, kana, Hangul, Thai, Lao, Myanmar, Khmer) is a word of its own. Text is folded first
(NFKC + casefold), so `ＬｏｃｋＢｉｔ`, `LOCKBIT` and `lockbit` are one word. Terms written with symbols keep
them: a `#` or `++` right after a word that no word character follows joins it (`C#`, `F#`, `C++`), and a `.`
starting a word that does not start with a digit joins it (`.NET`, `.onion`; not `3.0` or ` .5`).
A hashtag is a `#` after a separator other than `&` and `/`, outside URLs (`https://x.example/page#section`
has no hashtag).

The pass runs in C (`_scan.c`) when that was compiled at install, and in Python otherwise, with the same
results, except that only C gives the token hashes the matcher's token filter needs. In C, characters
whose folding does not depend on their neighbours (nearly all text) are folded by a table built here from
`unicodedata`; text with any other character is folded by `unicodedata`, then scanned.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import tempfile
import unicodedata
from array import array
from collections.abc import Callable
from pathlib import Path

try:
    from handlers.monitor import _scan
except ImportError:  # not compiled (no C compiler at install): the Python scan below gives the same result
    _scan = None

__all__ = [
    "NATIVE", "Scan", "fold", "is_separator", "padded_tokens", "scan", "scan_folded", "scan_python", "symbol_spans",
    "word_prefix",
]

NATIVE = _scan is not None

# Scripts written without spaces between words: each character is its own token, so terms in them match
# as substrings (CJK ideographs, kana, Hangul, Thai, Lao, Myanmar, Khmer).
UNSPACED_CLASS = (
    "[\u0e00-\u0e7f\u0e80-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f]"
)
_UNSPACED = re.compile(UNSPACED_CLASS)
_MARKS = {"Mn", "Mc", "Me"}
TABLE_END = 0x20000  # planes 0-1 (emoji included); rarer characters beyond count as word characters

# (token text, hashtags, URL hosts as written, token hashes): see `scan`.
Scan = tuple[str, tuple[str, ...], tuple[str, ...], bytes]


def _char_table(classes: list[int] | None = None) -> list[int | str]:
    """`str.translate` table: a word character (letter, digit, `_`, combining mark) maps to itself, a
    separator to a space, a character of an unspaced script to itself between spaces. From the classes in a
    cached C table when there is one (quick), else from `unicodedata` (a few tenths of a second)."""
    if classes is not None:
        return [cp if c == 1 else " " if c == 0 else f" {chr(cp)} " for cp, c in enumerate(classes)]
    table: list[int | str] = []
    for cp in range(TABLE_END):
        ch = chr(cp)
        if _UNSPACED.match(ch):
            table.append(f" {ch} ")
        elif ch.isalnum() or ch == "_" or unicodedata.category(ch) in _MARKS:
            table.append(cp)
        else:
            table.append(" ")
    return table


TRANSLATE: list[int | str] = []  # filled below, once the cached C table is read (if there is one)


def is_separator(ch: str) -> bool:
    """True for a character that separates words (and is no word itself)."""
    cp = ord(ch)
    return cp < TABLE_END and TRANSLATE[cp] == " "


def fold(text: str) -> str:
    """NFKC + casefold (applied so the result is stable under both)."""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def word_prefix(text: str) -> str:
    """The leading run of word characters of `text` (any script)."""
    if text.isalnum():
        return text
    for i, ch in enumerate(text):
        if is_separator(ch):
            return text[:i]
    return text


def scan_python(folded: str) -> Scan:
    """`scan` of folded text (or ASCII text as given) in Python, without token hashes: the reference for
    the C version, and the fallback when that is not compiled."""
    lowered = folded.lower() if folded.isascii() else folded
    return padded_tokens(lowered), _hashtags(lowered), _url_hosts(folded), b""


def padded_tokens(folded: str) -> str:
    """The tokens of folded text as " tok tok " (two spaces when there is none)."""
    joined = symbol_spans(folded)
    if not joined:
        return " " + " ".join(folded.translate(TRANSLATE).split()) + " "
    pieces = []
    last = 0
    for start, end in joined.items():
        pieces.append(folded[last:start].translate(TRANSLATE))
        pieces.append(folded[start:end])
        if folded[start] != ".":  # a suffix ends its token
            pieces.append(" ")
        last = end
    pieces.append(folded[last:].translate(TRANSLATE))
    return " " + " ".join("".join(pieces).split()) + " "


_SYMBOLS = re.compile(r"[.#]|\+\+")


def _is_word_char(ch: str) -> bool:
    cp = ord(ch)
    return cp >= TABLE_END or TRANSLATE[cp] == cp


def symbol_spans(text: str) -> dict[int, int]:
    """start → end of the symbols that join a token (`#` and `++` after a word, `.` before one), in order."""
    if "." not in text and "#" not in text and "++" not in text:
        return {}
    spans = {}
    for found in _SYMBOLS.finditer(text):
        at, end = found.span()
        if text[at] == ".":
            after = text[at + 1 : at + 2]
            if (after and _is_word_char(after) and after not in "0123456789"
                    and (at == 0 or (text[at - 1] != "." and is_separator(text[at - 1])))):
                spans[at] = end
        elif at > 0 and _is_word_char(text[at - 1]) and (end == len(text) or not _is_word_char(text[end])):
            spans[at] = end
    return spans


_URL_RUN = re.compile(r"://\S*")


def _hashtags(text: str) -> tuple[str, ...]:
    """The words right after a `#` that follows no word character, no `&` (`&#39;` is no hashtag) and no `/`,
    outside URLs (a URL's `#fragment` is no hashtag)."""
    tags = []
    urls = [m.span() for m in _URL_RUN.finditer(text)] if "://" in text else []
    at = text.find("#")
    while at >= 0:
        if (at == 0 or (text[at - 1] not in "&/" and is_separator(text[at - 1]))) and not any(
            start < at < end for start, end in urls
        ):
            tag = word_prefix(text[at + 1 :])
            if tag:
                tags.append(tag)
        at = text.find("#", at + 1)
    return tuple(tags)


def _url_hosts(text: str) -> tuple[str, ...]:
    """The hosts of the http(s) URLs in the text, as written; a `://` inside a host found starts no URL."""
    hosts = []
    host_end = 0
    at = text.find("://")
    while at >= 0:
        if at >= host_end:
            host_end = _url_host_end(text, at)
            if host_end > at:
                hosts.append(text[at + 3 : host_end])
        at = text.find("://", at + 1)
    return tuple(hosts)


def _url_host_end(text: str, at: int) -> int:
    """The end of the host of the URL whose `://` is at `at`, or `at` when it is no http(s) URL with a host."""
    for scheme in ("https", "http"):
        begin = at - len(scheme)
        before = text[max(begin, 0) : at]
        if begin >= 0 and before.isascii() and before.lower() == scheme:
            break
    else:
        return at
    if begin > 0 and not is_separator(text[begin - 1]):
        return at
    end = at + 3
    while end < len(text) and (not is_separator(text[end]) or text[end] in ".:@[]%-"):
        end += 1
    return at if end == at + 3 else end


# The C scan's table: one 32-bit entry per code point (see _scan.c), then the folds longer than one character.
_VALUE_BITS = 24
_MULTI = 1 << 26
_UNSAFE = 1 << 27
_HANGUL_JAMO_VT = {*range(0x1161, 0x1176), *range(0x11A8, 0x11C3)}  # compose with a syllable before them


def _class(cp: int) -> int:
    """The character class in the C table: 0 separator, 1 word, 2 unspaced script."""
    entry = TRANSLATE[cp]
    return 0 if entry == " " else 1 if entry == cp else 2


def _composing_seconds() -> frozenset[int]:
    """Characters that can compose with the character before them under NFC/NFKC."""
    seconds = set(_HANGUL_JAMO_VT)
    for cp in range(0x30000):
        parts = unicodedata.decomposition(chr(cp)).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            seconds.add(int(parts[1], 16))
    return frozenset(seconds)


def _each(transform: Callable[[str], str], chars: list[str]) -> list[str]:
    """`transform` applied to each character, in one call: NFKC and casefold never act across a NUL."""
    return transform("\0".join(chars)).split("\0")


def _fold_table() -> bytes:
    """The C scan's table. A character is folded by table only when it and its fold are stable (NFKC-normal
    whatever stands beside them: not combining, not composing with the character before, unchanged by NFKC)
    and of one class: then folding text made of such characters is folding each on its own."""
    seconds = _composing_seconds()
    chars = ["x" if cp == 0 or 0xD800 <= cp <= 0xDFFF else chr(cp) for cp in range(TABLE_END)]
    nfkc = _each(lambda text: unicodedata.normalize("NFKC", text), chars)
    first = [d[0] for d in _each(lambda text: unicodedata.normalize("NFD", text), chars)]
    stable = [
        cp != 0 and not 0xD800 <= cp <= 0xDFFF and nfkc[cp] == ch and not unicodedata.combining(ch)
        and cp not in seconds and ord(first[cp]) not in seconds
        for cp, ch in enumerate(chars)
    ]
    entries = array("I", bytes(4 * TABLE_END))
    longer = array("I")
    for cp, folded in enumerate(_each(fold, chars)):
        cls = _class(cp)
        entry = cls << _VALUE_BITS
        if not (stable[cp] and 1 <= len(folded) <= 3 and all(_stable_as(f, cls, stable) for f in folded)):
            entries[cp] = entry | _UNSAFE | cp
        elif len(folded) == 1:
            entries[cp] = entry | ord(folded)
        else:
            entries[cp] = entry | _MULTI | (TABLE_END + len(longer))
            longer.extend([*map(ord, folded), 0, 0, 0][:3])
    return entries.tobytes() + longer.tobytes()


def _stable_as(ch: str, cls: int, stable: list[bool]) -> bool:
    """True when a character of a fold is stable and of class `cls` (the folded character's)."""
    cp = ord(ch)
    if cp >= TABLE_END:
        return False
    return stable[cp] and _class(cp) == cls


_table: bytes | None = None  # built on first use: it takes half a second, so it is cached on disk too


def _loaded_table() -> bytes:
    """The C scan's table: from the cache when one was written for this code and Unicode version, else built
    (and cached for the next process, when the cache folder is writable)."""
    global _table
    if _table is None:
        path = _cache_path()
        _table = _read_cached(path)
        if _table is None:
            _table = _fold_table()
            _write_cached(path, _table)
    return _table


def _cache_path() -> Path:
    """Where the table is cached: named for this module's code, the Unicode data and the Python version."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "socmint"
    key = hashlib.sha256(f"{unicodedata.unidata_version}|{sys.version}|".encode() + Path(__file__).read_bytes())
    return root / f"fold-table-{key.hexdigest()[:20]}.bin"


def _read_cached(path: Path) -> bytes | None:
    """The cached table when it is there and intact (its first 32 bytes are the SHA-256 of the rest)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    table = data[32:]
    return table if hashlib.sha256(table).digest() == data[:32] else None


def _write_cached(path: Path, table: bytes) -> None:
    """Cache the table (written whole, then renamed: a concurrent reader never sees half of it)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as out:
            out.write(hashlib.sha256(table).digest() + table)
        os.replace(out.name, path)
    except OSError:
        return


_table = _read_cached(_cache_path())
TRANSLATE[:] = _char_table(None if _table is None else [e >> 24 & 3 for e in array("I", _table[: 4 * TABLE_END])])

if _scan is not None:
    if _scan.TABLE_END != TABLE_END:
        raise ImportError(f"_scan was built for a table of {_scan.TABLE_END:#x} entries, not {TABLE_END:#x}")
    _native_scan = _scan.scan

    def scan(text: str) -> Scan:
        """Token text (" tok tok "), hashtags, URL hosts (as written) and token hashes of any text."""
        table = _table or _loaded_table()
        found = _native_scan(table, text, False)
        return found if found is not None else _native_scan(table, fold(text), True)

    def scan_folded(folded: str) -> Scan:
        """`scan` of text already folded."""
        return _native_scan(_table or _loaded_table(), folded, True)

else:

    def scan(text: str) -> Scan:
        """Token text (" tok tok "), hashtags, URL hosts (as written) and token hashes of any text."""
        return scan_python(text if text.isascii() else fold(text))

    def scan_folded(folded: str) -> Scan:
        """`scan` of text already folded."""
        return scan_python(folded)
