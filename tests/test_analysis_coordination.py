"""Coordination signals: a planted copy-paste campaign among organic noise."""

from __future__ import annotations

import itertools
import random
from datetime import timedelta

import pytest

from handlers.analysis import coordination
from handlers.analysis.coordination import near_duplicate_clusters
from tests.analysis_data import EPOCH, organic, post

CAMPAIGN = "the ministry of energy lied about the outage, share before they delete it #truth {url} {tag}"


def planted_campaign() -> list:
    rng = random.Random(3)
    start = EPOCH + timedelta(days=5, hours=14)
    out = []
    for i in range(12):
        text = CAMPAIGN.format(url=f"https://t.example/{i}", tag=f"@target{i % 3}")
        if i % 4 == 0:
            text = text.replace("share", "please share")  # light edits still cluster
        out.append(
            post(
                f"bot{i}",
                start + timedelta(seconds=rng.randrange(240)),
                text,
                sid=f"c{i}",
                raw={"account": {"created_at": (start - timedelta(days=3 + i)).isoformat()}},
            )
        )
    return out


def test_campaign_is_the_only_cluster_and_its_signals_are_stated() -> None:
    posts = organic(800, seed=11) + planted_campaign()
    # an account repeating itself is not coordination
    posts += [
        post("loner", EPOCH + timedelta(hours=h), "my own words repeated again and again today", sid=f"l{h}")
        for h in range(5)
    ]
    clusters = near_duplicate_clusters(posts)
    assert len(clusters) == 1
    c = clusters[0]
    assert set(c.accounts) == {f"bot{i}" for i in range(12)}
    assert c.sync_accounts == 12
    assert c.new_accounts == 12 and c.known_age == 12
    signals = " ".join(c.signals())
    assert "12 accounts" in signals and "within 5 min" in signals


def test_organic_noise_alone_has_no_clusters() -> None:
    assert near_duplicate_clusters(organic(1500, seed=12)) == []


def _edited_campaigns(seed: int) -> list:
    """Campaigns whose copies carry 0-3 word edits: some pairs fall just below the threshold, some just above."""
    rng = random.Random(seed)
    vocab = ["energy", "ministry", "outage", "share", "delete", "truth", "power", "grid", "people", "lied",
             "about", "today", "before", "they", "alpha", "beta", "gamma", "delta"]
    out = []
    for c in range(10):
        base = [rng.choice(vocab) for _ in range(rng.randrange(8, 25))]
        for i in range(rng.randrange(3, 10)):
            words = list(base)
            for _ in range(rng.randrange(4)):
                words[rng.randrange(len(words))] = rng.choice(vocab)
            at = EPOCH + timedelta(seconds=rng.randrange(3600))
            out.append(post(f"c{c}a{i}", at, " ".join(words) + f" https://x.example/{i}", sid=f"c{c}-{i}"))
    return out


def _exact_clusters(posts: list) -> list[list[str]]:
    """The definition, by brute force: every pair of distinct texts compared by exact shingle Jaccard."""
    by_text: dict[str, list[int]] = {}
    for i, p in enumerate(posts):
        words = coordination.normalise(p.full_text)
        if len(words) >= coordination.MIN_WORDS and p.author.handle:
            by_text.setdefault(" ".join(words), []).append(i)
    keys = list(by_text)
    shingles = [coordination._shingles(k.split()) for k in keys]
    parent = list(range(len(keys)))

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    for i, j in itertools.combinations(range(len(keys)), 2):
        if coordination.jaccard(shingles[i], shingles[j]) >= coordination.THRESHOLD:
            parent[find(i)] = find(j)
    groups: dict[int, set[str]] = {}
    for i, k in enumerate(keys):
        groups.setdefault(find(i), set()).update(posts[n].author.handle.lower() for n in by_text[k])
    return sorted(sorted(g) for g in groups.values() if len(g) >= coordination.MIN_ACCOUNTS)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clusters_are_those_of_exact_jaccard(seed: int) -> None:
    posts = organic(600, seed=seed) + _edited_campaigns(seed)
    expected = _exact_clusters(posts)
    assert len(expected) >= 5  # the data has campaigns to find
    assert sorted(sorted(c.accounts) for c in near_duplicate_clusters(posts)) == expected
