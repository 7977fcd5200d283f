"""Time bins that fit the span of the data: hours, days, weeks, months or years — at most MAX_BINS of them
(for any span up to a century).

A chart of two days counts per hour; of a season, per week; of seventeen years, per year. Bins start on
calendar boundaries (the hour, midnight, Monday, the 1st, 1 January) in the zone the chart is read in, so
a day is a local day even across a daylight-saving change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum

import numpy as np

MAX_BINS = 120


class Unit(StrEnum):
    """How wide one bin is."""

    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


# nominal lengths, only to choose a unit (bins themselves follow the calendar)
_NOMINAL = {
    Unit.HOUR: timedelta(hours=1), Unit.DAY: timedelta(days=1), Unit.WEEK: timedelta(weeks=1),
    Unit.MONTH: timedelta(days=30.44), Unit.YEAR: timedelta(days=365.25),
}


def unit_for(first: datetime, last: datetime, max_bins: int = MAX_BINS) -> Unit:
    """The finest unit that covers first..last in at most `max_bins` bins."""
    span = abs(last - first)
    for unit, size in _NOMINAL.items():
        if span / size + 1 <= max_bins:
            return unit
    return Unit.YEAR


def floor(t: datetime, unit: Unit, zone: tzinfo = UTC) -> datetime:
    """The start of the bin of `unit` holding `t`, as an aware datetime in `zone`."""
    local = t.astimezone(zone)
    if unit is Unit.HOUR:
        return local.replace(minute=0, second=0, microsecond=0)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    if unit is Unit.WEEK:
        day -= timedelta(days=day.weekday())
    elif unit is Unit.MONTH:
        day = day.replace(day=1)
    elif unit is Unit.YEAR:
        day = day.replace(month=1, day=1)
    return day.replace(tzinfo=zone)


def following(start: datetime, unit: Unit) -> datetime:
    """The start of the bin after the one starting at `start` (same zone)."""
    if unit is Unit.HOUR:
        return (start.astimezone(UTC) + timedelta(hours=1)).astimezone(start.tzinfo)
    zone, naive = start.tzinfo, start.replace(tzinfo=None)
    match unit:
        case Unit.DAY:
            naive += timedelta(days=1)
        case Unit.WEEK:
            naive += timedelta(weeks=1)
        case Unit.MONTH:
            naive = naive.replace(year=naive.year + naive.month // 12, month=naive.month % 12 + 1)
        case Unit.YEAR:
            naive = naive.replace(year=naive.year + 1)
    return naive.replace(tzinfo=zone)


@dataclass(frozen=True)
class TimeBins:
    """Consecutive bins of one unit, from the bin holding the first instant to the one holding the last."""

    unit: Unit
    starts: list[datetime]
    end: datetime  # where the last bin stops

    def __len__(self) -> int:
        return len(self.starts)

    def index(self, times: Sequence[datetime]) -> np.ndarray:
        """The bin of each instant (instants outside the bins get -1 or len)."""
        edges = np.array([s.timestamp() for s in self.starts])
        stamps = np.array([t.timestamp() for t in times], dtype=np.float64)
        found = np.searchsorted(edges, stamps, side="right") - 1
        return np.where(stamps >= self.end.timestamp(), len(self.starts), found)

    def counts(self, times: Sequence[datetime]) -> np.ndarray:
        """How many of `times` fall in each bin."""
        idx = self.index(times)
        inside = idx[(idx >= 0) & (idx < len(self.starts))]
        return np.bincount(inside, minlength=len(self.starts)).astype(np.float64)


def bins(first: datetime, last: datetime, unit: Unit | None = None, zone: tzinfo = UTC,
         max_bins: int = MAX_BINS) -> TimeBins:
    """Bins covering first..last, of `unit` or of the finest unit that keeps them at most `max_bins`."""
    unit = unit or unit_for(first, last, max_bins)
    start = floor(min(first, last), unit, zone)
    stop = max(first, last)
    starts = [start]
    while (nxt := following(starts[-1], unit)) <= stop:
        starts.append(nxt)
    return TimeBins(unit, starts, following(starts[-1], unit))
