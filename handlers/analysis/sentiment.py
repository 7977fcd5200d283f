"""How posts feel: VADER scores (tuned for social media), a time series, and negative-surge detection.

A post is negative when VADER's compound score ≤ -0.05 and positive when ≥ 0.05 (VADER's own
thresholds). The surge signal looks at the share of negative posts per bucket: the latest bucket
surges when its share is ≥ 2σ above the mean of the earlier buckets (at least SURGE_MIN_BASELINE of
them, each with ≥ SURGE_MIN_POSTS posts) and at least 10 points higher — e.g. hostility toward an
organisation rising, an early hacktivist-targeting signal.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from handlers.analysis.charts import Picture, time_series
from handlers.analysis.time_bins import Unit, bins

NEGATIVE = -0.05
POSITIVE = 0.05
SURGE_SIGMA = 2.0
SURGE_MIN_POSTS = 5
SURGE_MIN_BASELINE = 5

_local = threading.local()


def _analyzer() -> SentimentIntensityAnalyzer:
    if not hasattr(_local, "analyzer"):
        _local.analyzer = SentimentIntensityAnalyzer()
    return _local.analyzer


def score(text: str) -> float:
    """VADER compound score of `text`, from -1 (most negative) to +1."""
    return float(_analyzer().polarity_scores(text[:2000])["compound"]) if text else 0.0


def scores(texts: Sequence[str]) -> np.ndarray:
    """Compound scores for many texts."""
    analyzer = _analyzer()
    return np.fromiter(
        (analyzer.polarity_scores(t[:2000])["compound"] if t else 0.0 for t in texts),
        dtype=np.float64,
        count=len(texts),
    )


@dataclass(frozen=True)
class Bucketed:
    """Per-bucket post counts, mean score and negative share."""

    starts: list[datetime]
    counts: np.ndarray
    mean: np.ndarray
    negative_share: np.ndarray
    unit: Unit


def bucketise(times: Sequence[datetime], values: np.ndarray, unit: Unit | None = None) -> Bucketed:
    """Group scores into time buckets — per `unit`, or per the unit that fits the span (hours for a day or two,
    years for a decade) — keeping empty buckets, with NaN mean."""
    span = bins(min(times), max(times), unit)
    idx = span.index(times)
    n = len(span)
    counts = np.bincount(idx, minlength=n).astype(np.float64)
    sums = np.bincount(idx, weights=values, minlength=n)
    negs = np.bincount(idx, weights=(values <= NEGATIVE).astype(np.float64), minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, sums / counts, np.nan)
        share = np.where(counts > 0, negs / counts, np.nan)
    return Bucketed(span.starts, counts, mean, share, span.unit)


@dataclass(frozen=True)
class Surge:
    """A negative surge in the latest bucket, with its baseline."""

    at: datetime
    share: float
    baseline_mean: float
    baseline_std: float
    posts: int

    def describe(self) -> str:
        return (
            f"negative share {self.share:.0%} in the bucket from {self.at:%Y-%m-%d %H:%M} UTC "
            f"({self.posts} posts) vs baseline {self.baseline_mean:.0%} ± {self.baseline_std:.0%}"
        )


def negative_surge(b: Bucketed) -> Surge | None:
    """The surge in the last non-empty bucket, if its negative share is ≥ 2σ above the earlier ones."""
    full = np.flatnonzero(b.counts >= SURGE_MIN_POSTS)
    if len(full) < SURGE_MIN_BASELINE + 1:
        return None
    last, base = full[-1], full[:-1]
    mean, std = float(np.mean(b.negative_share[base])), float(np.std(b.negative_share[base]))
    share = float(b.negative_share[last])
    if share >= mean + SURGE_SIGMA * std and share - mean >= 0.10:
        return Surge(b.starts[last], share, mean, std, int(b.counts[last]))
    return None


def chart(b: Bucketed, label: str, surge: Surge | None) -> Picture:
    """The mean-sentiment and negative-share series over time."""
    step = b.unit.value
    total = int(b.counts.sum())
    mean_all = float(np.nansum(b.mean * b.counts) / total) if total else 0.0
    summary = (
        f"Sentiment of {label} per {step}: {total} posts in {len(b.starts)} {step}s, "
        f"mean score {mean_all:+.2f}; lowest {step} mean {np.nanmin(b.mean):+.2f}, "
        f"highest {np.nanmax(b.mean):+.2f}."
        + (f" Negative surge: {surge.describe()}." if surge else " No negative surge.")
    )
    return time_series(
        b.starts,
        {"mean score": b.mean, "negative share": b.negative_share},  # NaN (no posts) leaves a gap, not a 0
        f"Sentiment of {label}",
        summary,
        ylabel="VADER compound / share",
        marks=[surge.at] if surge else (),
        filename="sentiment.png",
    )
