"""When an account posts: a weekday × hour (UTC) count matrix and the words that describe it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from handlers.analysis.charts import WEEKDAYS, Picture, heatmap


def epoch_seconds(times: Sequence[datetime]) -> np.ndarray:
    """Aware datetimes as UTC epoch seconds."""
    return np.fromiter((t.timestamp() for t in times), dtype=np.float64, count=len(times))


def activity_matrix(times: Sequence[datetime]) -> np.ndarray:
    """Counts of posts per (weekday, hour UTC): shape (7, 24), Monday first."""
    secs = epoch_seconds(times).astype(np.int64)
    hours = (secs // 3600) % 24
    weekdays = (secs // 86400 + 3) % 7  # 1970-01-01 was a Thursday
    matrix = np.zeros((7, 24), dtype=np.int64)
    np.add.at(matrix, (weekdays, hours), 1)
    return matrix


@dataclass(frozen=True)
class ActivitySummary:
    """How much and when: totals, span, rate, busiest hour and weekday."""

    posts: int
    first: datetime | None
    last: datetime | None
    per_day: float
    busiest_hour: int | None
    busiest_weekday: str | None

    def describe(self) -> str:
        if not self.posts or self.first is None or self.last is None:
            return "no posts"
        return (
            f"{self.posts} posts from {self.first:%Y-%m-%d} to {self.last:%Y-%m-%d} "
            f"({self.per_day:.1f}/day); busiest hour {self.busiest_hour:02d}:00 UTC, "
            f"busiest day {self.busiest_weekday}"
        )


def summarise(times: Sequence[datetime], matrix: np.ndarray | None = None) -> ActivitySummary:
    """Describe the activity in `times`."""
    if not times:
        return ActivitySummary(0, None, None, 0.0, None, None)
    matrix = activity_matrix(times) if matrix is None else matrix
    first, last = min(times), max(times)
    days = max((last - first).total_seconds() / 86400, 1.0)
    return ActivitySummary(
        posts=len(times),
        first=first,
        last=last,
        per_day=len(times) / days,
        busiest_hour=int(matrix.sum(axis=0).argmax()),
        busiest_weekday=WEEKDAYS[int(matrix.sum(axis=1).argmax())],
    )


def heatmap_picture(matrix: np.ndarray, who: str, summary: ActivitySummary) -> Picture:
    """The activity heatmap with its text summary."""
    return heatmap(matrix, f"Activity of {who} (weekday × hour, UTC)", f"Activity heatmap: {summary.describe()}.")
