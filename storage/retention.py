"""Retention: delete data older than its kind's retention period (the daily purge and `socmint purge`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_
from sqlmodel import Session, col, select

from config.governance import RetentionSettings
from storage.models import (
    AuditEntry,
    ButtonToken,
    LookupCache,
    OutboxItem,
    OutboxState,
    PostIOC,
    StoredPost,
    WatchMatch,
)


def _cutoff(now: datetime, days: int) -> datetime | None:
    return now - timedelta(days=days) if days > 0 else None


def _deleted(session: Session, statement) -> int:  # type: ignore[no-untyped-def]
    return int(session.exec(statement).rowcount or 0)  # type: ignore[call-overload]


def purge_posts(session: Session, cutoff: datetime) -> dict[str, int]:
    """Posts collected before `cutoff`, with their watch matches and indicators."""
    old = select(StoredPost.id).where(StoredPost.collected_at < cutoff)
    return {
        "matches": _deleted(session, delete(WatchMatch).where(col(WatchMatch.post_id).in_(old))),
        "iocs": _deleted(session, delete(PostIOC).where(col(PostIOC.post_id).in_(old))),
        "posts": _deleted(session, delete(StoredPost).where(col(StoredPost.collected_at) < cutoff)),
    }


def purge(session: Session, retention: RetentionSettings, now: datetime) -> dict[str, int]:
    """Delete every kind of data past its retention; returns rows deleted per kind."""
    counts: dict[str, int] = {}
    if cutoff := _cutoff(now, retention.posts_days):
        counts.update(purge_posts(session, cutoff))
    lookups = col(LookupCache.expires_at) < now
    if cutoff := _cutoff(now, retention.lookups_days):
        lookups = or_(lookups, col(LookupCache.fetched_at) < cutoff)
    counts["lookups"] = _deleted(session, delete(LookupCache).where(lookups))
    if cutoff := _cutoff(now, retention.audit_days):
        counts["audit"] = _deleted(session, delete(AuditEntry).where(col(AuditEntry.at) < cutoff))
    if cutoff := _cutoff(now, retention.outbox_days):
        counts["outbox"] = _deleted(session, delete(OutboxItem).where(
            col(OutboxItem.created_at) < cutoff, col(OutboxItem.state) != OutboxState.PENDING.value))
    if cutoff := _cutoff(now, retention.buttons_days):
        counts["buttons"] = _deleted(session, delete(ButtonToken).where(col(ButtonToken.created_at) < cutoff))
    return counts
