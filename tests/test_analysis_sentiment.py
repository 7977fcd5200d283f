"""Sentiment: VADER scores, buckets and the negative-surge signal on planted data."""

from __future__ import annotations

import random
from datetime import timedelta

import numpy as np

from handlers.analysis import sentiment
from tests.analysis_data import EPOCH, assert_png

CALM = ["Great talk by the acme team today, thanks!", "acme shipped the update, works fine", "acme support helped"]
ANGRY = ["acme is a disgusting liar, destroy them", "we hate acme, terrible criminals, attack", "acme is awful, evil"]


def series(surge: bool):
    rng = random.Random(4)
    times, texts = [], []
    for day in range(14):
        for k in range(20):
            hostile = (rng.random() < 0.1) or (surge and day == 13 and k < 14)
            times.append(EPOCH + timedelta(days=day, minutes=30 * k))
            texts.append(rng.choice(ANGRY if hostile else CALM))
    return times, sentiment.scores(texts)


def test_scores_have_the_right_sign() -> None:
    assert sentiment.score(CALM[0]) > sentiment.POSITIVE
    assert sentiment.score(ANGRY[0]) < sentiment.NEGATIVE


def test_only_languages_vader_reads_are_scored() -> None:
    texts = [
        "This is terrible, I hate it",  # English
        "Это ужасно, я ненавижу это",  # Russian
        "这太糟糕了，我讨厌它",  # Chinese
        "هذا فظيع، أنا أكره ذلك",  # Arabic
        "Esto es terrible, lo odio",  # Spanish
        "Das ist wirklich schlecht",  # German
        "🔥🔥🔥",  # no words: VADER reads emoji
        "ransomware gang leaks data",  # a few English keywords
    ]
    result = sentiment.scored(texts)
    assert [bool(x) for x in result.scored] == [True, False, False, False, False, False, True, True]
    assert result.values[0] < sentiment.NEGATIVE
    assert result.unscored == {"ru": 1, "zh": 1, "ar": 1, "es": 1, "de": 1}
    assert result.describe_unscored().startswith("5 not scored (")
    assert sentiment.score("Это ужасно") is None


def test_unscored_posts_are_left_out_of_buckets_and_surges() -> None:
    times, values = series(surge=True)
    mixed = values.copy()
    mixed[::2] = float("nan")  # half the posts in a language VADER does not read
    b = sentiment.bucketise(times, mixed)
    assert int(b.counts.sum()) == len(values) // 2
    assert sentiment.surge_in(times, np.full(len(times), np.nan)) is None


def test_surge_found_only_when_planted() -> None:
    times, values = series(surge=True)
    b = sentiment.bucketise(times, values)
    s = sentiment.negative_surge(b)
    assert s is not None and s.at == EPOCH + timedelta(days=13) and s.share >= 0.6
    times, values = series(surge=False)
    assert sentiment.negative_surge(sentiment.bucketise(times, values)) is None


def test_chart_is_a_png_and_mentions_the_surge() -> None:
    times, values = series(surge=True)
    b = sentiment.bucketise(times, values)
    pic = sentiment.chart(b, "acme", sentiment.negative_surge(b))
    assert_png(pic.png)
    assert "Negative surge" in pic.summary and "280 posts" in pic.summary
