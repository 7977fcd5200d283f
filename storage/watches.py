"""Reading and changing watches, their matches, the outbox and digest schedules."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlmodel import Session, col

from storage.models import (
    DigestSchedule,
    OutboxItem,
    OutboxState,
    StoredPost,
    Watch,
    WatchChange,
    WatchMatch,
    WatchSignal,
    WatchState,
)


def create(
    session: Session, *, platform: str, chat_id: int, query: str, sources: list[str],
    interval_s: int | None, created_by: str, now: datetime, surge_alerts: bool = False,
) -> Watch:
    watch = Watch(chat_platform=platform, chat_id=chat_id, query=query, sources=sources,
                  interval_s=interval_s, created_by=created_by, created_at=now, surge_alerts=surge_alerts)
    session.add(watch)
    session.flush()
    return watch


def for_chat(session: Session, platform: str, chat_id: int) -> list[Watch]:
    """The chat's watches, oldest first."""
    query = select(Watch).where(Watch.chat_platform == platform, Watch.chat_id == chat_id).order_by(col(Watch.id))
    return list(session.execute(query).scalars())


def created_by(session: Session, user: str) -> list[Watch]:
    """Every watch `user` (platform:id) created, in any chat."""
    return list(session.execute(select(Watch).where(Watch.created_by == user)).scalars())


def in_chat(session: Session, platform: str, chat_id: int, watch_id: int) -> Watch | None:
    """The watch `watch_id` if it belongs to this chat."""
    watch = session.get(Watch, watch_id)
    if watch is None or watch.chat_platform != platform or watch.chat_id != chat_id:
        return None
    return watch


def active(session: Session) -> list[Watch]:
    """Every active watch of every chat."""
    return list(session.execute(select(Watch).where(Watch.state == WatchState.ACTIVE.value)).scalars())


def remove(session: Session, watch: Watch) -> None:
    """Delete a watch with its matches and queued alerts; an alert that also names other watches stays theirs."""
    _hand_over_alerts(session, watch)
    session.execute(delete(OutboxItem).where(OutboxItem.watch_id == watch.id))
    session.execute(delete(WatchMatch).where(WatchMatch.watch_id == watch.id))
    session.execute(delete(WatchSignal).where(WatchSignal.watch_id == watch.id))
    session.delete(watch)


def _hand_over_alerts(session: Session, watch: Watch) -> None:
    """Take the watch out of the alerts of its chat that name it with others (the next one named owns them)."""
    rows = session.execute(select(OutboxItem).where(
        OutboxItem.chat_platform == watch.chat_platform, OutboxItem.chat_id == watch.chat_id,
        col(OutboxItem.post_id).is_not(None))).scalars()
    for row in rows:
        named = row.payload.get("watches") or []
        others = [w for w in named if w.get("id") != watch.id]
        if not others or len(others) == len(named):
            continue
        row.payload = {**row.payload, "watch_id": others[0]["id"], "query": others[0]["query"], "watches": others}
        row.watch_id = others[0]["id"]
        session.add(row)


def match_counts(session: Session, watch_ids: list[int], since: datetime, until: datetime) -> dict[int, int]:
    """Matches per watch created in [since, until)."""
    if not watch_ids:
        return {}
    rows = session.execute(
        select(WatchMatch.watch_id, func.count())
        .where(col(WatchMatch.watch_id).in_(watch_ids), col(WatchMatch.created_at) >= since,
               col(WatchMatch.created_at) < until)
        .group_by(col(WatchMatch.watch_id))
    )
    return {int(w): int(n) for w, n in rows}


def matched_posts(
    session: Session, watch_ids: list[int], since: datetime, until: datetime
) -> list[tuple[WatchMatch, StoredPost]]:
    """Match rows with their posts in [since, until), oldest first."""
    if not watch_ids:
        return []
    rows = session.execute(
        select(WatchMatch, StoredPost)
        .join(StoredPost, col(StoredPost.id) == WatchMatch.post_id)
        .where(col(WatchMatch.watch_id).in_(watch_ids), col(WatchMatch.created_at) >= since,
               col(WatchMatch.created_at) < until)
        .order_by(col(WatchMatch.created_at), col(WatchMatch.id))
    )
    return [(m, p) for m, p in rows]


def known_authors(session: Session, watch_ids: list[int], before: datetime) -> set[tuple[str, str]]:
    """(source, handle) of every author matched by these watches before `before`."""
    if not watch_ids:
        return set()
    rows = session.execute(
        select(StoredPost.source, StoredPost.author_handle).distinct()
        .join(WatchMatch, col(StoredPost.id) == WatchMatch.post_id)
        .where(col(WatchMatch.watch_id).in_(watch_ids), col(WatchMatch.created_at) < before,
               col(StoredPost.author_handle).is_not(None))
    )
    return {(s, h) for s, h in rows}


