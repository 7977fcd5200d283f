"""What is spiking: post volume and terms (hashtags, CVE ids, words) against a rolling baseline.

Baseline: the BASELINE_WINDOWS windows of the same length just before the window analysed (window 1d →
the previous 7 days). Spike test, a robust z-score so one earlier burst does not hide the next:

    z = (x − median(baseline)) / max(1.4826 · MAD(baseline), √max(median, 1))

The floor (a Poisson-like √median, at least 1) keeps sparse counts from dividing by a zero MAD. A term
spikes when z ≥ Z_SPIKE, it occurs ≥ MIN_COUNT times in the window and at least RATIO_SPIKE times its
mean per baseline window. A term is *emerging* when it appears ≥ MIN_EMERGING times in the window and
never in the baseline. Volume spikes use the same test per bucket (hour or day) against all earlier
buckets of the baseline.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from handlers.analysis.activity import epoch_seconds
from handlers.analysis.charts import Picture, time_series

BASELINE_WINDOWS = 7
Z_SPIKE = 3.5
MIN_COUNT = 5
RATIO_SPIKE = 3.0
MIN_EMERGING = 3

_CVE = re.compile(r"\bCVE-\d{4}-\d{4,7}\b", re.IGNORECASE)
_HASHTAG = re.compile(r"(?<![\w#])#(\w{2,64})")
_WORD = re.compile(r"\b[^\W\d_][\w'-]{3,30}\b")
_URLISH = re.compile(r"\S+://\S+")
_STOP_WORDS = """
    about above after again against all also among an and another any are aren't around as at be because been
    before being below between both but by can cannot could did didn't does doesn't doing done down during each
    even ever every few for from further get gets getting got had has have having he her here hers herself him
    himself his how however i if in into is isn't it its it's itself just know last like made make many may me
    might more most much must my myself need never new next no nor not now of off often on once one only or
    other our ours out over own people really said same say says see she should since so some still such than
    that that's the their theirs them then there these they thing things think this those though through time
    to today too under until up upon us use used using very via want was way we well were what when where which
    while who whom why will with within without would yes yet you your yours just http https www com
"""
_STOP = frozenset(_STOP_WORDS.split())


def terms_of(text: str, hashtags: Iterable[str] = ()) -> set[str]:
    """The distinct terms of a post: `#hashtags`, CVE ids (upper case) and words (lower case)."""
    text = _URLISH.sub(" ", text)
    found = {f"#{h.lstrip('#').lower()}" for h in hashtags if h}
    found.update(f"#{h.lower()}" for h in _HASHTAG.findall(text))
    cves = {c.upper() for c in _CVE.findall(text)}
    found.update(cves)
    for w in _WORD.findall(text):
        lw = w.lower()
        if lw not in _STOP and not lw.startswith("cve-"):
            found.add(lw)
    return found


def robust_z(x: float, baseline: np.ndarray) -> float:
    """The robust z-score of `x` against `baseline` counts (see the module docstring)."""
    med = float(np.median(baseline)) if len(baseline) else 0.0
    mad = float(np.median(np.abs(baseline - med))) if len(baseline) else 0.0
    scale = max(1.4826 * mad, max(med, 1.0) ** 0.5)
    return (x - med) / scale


@dataclass(frozen=True)
class TermTrend:
    """A term's count in the window against its baseline."""

    term: str
    count: int
    baseline_mean: float
    z: float

    @property
    def ratio(self) -> float:
        return self.count / self.baseline_mean if self.baseline_mean else float("inf")

    def describe(self, window: timedelta) -> str:
        base_span = _span(window * BASELINE_WINDOWS)
        if not self.baseline_mean:
            return f"{self.term}: {self.count} mentions, new (none in the previous {base_span})"
        return (
            f"mentions of {self.term} up {self.ratio:.0f}× vs its {base_span} baseline "
            f"({self.count} vs {self.baseline_mean:.1f} per {_span(window)})"
        )


def _span(d: timedelta) -> str:
    hours = d.total_seconds() / 3600
    return f"{hours / 24:g}-day" if hours >= 24 and hours % 24 == 0 else f"{hours:g}-hour"


@dataclass(frozen=True)
class TrendReport:
    """Volume per bucket with its spikes, and the terms spiking or emerging in the window."""

    window: timedelta
    end: datetime
    bucket_starts: list[datetime]
    volume: np.ndarray
    volume_spikes: list[tuple[datetime, int, float]]  # (bucket start, count, z)
    spikes: list[TermTrend]
    emerging: list[TermTrend]
    posts_in_window: int
    posts_in_baseline: int
    term_series: dict[str, np.ndarray]


