"""Signals of coordinated posting, for an analyst to review — never a verdict.

- near-duplicate clusters: texts whose word-3-shingle Jaccard similarity is ≥ THRESHOLD (candidates from
  MinHash signatures of NUM_PERM hash functions banded for LSH, then the exact Jaccard decides), posted by
  ≥ MIN_ACCOUNTS distinct accounts; URLs, mentions and case are ignored so a campaign that rotates links or
  targets still groups;
- synchronised bursts: within a cluster, the most distinct accounts posting inside SYNC_WINDOW;
- new accounts: the share of a cluster's accounts created < NEW_ACCOUNT_DAYS before posting, where the
  source payload gives a creation date (Mastodon `account.created_at`, `author_created_at`, …).
Texts shorter than MIN_WORDS words are skipped: "thanks!" from many accounts is not a campaign.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from hashlib import blake2b
from typing import Any

import numpy as np

from handlers.monitor.post import Post

THRESHOLD = 0.6
NUM_PERM = 128
BANDS = 32  # LSH: NUM_PERM / BANDS signature rows per band; texts sharing a band are compared exactly
MIN_WORDS = 6
MIN_ACCOUNTS = 3
SYNC_WINDOW = timedelta(minutes=5)
NEW_ACCOUNT_DAYS = 30

_STRIP = re.compile(r"\S+://\S+|[@#]\w+|[^\w\s]")


def normalise(text: str) -> list[str]:
    """The words a near-duplicate comparison looks at."""
    return _STRIP.sub(" ", text.casefold()).split()


def _shingles(words: list[str]) -> set[bytes]:
    return {" ".join(words[i : i + 3]).encode() for i in range(max(1, len(words) - 2))}


_perms = np.random.default_rng(1)
_MUL = _perms.integers(1, 1 << 63, NUM_PERM, dtype=np.uint64) | np.uint64(1)  # odd: a bijection mod 2**64
_ADD = _perms.integers(0, 1 << 63, NUM_PERM, dtype=np.uint64)


def minhash(shingles: set[bytes]) -> np.ndarray:
    """The MinHash signature: per hash function (multiply-shift over 64-bit shingle hashes), the least value."""
    hashes = np.fromiter((int.from_bytes(blake2b(s, digest_size=8).digest(), "little") for s in shingles),
                         dtype=np.uint64, count=len(shingles))
    return ((_MUL[:, None] * hashes[None, :] + _ADD[:, None]) >> np.uint64(32)).min(axis=1)


def jaccard(a: set[bytes], b: set[bytes]) -> float:
    return len(a & b) / len(a | b)


def account_created_at(post: Post) -> datetime | None:
    """The author's creation date when the source payload carries it."""
    raw: dict[str, Any] = post.raw or {}
    candidates = [
        (raw.get("account") or {}).get("created_at") if isinstance(raw.get("account"), dict) else None,
        (raw.get("author") or {}).get("created_at") if isinstance(raw.get("author"), dict) else None,
        raw.get("author_created_at"),
    ]
    for value in candidates:
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            if parsed.tzinfo is not None:
                return parsed
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(value, UTC)
    return None


@dataclass(frozen=True)
class Cluster:
    """Near-duplicate posts by several accounts, with the timing and account-age signals."""

    posts: list[Post]
    accounts: list[str]
    first: datetime
    last: datetime
    sync_accounts: int  # most distinct accounts inside one SYNC_WINDOW
    new_accounts: int
    known_age: int  # accounts whose creation date is known

    @property
    def sample(self) -> str:
        return self.posts[0].text

    def signals(self) -> list[str]:
        out = [f"{len(self.accounts)} accounts posted near-identical text ({len(self.posts)} posts)"]
        if self.sync_accounts >= MIN_ACCOUNTS:
            out.append(f"{self.sync_accounts} accounts within {int(SYNC_WINDOW.total_seconds() // 60)} min")
        if self.known_age:
            out.append(
                f"{self.new_accounts} of {self.known_age} accounts with a known age are < {NEW_ACCOUNT_DAYS} days old"
            )
        return out


def _sync(posts: list[Post]) -> int:
    times = sorted((p.created_at, (p.author.account or "").lower()) for p in posts)
    best, lo = 0, 0
    for hi in range(len(times)):
        while times[hi][0] - times[lo][0] > SYNC_WINDOW:
            lo += 1
        best = max(best, len({a for _, a in times[lo : hi + 1]}))
    return best


def near_duplicate_clusters(posts: Sequence[Post]) -> list[Cluster]:
    """Clusters of near-identical texts by ≥ MIN_ACCOUNTS accounts, largest first."""
    by_text: dict[str, list[int]] = defaultdict(list)
    words_of: dict[str, list[str]] = {}
    for i, p in enumerate(posts):
        words = normalise(p.full_text)
        if len(words) >= MIN_WORDS and p.author.account:
            key = " ".join(words)
            by_text[key].append(i)
            words_of[key] = words
    keys = list(by_text)
    shingles = [_shingles(words_of[k]) for k in keys]
    bands: list[dict[bytes, list[int]]] = [defaultdict(list) for _ in range(BANDS)]
    parent = list(range(len(keys)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, signature in enumerate(minhash(s) for s in shingles):
        candidates: set[int] = set()
        for band, rows in zip(bands, np.split(signature, BANDS), strict=True):
            bucket = band[rows.tobytes()]
            candidates.update(bucket)
            bucket.append(i)
        for j in candidates:
            if find(i) != find(j) and jaccard(shingles[i], shingles[j]) >= THRESHOLD:
                parent[find(i)] = find(j)
    groups: dict[int, list[int]] = defaultdict(list)
    for i, k in enumerate(keys):
        groups[find(i)].extend(by_text[k])
    clusters = []
    for members in groups.values():
        cluster_posts = sorted((posts[i] for i in members), key=lambda p: p.created_at)
        accounts = sorted({(p.author.account or "").lower() for p in cluster_posts})
        if len(accounts) < MIN_ACCOUNTS:
            continue
        ages: dict[str, bool] = {}
        for p in cluster_posts:
            created = account_created_at(p)
            if created is not None:
                ages[(p.author.account or "").lower()] = p.created_at - created < timedelta(days=NEW_ACCOUNT_DAYS)
        clusters.append(
            Cluster(
                posts=cluster_posts,
                accounts=accounts,
                first=cluster_posts[0].created_at,
                last=cluster_posts[-1].created_at,
                sync_accounts=_sync(cluster_posts),
                new_accounts=sum(ages.values()),
                known_age=len(ages),
            )
        )
    clusters.sort(key=lambda c: (-len(c.accounts), c.first))
    return clusters
