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
the post's tokens.
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
    from handlers.monitor._scan import token_set, tokens_in
except ImportError:  # no C scan: keys are token strings
    token_set = tokens_in = None

__all__ = ["TokenIndex"]


class TokenIndex:
    """Text patterns by key token; `found(post)` gives the ids of the patterns occurring in the post."""

    __slots__ = ("_by_key", "_keys")

    def __init__(self, patterns: Iterable[tuple[str, int]]) -> None:
        """Index (pattern, id) pairs; a pattern is padded token text (" lock bit ")."""
        scanned = []
        for needle, pid in patterns:
            token_text, _, _, hashes = scan_folded(needle)
            scanned.append((token_text.split(), hashes, needle, pid))
        shared = Counter(word for words, _, _, _ in scanned for word in set(words))
        by_key: dict[str | int, list[tuple[str | None, int]]] = {}
        for words, hashes, needle, pid in scanned:
            at = min(range(len(words)), key=lambda i: (shared[words[i]], -len(words[i]), -i))
            key = words[at] if tokens_in is None else int.from_bytes(hashes[at * 8 : at * 8 + 8], sys.byteorder)
            check = needle if len(words) > 1 else None  # a one-token pattern is there when its key is
            by_key.setdefault(key, []).append((check, pid))
        self._by_key = {key: tuple(found) for key, found in by_key.items()}
        self._keys = (
            token_set(b"".join(key.to_bytes(8, sys.byteorder) for key in self._by_key))  # type: ignore[union-attr]
            if tokens_in is not None
            else frozenset(self._by_key)
        )

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
        for key in keys:
            for needle, pid in self._by_key[key]:
                if needle is None or needle in text:
                    found.add(pid)
        return found
