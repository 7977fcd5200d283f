"""How posts feel: VADER scores (tuned for social media), a time series, and negative-surge detection.

VADER's lexicon is English: a post in another language would score 0.0 ("neutral") without anyone
knowing. So each post's language is found first (`language.language_of`, cheap), and only English
posts and posts without words (emoji) are scored; the others are "not scored" (NaN in the arrays
here), counted per language, and left out of means, buckets and surges.

A post is negative when VADER's compound score ≤ -0.05 and positive when ≥ 0.05 (VADER's own
thresholds). The surge signal looks at the share of negative posts per bucket: the latest bucket
surges when its share is ≥ 2σ above the mean of the earlier buckets (at least SURGE_MIN_BASELINE of
them, each with ≥ SURGE_MIN_POSTS posts) and at least 10 points higher — e.g. hostility toward an
organisation rising, an early hacktivist-targeting signal.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from handlers.analysis.charts import Picture, time_series
from handlers.analysis.language import UNDETERMINED, language_of
from handlers.analysis.time_bins import Unit, bins

NEGATIVE = -0.05
POSITIVE = 0.05
SURGE_SIGMA = 2.0
SURGE_MIN_POSTS = 5
SURGE_MIN_BASELINE = 5
VADER_LANGUAGES = frozenset({"en", UNDETERMINED})

_local = threading.local()


def _analyzer() -> SentimentIntensityAnalyzer:
    if not hasattr(_local, "analyzer"):
        _local.analyzer = SentimentIntensityAnalyzer()
    return _local.analyzer


def score(text: str) -> float | None:
    """VADER compound score of `text`, from -1 (most negative) to +1; None when VADER cannot read its language."""
    value = scored([text]).values[0]
    return None if np.isnan(value) else float(value)


@dataclass(frozen=True)
class Scores:
    """Compound scores of many texts (NaN where not scored) and how many were not scored, per language."""

    values: np.ndarray
    unscored: Counter[str]

    @property
    def scored(self) -> np.ndarray:
        """Which texts have a score."""
        return ~np.isnan(self.values)

    @property
    def kept(self) -> np.ndarray:
        """Indices of the texts with a score."""
        return np.flatnonzero(self.scored)

    def describe_unscored(self) -> str:
        """"3 not scored (ru 2, zh 1)" — or "" when every text was scored."""
        total = sum(self.unscored.values())
        if not total:
            return ""
        top = sorted(self.unscored.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        return f"{total} not scored ({', '.join(f'{lang} {n}' for lang, n in top)})"


def scored(texts: Sequence[str]) -> Scores:
    """Scores for many texts; texts in languages VADER does not read get NaN and are counted."""
    analyzer = _analyzer()
    values = np.full(len(texts), np.nan)
    unscored: Counter[str] = Counter()
    for i, text in enumerate(texts):
        text = text[:2000] if text else ""
        lang = language_of(text)
        if lang in VADER_LANGUAGES:
            values[i] = analyzer.polarity_scores(text)["compound"] if text else 0.0
        else:
            unscored[lang] += 1
    return Scores(values, unscored)


def scores(texts: Sequence[str]) -> np.ndarray:
    """Compound scores for many texts, NaN for those VADER cannot read."""
    return scored(texts).values


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
    years for a decade) — keeping empty buckets, with NaN mean; not-scored (NaN) values are left out.

    There must be at least one scored value.
    """
    keep = ~np.isnan(values)
    times, values = [t for t, k in zip(times, keep, strict=True) if k], values[keep]
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


def surge_in(times: Sequence[datetime], values: np.ndarray, unit: Unit | None = None) -> Surge | None:
    """The negative surge in the latest bucket of these scores, if any (None too when nothing was scored)."""
    if not (~np.isnan(values)).any():
        return None
    return negative_surge(bucketise(times, values, unit))


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