def _bucket(window: timedelta) -> timedelta:
    return timedelta(hours=1) if window <= timedelta(days=2) else timedelta(days=1)


def analyse(times: Sequence[datetime], post_terms: Sequence[set[str]], end: datetime, window: timedelta) -> TrendReport:
    """Trends of posts (times and term sets) over `window` ending at `end`, against the baseline before it."""
    start = end - window * (BASELINE_WINDOWS + 1)
    secs = epoch_seconds(times)
    wsec, bsec = window.total_seconds(), _bucket(window).total_seconds()
    # window index: 0 = the window analysed, 1..7 = baseline windows going back
    widx = np.floor((end.timestamp() - secs) / wsec).astype(np.int64)
    # bucket index from the start of the first baseline window
    nb = round((end - start).total_seconds() / bsec)
    bidx = np.floor((secs - start.timestamp()) / bsec).astype(np.int64)
    inside = (widx >= 0) & (widx <= BASELINE_WINDOWS) & (bidx >= 0) & (bidx < nb)
    volume = np.bincount(bidx[inside], minlength=nb)
    per_window = [Counter[str]() for _ in range(BASELINE_WINDOWS + 1)]
    for i in np.flatnonzero(inside):
        per_window[widx[i]].update(post_terms[i])
    current = per_window[0]
    spikes, emerging = [], []
    for term, count in current.items():
        base = np.array([per_window[k].get(term, 0) for k in range(1, BASELINE_WINDOWS + 1)], dtype=float)
        mean = float(base.mean())
        if mean == 0:
            if count >= MIN_EMERGING:
                emerging.append(TermTrend(term, count, 0.0, float("inf")))
            continue
        z = robust_z(count, base)
        if count >= MIN_COUNT and z >= Z_SPIKE and count >= RATIO_SPIKE * mean:
            spikes.append(TermTrend(term, count, mean, z))
    spikes.sort(key=lambda t: (-t.z, -t.count, t.term))
    emerging.sort(key=lambda t: (-t.count, t.term))
    first_window_bucket = round(wsec * BASELINE_WINDOWS / bsec)
    vspikes = []
    for b in range(first_window_bucket, nb):
        z = robust_z(float(volume[b]), volume[:first_window_bucket].astype(float))
        if volume[b] >= MIN_COUNT and z >= Z_SPIKE:
            vspikes.append((start + timedelta(seconds=b * bsec), int(volume[b]), z))
    series: dict[str, np.ndarray] = {}
    for t in [*spikes[:3], *emerging[: max(0, 3 - len(spikes))]]:
        hits = [bool(t.term in post_terms[i]) for i in np.flatnonzero(inside)]
        series[t.term] = np.bincount(bidx[inside][np.array(hits, dtype=bool)], minlength=nb)
    return TrendReport(
        window=window,
        end=end,
        bucket_starts=[start + timedelta(seconds=b * bsec) for b in range(nb)],
        volume=volume,
        volume_spikes=vspikes,
        spikes=spikes,
        emerging=emerging,
        posts_in_window=int((inside & (widx == 0)).sum()),
        posts_in_baseline=int((inside & (widx > 0)).sum()),
        term_series=series,
    )


def describe(r: TrendReport, label: str) -> str:
    """The trend picture in words."""
    parts = [
        f"{label}: {r.posts_in_window} posts in the last {_span(r.window)} vs "
        f"{r.posts_in_baseline / BASELINE_WINDOWS:.1f} per {_span(r.window)} before"
    ]
    if r.volume_spikes:
        at, n, _ = max(r.volume_spikes, key=lambda s: s[1])
        parts.append(f"volume spike: {n} posts in the bucket from {at:%Y-%m-%d %H:%M} UTC")
    if r.spikes:
        parts.append("; ".join(t.describe(r.window) for t in r.spikes[:3]))
    if r.emerging:
        parts.append("emerging: " + ", ".join(f"{t.term} ({t.count})" for t in r.emerging[:5]))
    if not (r.volume_spikes or r.spikes or r.emerging):
        parts.append("no spikes")
    return ". ".join(parts) + "."


def chart(r: TrendReport, label: str) -> Picture:
    """Volume per bucket (bars) with the top spiking terms (lines) and volume spikes marked."""
    series: dict[str, Sequence[float]] = {"all posts": r.volume.tolist()}
    series.update({term: s.tolist() for term, s in r.term_series.items()})
    return time_series(
        r.bucket_starts,
        series,
        f"Trends: {label}",
        f"Trend chart: {describe(r, label)}",
        marks=[s[0] for s in r.volume_spikes[:5]],
        filename="trends.png",
        bars="all posts",
    )
