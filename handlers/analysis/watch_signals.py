"""One-line signals about a watch for alerts and the digest: term spikes and negative-sentiment surges."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session

from handlers.analysis import sentiment, trends
from handlers.analysis.selection import Selection
from storage.models import StoredPost, WatchMatch

SENTIMENT_DAYS = 14


def signals_for_watch(
    session: Session, watch_id: int, now: datetime, window: timedelta = timedelta(days=1)
) -> list[str]:
    """Lines such as "mentions of CVE-2026-1234 up 6× vs its 7-day baseline" for one watch (blocking)."""
    matched = select(WatchMatch.post_id).where(WatchMatch.watch_id == watch_id)
    sel = Selection("watch", f"watch #{watch_id}", (StoredPost.id.in_(matched),), watch_id=watch_id)
    since = now - max(window * (trends.BASELINE_WINDOWS + 1), timedelta(days=SENTIMENT_DAYS))
    rows = session.execute(
        sel.where(select(StoredPost.created_at, StoredPost.text, StoredPost.title, StoredPost.hashtags), since=since)
    ).all()
    if not rows:
        return []
    texts = [f"{title}\n{text}" if title else text for _, text, title, _ in rows]
    times = [r[0] for r in rows]
    report = trends.analyse(
        times, [trends.terms_of(t, tags or ()) for t, (_, _, _, tags) in zip(texts, rows, strict=True)], now, window
    )
    lines = [t.describe(window) for t in report.spikes[:3]]
    recent = [i for i, t in enumerate(times) if t >= now - timedelta(days=SENTIMENT_DAYS)]
    if recent:
        values = sentiment.scores([texts[i] for i in recent])
        surge = sentiment.negative_surge(sentiment.bucketise([times[i] for i in recent], values, timedelta(days=1)))
        if surge:
            lines.append(f"negative surge: {surge.describe()}")
    return lines
