"""Chart bins fit the span of the data: hours for a day, years for seventeen years, on calendar boundaries."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from PIL import Image

from handlers.analysis import sentiment
from handlers.analysis.time_bins import MAX_BINS, Unit, bins, floor, unit_for

START = datetime(2009, 3, 14, 15, 9, 26, tzinfo=UTC)


@pytest.mark.parametrize(("span", "unit"), [
    (timedelta(hours=5), Unit.HOUR), (timedelta(days=2), Unit.HOUR), (timedelta(days=6), Unit.DAY),
    (timedelta(days=90), Unit.DAY), (timedelta(days=200), Unit.WEEK), (timedelta(days=3 * 365), Unit.MONTH),
    (timedelta(days=17 * 365), Unit.YEAR), (timedelta(days=100 * 365), Unit.YEAR),
])
def test_the_finest_unit_that_keeps_the_chart_readable(span: timedelta, unit: Unit) -> None:
    assert unit_for(START, START + span) is unit
    assert 1 <= len(bins(START, START + span)) <= MAX_BINS


def test_bins_start_on_calendar_boundaries_and_count_every_instant() -> None:
    times = [START + timedelta(days=d) for d in range(0, 17 * 365, 11)]
    yearly = bins(min(times), max(times))
    assert yearly.unit is Unit.YEAR
    assert [s.year for s in yearly.starts] == list(range(2009, 2027))
    assert all((s.month, s.day, s.hour) == (1, 1, 0) for s in yearly.starts)
    assert yearly.counts(times).sum() == len(times)

    monthly = bins(START, START + timedelta(days=800), Unit.MONTH)
    assert monthly.starts[0] == datetime(2009, 3, 1, tzinfo=UTC)
    assert monthly.starts[10] == datetime(2010, 1, 1, tzinfo=UTC)  # December rolls over to January
    assert all(s.day == 1 for s in monthly.starts)

    weekly = bins(START, START + timedelta(days=60), Unit.WEEK)
    assert all(s.weekday() == 0 and s.hour == 0 for s in weekly.starts)


def test_days_are_local_days_across_a_daylight_saving_change() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    first = datetime(2026, 3, 27, 12, tzinfo=UTC)
    days = bins(first, first + timedelta(days=4), Unit.DAY, zone=berlin)
    assert [(s.day, s.hour) for s in days.starts] == [(27, 0), (28, 0), (29, 0), (30, 0), (31, 0)]
    assert days.starts[3].timestamp() - days.starts[2].timestamp() == 23 * 3600  # clocks go forward
    # 23:30 UTC on the 28th is already the 29th in Berlin
    assert list(days.index([datetime(2026, 3, 28, 23, 30, tzinfo=UTC)])) == [2]
    assert floor(datetime(2026, 3, 28, 23, 30, tzinfo=UTC), Unit.DAY, berlin) == days.starts[2]


def test_a_seventeen_year_sentiment_chart_counts_per_year() -> None:
    rng = np.random.default_rng(5)
    times = sorted(START + timedelta(days=float(d)) for d in rng.uniform(0, 17 * 365.25, 3000))
    values = rng.uniform(-1, 1, len(times))
    b = sentiment.bucketise(times, values)
    assert b.unit is Unit.YEAR and len(b.starts) == 18
    assert int(b.counts.sum()) == 3000
    picture = sentiment.chart(b, "acme", sentiment.negative_surge(b))
    assert "per year" in picture.summary and "18 years" in picture.summary
    with Image.open(io.BytesIO(picture.png)) as img:
        assert img.width >= 600


def test_two_days_of_posts_still_count_per_hour() -> None:
    times = [START + timedelta(minutes=30 * k) for k in range(96)]
    b = sentiment.bucketise(times, np.zeros(len(times)))
    assert b.unit is Unit.HOUR and len(b.starts) == 48


def test_a_case_timeline_over_seventeen_years_counts_per_year() -> None:
    from handlers.cases.bundle import CaseBundle
    from handlers.cases.pictures import draw_timeline
    from storage.models import Case, CaseEntity

    now = START + timedelta(days=17 * 365)
    posts = [CaseEntity(id=i, case_id=1, kind="post", key=f"rss:{i}", value=f"rss:{i}", added_by="a", added_at=now,
                        attrs={"created_at": (START + timedelta(days=97 * i)).isoformat()}) for i in range(64)]
    case = Case(id=1, chat_platform="telegram", chat_id=1, title="Long", created_by="a", created_at=now,
                updated_at=now)
    picture = draw_timeline(CaseBundle(case, posts, [], [], [], [], now))
    assert "64 posts from 14 March 2009 to" in picture.summary and "counted per year" in picture.summary
