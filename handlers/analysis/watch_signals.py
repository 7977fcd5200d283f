"""One-line signals about a watch for alerts and the digest: term spikes and negative-sentiment surges."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session

from handlers.analysis import sentiment, trends
from handlers.analysis.selection import Selection
from handlers.analysis.time_bins import Unit
from storage.models import StoredPost, WatchMatch

SENTIMENT_DAYS = 14
SURGE_BUCKET = timedelta(days=1)
TOP_SPIKES = 3


@dataclass(frozen=True)
class Signal:
    """One signal: `kind` "spike" (keyed by the term) or "surge" (keyed by the surging bucket's start)."""

    kind: str
    key: str
    text: str


def detect(
    session: Session, watch_id: int, now: datetime, window: timedelta = timedelta(days=1), *,
    spikes: bool = True, surge: bool = True,
) -> list[Signal]:
    """The watch's term spikes in the `window` ending at `now` and, with `surge`, a negative surge there (blocking).

    A surge is reported only when its daily bucket overlaps the window, so an old one is not news.
    """
    if not (spikes or surge):
        return []
    matched = select(WatchMatch.post_id).where(WatchMatch.watch_id == watch_id)
    sel = Selection("watch", f"watch #{watch_id}", (StoredPost.id.in_(matched),), watch_id=watch_id)
    history = window * (trends.BASELINE_WINDOWS + 1) if spikes else timedelta(0)
    since = now - max(history, timedelta(days=SENTIMENT_DAYS) if surge else timedelta(0))
    rows = session.execute(
        sel.where(select(StoredPost.created_at, StoredPost.text, StoredPost.title, StoredPost.hashtags), since=since)
    ).all()
    if not rows:
        return []
    texts = [f"{title}\n{text}" if title else text for _, text, title, _ in rows]
    times = [r[0] for r in rows]
    found: list[Signal] = []
    if spikes:
        report = trends.analyse(
            times, [trends.terms_of(t, tags or ()) for t, (_, _, _, tags) in zip(texts, rows, strict=True)], now,
            window,
        )
        found += [Signal("spike", t.term, t.describe(window)) for t in report.spikes[:TOP_SPIKES]]
    recent = [i for i, t in enumerate(times) if t >= now - timedelta(days=SENTIMENT_DAYS)]
    if surge and recent:
        values = sentiment.scores([texts[i] for i in recent])
        found_surge = sentiment.surge_in([times[i] for i in recent], values, Unit.DAY)
        if found_surge and found_surge.at + SURGE_BUCKET > now - window:
            found.append(Signal("surge", found_surge.at.isoformat(), f"negative surge: {found_surge.describe()}"))
    return found


def signals_for_watch(
    session: Session, watch_id: int, now: datetime, window: timedelta = timedelta(days=1)
) -> list[str]:
    """Lines such as "mentions of CVE-2026-1234 up 6× vs its 7-day baseline" for one watch (blocking)."""
    return [s.text for s in detect(session, watch_id, now, window)]
