"""Sentiment: VADER scores, buckets and the negative-surge signal on planted data."""

from __future__ import annotations

import random
from datetime import timedelta

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
