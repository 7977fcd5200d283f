"""Which UTC offset an account probably lives in, from the hours it does not post — to the quarter hour.

Method: count posts per UTC quarter hour, find the 8-hour circular window with the fewest posts (the
"quiet hours"; when several windows tie, the middle of the tied run). People mostly sleep around
23:00–07:00 local time, so the offset is the one that puts the quiet window's middle at 03:00 local;
it is then snapped to the nearest offset some zone actually uses (UTC+5:30 India, +5:45 Nepal,
-3:30 Newfoundland, +8:45 Eucla, +12:45 Chatham…), compared around the clock, so +12:45 and -11:15
are the same estimate. Quarter hours need data: with a few hundred posts and a regular night the
offset comes out exact; with fewer, expect ± a quarter or half hour (the confidence says so).

Confidence comes from the amount of data and the contrast of the quiet window: the share of posts in
it against the 8/24 a round-the-clock poster would show.
- below MIN_POSTS posts or MIN_DAYS distinct days: "not enough data" (no estimate at all);
- high: ≥ 200 posts, ≥ 14 days, quiet share ≤ 4 %;
- medium: ≥ 60 posts, quiet share ≤ 10 %;
- low: anything else (e.g. shift workers, bots, shared accounts: a flat day says little).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from handlers.analysis.activity import epoch_seconds

MIN_POSTS = 30
MIN_DAYS = 5
WINDOW_H = 8
LOCAL_NIGHT_MIDDLE_H = 3  # 23:00–07:00 local
BIN_MIN = 15
BINS = 24 * 60 // BIN_MIN
DAY_MIN = 24 * 60
# UTC offsets in use (minutes), whole hours -12..+14 and the zones on a half or quarter hour; those within
# ±12 h come first, so of two offsets showing the same clock (-11 and +13) the nearer one is named.
OFFSETS_IN_USE = tuple(
    sorted([h * 60 for h in range(-12, 15)] + [-570, -210, 210, 270, 330, 345, 390, 525, 570, 630, 765, 825],
           key=lambda m: (abs(m) > 720, m))
)


@dataclass(frozen=True)
class TimezoneEstimate:
    """The estimate and its evidence; `offset_min` is None when there was not enough data."""

    posts: int
    days: int
    offset_min: int | None = None
    quiet_start_min: int | None = None  # UTC minute of the day the quiet window starts
    quiet_share: float | None = None
    confidence: str = "none"

    @property
    def offset_h(self) -> float | None:
        """The offset in hours (5.75 for UTC+5:45)."""
        return None if self.offset_min is None else self.offset_min / 60

    @property
    def label(self) -> str:
        if self.offset_min is None:
            return "unknown"
        if self.offset_min == 0:
            return "UTC±0"
        hours, minutes = divmod(abs(self.offset_min), 60)
        return f"UTC{'+' if self.offset_min > 0 else '-'}{hours}" + (f":{minutes:02d}" if minutes else "")

    def describe(self) -> str:
        if self.offset_min is None or self.quiet_start_min is None or self.quiet_share is None:
            return (
                f"not enough data ({self.posts} posts over {self.days} days; "
                f"needs {MIN_POSTS} posts over {MIN_DAYS} days)"
            )
        start, end = self.quiet_start_min, (self.quiet_start_min + WINDOW_H * 60) % DAY_MIN
        return (
            f"quiet {_clock(start)}–{_clock(end)} UTC ({self.quiet_share:.0%} of posts) → "
            f"local night at {self.label}; {self.posts} posts over {self.days} days; "
            f"confidence {self.confidence}"
        )


def _clock(minute: float) -> str:
    whole = round(minute) % DAY_MIN
    return f"{whole // 60:02d}:{whole % 60:02d}"


def _quiet_window(bins: np.ndarray) -> float:
    """Start bin of the quietest WINDOW_H-hour circular window (middle of a tied run: may be half a bin)."""
    width = WINDOW_H * 60 // BIN_MIN
    cumulative = np.concatenate([[0.0], np.cumsum(np.concatenate([bins, bins]))])
    sums = cumulative[width : width + BINS] - cumulative[:BINS]
    tied = sums <= sums.min() + 0.5
    if tied.all():
        return float(sums.argmin())
    # walk the circle from a non-tied start and find the longest run of tied starts
    begin = int(np.argmin(tied))
    best_start, best_len, run_start, run_len = 0, 0, 0, 0
    for i in range(1, BINS + 1):
        b = (begin + i) % BINS
        if tied[b]:
            if run_len == 0:
                run_start = b
            run_len += 1
            if run_len > best_len:
                best_start, best_len = run_start, run_len
        else:
            run_len = 0
    return (best_start + (best_len - 1) / 2) % BINS


def _circular_gap(a: float, b: float) -> float:
    gap = abs(a - b) % DAY_MIN
    return min(gap, DAY_MIN - gap)


def estimate_timezone(times: Sequence[datetime]) -> TimezoneEstimate:
    """Estimate the account's UTC offset from post times (aware datetimes)."""
    secs = epoch_seconds(times).astype(np.int64)
    posts = len(secs)
    days = len(np.unique(secs // 86400)) if posts else 0
    if posts < MIN_POSTS or days < MIN_DAYS:
        return TimezoneEstimate(posts, days)
    bins = np.bincount((secs // (BIN_MIN * 60)) % BINS, minlength=BINS).astype(np.float64)
    start = _quiet_window(bins)
    width = WINDOW_H * 60 // BIN_MIN
    window = np.arange(round(start), round(start) + width) % BINS
    share = float(bins[window].sum() / posts)
    middle_utc = (start * BIN_MIN + WINDOW_H * 30) % DAY_MIN
    raw = LOCAL_NIGHT_MIDDLE_H * 60 - middle_utc
    offset = min(OFFSETS_IN_USE, key=lambda m: _circular_gap(m, raw))
    if posts >= 200 and days >= 14 and share <= 0.04:
        confidence = "high"
    elif posts >= 60 and share <= 0.10:
        confidence = "medium"
    else:
        confidence = "low"
    return TimezoneEstimate(posts, days, offset, round(start * BIN_MIN) % DAY_MIN, share, confidence)
