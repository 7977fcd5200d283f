"""The matcher's multi-pattern search: which text patterns (padded token text, " lock bit ") occur in a post.

A pattern can only occur where all its tokens do, so each pattern is indexed under one of its tokens, its
*key*: the token fewest patterns share (a generic word like "ransomware" in many phrases is likely in posts
too), then the longest, then the last (the specific part of `cve 2024 3400`). One pass over a post's tokens
finds the keys it holds; only the patterns under those keys are checked, each as a substring of the post's
token text (but a one-token pattern, which is its key), so the result is exact. The pass costs the same
whatever the number of patterns.

With the C scan, the post's tokens arrive as 64-bit hashes and the keys are a hash set in C, so the pass
makes no Python object for a token that is no key (most). The hashes are keyed with a per-process secret,
so no post can be written to collide with a term. Without the C scan, the pass is a set intersection over
the post's tokens. The C hash set is changed in place, a key at a time, and replaced by a bigger one when it
would be more than half full.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

from handlers.monitor.scan import scan_folded

if TYPE_CHECKING:
    from handlers.monitor.normalise import NormalisedPost

try:
    from handlers.monitor._scan import token_set, token_set_add, token_set_discard, tokens_in
except ImportError:  # no C scan: keys are token strings
    token_set = token_set_add = token_set_discard = tokens_in = None

__all__ = ["TokenIndex"]

_Key = str | int  # a key token: its hash with the C scan, its text without


class TokenIndex:
    """Text patterns by key token; `found(post)` gives the ids of the patterns occurring in the post.

    Patterns are added and removed one at a time, at the cost of one pattern whatever the number indexed;
    a match running in another thread sees each pattern either whole or not at all.
    """

    __slots__ = ("_by_key", "_keys", "_patterns", "_shared", "_slots")

    def __init__(self, patterns: Iterable[tuple[str, int]] = ()) -> None:
        """Index (pattern, id) pairs; a pattern is padded token text (" lock bit ")."""
        self._by_key: dict[_Key, tuple[tuple[str | None, int], ...]] = {}
        self._patterns: dict[int, tuple[list[str], _Key]] = {}  # id → its words and its key
        self._shared: Counter[str] = Counter()  # word → patterns holding it
        scanned = [(*_words_and_hashes(needle), needle, pid) for needle, pid in patterns]
        for words, _, _, _ in scanned:  # a bulk index picks keys knowing every pattern
            self._shared.update(set(words))
        for words, hashes, needle, pid in scanned:
            self._insert(words, hashes, needle, pid)
        if tokens_in is not None:
            self._slots = 0
            self._grow(len(self._by_key))
        else:
            self._keys = set(self._by_key)

    def __len__(self) -> int:
        return len(self._patterns)

    def add(self, needle: str, pid: int) -> None:
        """Index one more pattern (an id already indexed is replaced)."""
        self.remove(pid)
        words, hashes = _words_and_hashes(needle)
        self._shared.update(set(words))
        key = self._insert(words, hashes, needle, pid)
        if tokens_in is None:
            self._keys.add(key)  # type: ignore[arg-type]
        elif len(self._by_key[key]) == 1:
            if 2 * len(self._by_key) > self._slots:
                self._grow(2 * len(self._by_key))  # a new, bigger set, swapped in whole
            else:
                token_set_add(self._keys, key)  # type: ignore[misc]

    def remove(self, pid: int) -> None:
        """Drop a pattern (no error if absent)."""
        entry = self._patterns.pop(pid, None)
        if entry is None:
            return
        words, key = entry
        self._shared.subtract(set(words))
        for word in set(words):
            if not self._shared[word]:
                del self._shared[word]
        left = tuple(item for item in self._by_key[key] if item[1] != pid)
        if left:
            self._by_key[key] = left
            return
        if tokens_in is None:
            self._keys.discard(key)  # type: ignore[arg-type]
        else:
            token_set_discard(self._keys, key)  # type: ignore[misc]
        del self._by_key[key]

    def _insert(self, words: list[str], hashes: bytes, needle: str, pid: int) -> _Key:
        """File a pattern under its key (the token fewest patterns share, then the longest, then the last)."""
        shared = self._shared
        at = min(range(len(words)), key=lambda i: (shared[words[i]], -len(words[i]), -i))
        key: _Key = words[at] if tokens_in is None else int.from_bytes(hashes[at * 8 : at * 8 + 8], sys.byteorder)
        check = needle if len(words) > 1 else None  # a one-token pattern is there when its key is
        self._by_key[key] = (*self._by_key.get(key, ()), (check, pid))
        self._patterns[pid] = (words, key)
        return key

    def _grow(self, capacity: int) -> None:
        """A new C token set of all keys with room for `capacity`."""
        keys = b"".join(key.to_bytes(8, sys.byteorder) for key in self._by_key)  # type: ignore[union-attr]
        self._keys = token_set(keys, max(capacity, 64))  # type: ignore[misc]
        self._slots = len(self._keys) // 8

    def found(self, post: NormalisedPost) -> set[int]:
        """Ids of the patterns occurring in the post's token text."""
        if tokens_in is not None:
            keys = tokens_in(self._keys, post.hashes)
        else:
            keys = self._keys.intersection(post.text.split())
        found: set[int] = set()
        if not keys:
            return found
        text = post.text
        by_key = self._by_key
        for key in keys:
            for needle, pid in by_key.get(key, ()):
                if needle is None or needle in text:
                    found.add(pid)
        return found


def _words_and_hashes(needle: str) -> tuple[list[str], bytes]:
    token_text, _, _, hashes = scan_folded(needle)
    return token_text.split(), hashes