def outbox_counts(session: Session) -> dict[str, int]:
    """Outbox rows per state."""
    rows = session.execute(select(OutboxItem.state, func.count()).group_by(col(OutboxItem.state)))
    return {str(s): int(n) for s, n in rows}


def oldest_pending(session: Session) -> datetime | None:
    return session.execute(
        select(func.min(OutboxItem.created_at)).where(OutboxItem.state == OutboxState.PENDING.value)
    ).scalar_one_or_none()


def count_active(session: Session) -> int:
    return int(session.execute(
        select(func.count()).select_from(Watch).where(Watch.state == WatchState.ACTIVE.value)
    ).scalar_one())


def digest_for_chat(session: Session, platform: str, chat_id: int) -> DigestSchedule | None:
    return session.execute(
        select(DigestSchedule).where(DigestSchedule.chat_platform == platform, DigestSchedule.chat_id == chat_id)
    ).scalar_one_or_none()


def digest_schedules(session: Session) -> list[DigestSchedule]:
    return list(session.execute(select(DigestSchedule)).scalars())


def claim_digest_period(session: Session, schedule_id: int, period: str) -> bool:
    """Mark `period` as the schedule's last digest unless it already is; True for the one caller that did.

    One conditional UPDATE: of two processes claiming at once, the second waits for the first's row lock
    (PostgreSQL; SQLite lets one writer in at a time) and then finds nothing left to update.
    """
    last = col(DigestSchedule.last_sent_period)
    claimed = session.execute(
        update(DigestSchedule)
        .where(col(DigestSchedule.id) == schedule_id, or_(last.is_(None), last != period))
        .values(last_sent_period=period)
        .execution_options(synchronize_session=False)
    )
    return claimed.rowcount == 1


def signals_fired_since(session: Session, watch_id: int, since: datetime) -> set[tuple[str, str]]:
    """(kind, key) of the watch's signals alerted at or after `since`."""
    rows = session.execute(
        select(WatchSignal.kind, WatchSignal.key)
        .where(WatchSignal.watch_id == watch_id, col(WatchSignal.fired_at) >= since)
    )
    return {(k, key) for k, key in rows}


def record_signal(session: Session, watch_id: int, kind: str, key: str, text: str, at: datetime) -> None:
    """Remember that a signal of the watch was alerted at `at` (one row per watch, kind and key)."""
    key = key[:256]
    row = session.execute(
        select(WatchSignal).where(WatchSignal.watch_id == watch_id, WatchSignal.kind == kind, WatchSignal.key == key)
    ).scalar_one_or_none() or WatchSignal(watch_id=watch_id, kind=kind, key=key, text="", fired_at=at)
    row.text, row.fired_at = text[:500], at
    session.add(row)


def prune_signals(session: Session, before: datetime) -> int:
    """Forget signals last alerted before `before`; returns how many rows went."""
    return session.execute(delete(WatchSignal).where(col(WatchSignal.fired_at) < before)).rowcount


# the watch change log (written by triggers; see migration 0009) ---------------------------------------------
@dataclass
class WatchChanges:
    """What changed in the watches since a version: the watches as they are now, and those deleted."""

    version: int
    changed: list[Watch] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    gap: bool = False  # changes after the version were pruned unseen: reload every watch


def change_version(session: Session) -> int:
    """The watches' version: the id of the latest change (0 before any)."""
    return int(session.execute(select(func.max(WatchChange.id))).scalar_one_or_none() or 0)


def changes_since(session: Session, version: int) -> WatchChanges:
    """The watches changed after `version`, read as they are now."""
    latest, oldest = session.execute(select(func.max(WatchChange.id), func.min(WatchChange.id))).one()
    if latest is None or latest <= version:
        return WatchChanges(version)
    if version and oldest > version + 1:
        return WatchChanges(int(latest), list(session.execute(select(Watch)).scalars()), gap=True)
    ids = sorted({int(r[0]) for r in session.execute(
        select(WatchChange.watch_id).where(col(WatchChange.id) > version))})
    found = {w.id: w for w in session.execute(select(Watch).where(col(Watch.id).in_(ids))).scalars()}
    return WatchChanges(int(latest), [found[i] for i in ids if i in found], [i for i in ids if i not in found])


def prune_changes(session: Session, before: datetime) -> int:
    """Forget watch changes logged before `before`; returns how many rows went."""
    return session.execute(delete(WatchChange).where(col(WatchChange.at) < before)).rowcount
