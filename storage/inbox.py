"""The inbox: updates written down before the platform is told they arrived, each marked handled once.

A surface calls `receive` for every update before it confirms it (Telegram: before the next getUpdates
offset or the webhook's 200), so an update is either still the platform's to deliver or in this table.
A redelivered update is already here and is skipped; one that was here but never handled (the process
died first) is run again at start. The `Receipt` marks it handled in the same transaction as the
first write of a command that changes data (see `storage.db.first_write`), as a command that changes
nothing starts, and in any case before the first message the update causes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Insert
from sqlmodel import Session, col, select

from storage.db import FirstWrite
from storage.models import InboxUpdate

KEEP = timedelta(days=2)  # Telegram redelivers for 24 h; after a week of silence its update ids restart
RERUN_WITHIN = timedelta(hours=24)  # an unhandled update older than this is dropped, as Telegram would
MAX_RERUNS = 2  # an update that crashed the process this many times is not run again


@dataclass(frozen=True)
class Recovered:
    """What a start found in the inbox: updates to run again, and those given up."""

    payloads: list[dict[str, Any]]
    given_up: list[int]


def receive(session: Session, platform: str, bot_id: int, update_id: int, payload: dict[str, Any],
            now: datetime) -> bool:
    """Write an arriving update down; False when it was already here (a redelivery)."""
    row = {"platform": platform, "bot_id": bot_id, "update_id": update_id, "payload": payload,
           "received_at": now, "handled_at": None, "reruns": 0}
    inserted = session.execute(_insert_new(session).values(**row).returning(InboxUpdate.__table__.c.update_id))
    return inserted.first() is not None  # RETURNING, not rowcount: psycopg reports no count for this statement


def _insert_new(session: Session) -> Insert:
    """An INSERT into the inbox that skips an update already there (one statement, on SQLite and PostgreSQL)."""
    table = InboxUpdate.__table__
    key = ["platform", "bot_id", "update_id"]
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=key)
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=key)


def recover(session: Session, platform: str, bot_id: int, now: datetime) -> Recovered:
    """The unhandled updates to run again, oldest first; those too old or rerun too often are marked given up."""
    rows = session.execute(
        select(InboxUpdate)
        .where(InboxUpdate.platform == platform, InboxUpdate.bot_id == bot_id, col(InboxUpdate.handled_at).is_(None))
        .order_by(col(InboxUpdate.update_id))
    ).scalars().all()
    payloads: list[dict[str, Any]] = []
    given_up: list[int] = []
    for row in rows:
        if row.reruns >= MAX_RERUNS or row.received_at < now - RERUN_WITHIN:
            row.handled_at = now
            given_up.append(row.update_id)
        else:
            row.reruns += 1
            payloads.append(row.payload)
        session.add(row)
    return Recovered(payloads, given_up)


def prune(session: Session, before: datetime) -> int:
    """Forget updates received before `before`; returns how many."""
    return session.execute(delete(InboxUpdate).where(col(InboxUpdate.received_at) < before)).rowcount


class Receipt(FirstWrite):
    """That one received update has been handled: committed with its command's first write, or before it replies."""

    def __init__(self, platform: str, bot_id: int, update_id: int, clock: Callable[[], datetime]) -> None:
        super().__init__()
        self.platform = platform
        self.bot_id = bot_id
        self.update_id = update_id
        self.clock = clock

    def write(self, session: Session) -> None:
        session.execute(
            update(InboxUpdate)
            .where(InboxUpdate.platform == self.platform, InboxUpdate.bot_id == self.bot_id,
                   InboxUpdate.update_id == self.update_id, col(InboxUpdate.handled_at).is_(None))
            .values(handled_at=self.clock())
        )
