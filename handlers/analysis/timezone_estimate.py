"""Which UTC offset an account probably lives in, from the hours it does not post.

Method: count posts per UTC hour, find the 8-hour circular window with the fewest posts (the
"quiet hours"; when several windows tie, the middle of the tied run). People mostly sleep around
23:00–07:00 local time, so the offset is the one that puts the quiet window's middle at 03:00 local.

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


@dataclass(frozen=True)
class TimezoneEstimate:
    """The estimate and its evidence; `offset_h` is None when there was not enough data."""

    posts: int
    days: int
    offset_h: int | None = None
    quiet_start_h: int | None = None  # UTC hour the quiet window starts
    quiet_share: float | None = None
    confidence: str = "none"

    @property
    def label(self) -> str:
        if self.offset_h is None:
            return "unknown"
        return f"UTC{self.offset_h:+d}" if self.offset_h else "UTC±0"

    def describe(self) -> str:
        if self.offset_h is None or self.quiet_start_h is None or self.quiet_share is None:
            return (
                f"not enough data ({self.posts} posts over {self.days} days; "
                f"needs {MIN_POSTS} posts over {MIN_DAYS} days)"
            )
        end = (self.quiet_start_h + WINDOW_H) % 24
        return (
            f"quiet {self.quiet_start_h:02d}:00–{end:02d}:00 UTC ({self.quiet_share:.0%} of posts) → "
            f"local night at {self.label}; {self.posts} posts over {self.days} days; "
            f"confidence {self.confidence}"
        )


def _quiet_window(hourly: np.ndarray) -> int:
    """Start hour of the quietest WINDOW_H-hour circular window (middle of ties)."""
    sums = np.array([hourly[np.arange(s, s + WINDOW_H) % 24].sum() for s in range(24)])
    tied = sums <= sums.min() + max(0.5, 0.02 * hourly.sum())
    if tied.all():
        return int(sums.argmin())
    # walk the circle from a non-tied hour and find the longest run of tied starts
    begin = int(np.argmin(tied))
    best_start, best_len, run_start, run_len = 0, 0, 0, 0
    for i in range(1, 25):
        h = (begin + i) % 24
        if tied[h]:
            if run_len == 0:
                run_start = h
            run_len += 1
            if run_len > best_len:
                best_start, best_len = run_start, run_len
        else:
            run_len = 0
    return (best_start + (best_len - 1) // 2) % 24


def estimate_timezone(times: Sequence[datetime]) -> TimezoneEstimate:
    """Estimate the account's UTC offset from post times (aware datetimes)."""
    secs = epoch_seconds(times).astype(np.int64)
    posts = len(secs)
    days = len(np.unique(secs // 86400)) if posts else 0
    if posts < MIN_POSTS or days < MIN_DAYS:
        return TimezoneEstimate(posts, days)
    hourly = np.bincount((secs // 3600) % 24, minlength=24).astype(np.float64)
    start = _quiet_window(hourly)
    share = float(hourly[np.arange(start, start + WINDOW_H) % 24].sum() / posts)
    middle_utc = (start + WINDOW_H / 2) % 24
    offset = round((LOCAL_NIGHT_MIDDLE_H - middle_utc + 12) % 24 - 12)
    if offset < -12:
        offset += 24
    if posts >= 200 and days >= 14 and share <= 0.04:
        confidence = "high"
    elif posts >= 60 and share <= 0.10:
        confidence = "medium"
    else:
        confidence = "low"
    return TimezoneEstimate(posts, days, offset, start, share, confidence)
