"""Trend spikes: planted term and volume spikes against a steady baseline."""

from __future__ import annotations

import random
from datetime import timedelta

import numpy as np

from handlers.analysis import trends
from tests.analysis_data import EPOCH, assert_png, organic, post

END = EPOCH + timedelta(days=30)


def corpus() -> list:
    rng = random.Random(9)
    posts = organic(3000, seed=21, start=END - timedelta(days=8), days=8)
    # a steady term: 3 a day every day, not a spike
    for d in range(8):
        for k in range(3):
            posts.append(
                post(
                    f"s{k}",
                    END - timedelta(days=d, hours=5 + k),
                    "ongoing #steadytopic chatter",
                    hashtags=["steadytopic"],
                )
            )
    # CVE-2026-1234: about 2 a day before, 30 in the last day
    for d in range(1, 8):
        for k in range(2):
            posts.append(post(f"b{k}", END - timedelta(days=d, hours=3 + k), "old note on CVE-2026-1234"))
    for k in range(30):
        posts.append(post(f"x{k}", END - timedelta(hours=rng.uniform(0.1, 3)), "exploit out for cve-2026-1234 now"))
    # a brand-new hashtag
    for k in range(6):
        posts.append(post(f"n{k}", END - timedelta(hours=10 + k), "joining #opnewthing", hashtags=["opnewthing"]))
    return posts


def report() -> trends.TrendReport:
    posts = corpus()
    terms = [trends.terms_of(p.text, p.hashtags) for p in posts]
    return trends.analyse([p.created_at for p in posts], terms, END, timedelta(days=1))


def test_planted_term_spike_found_and_described() -> None:
    r = report()
    spiking = {t.term: t for t in r.spikes}
    assert "CVE-2026-1234" in spiking
    assert "#steadytopic" not in spiking
    cve = spiking["CVE-2026-1234"]
    assert cve.count == 30 and cve.baseline_mean == 2.0
    assert "up 15× vs its 7-day baseline" in cve.describe(r.window)


def test_new_hashtag_is_emerging() -> None:
    assert "#opnewthing" in {t.term for t in report().emerging}


def test_volume_spike_in_the_hour_of_the_burst() -> None:
    r = report()
    assert r.volume_spikes
    assert all(at >= END - timedelta(hours=4) for at, _, _ in r.volume_spikes)


def test_robust_z_ignores_one_earlier_outlier() -> None:
    base = np.array([4, 5, 4, 6, 5, 40, 5], dtype=float)
    assert trends.robust_z(30, base) > trends.Z_SPIKE
    assert trends.robust_z(6, base) < trends.Z_SPIKE


def test_chart_is_a_png() -> None:
    pic = trends.chart(report(), "test")
    assert_png(pic.png)
    assert "CVE-2026-1234" in pic.summary
