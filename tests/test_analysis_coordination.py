"""Coordination signals: a planted copy-paste campaign among organic noise."""

from __future__ import annotations

import random
from datetime import timedelta

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
