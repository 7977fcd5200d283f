"""The lookup cache: a provider's parsed answer per query, in the database, until its TTL runs out."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from storage.db import Database
from storage.models import LookupCache


def read(session: Session, provider: str, key: str, now: datetime) -> tuple[bool, Any]:
    """(hit, value) for a fresh entry; expired entries are misses."""
    row = session.exec(
        select(LookupCache).where(LookupCache.provider == provider, LookupCache.key == key)
    ).first()
    if row is None or row.expires_at <= now:
        return False, None
    return True, row.value


def write(session: Session, provider: str, key: str, value: Any, now: datetime, ttl_s: int) -> None:
    """Store or replace an entry, and drop entries that have expired."""
    session.exec(delete(LookupCache).where(LookupCache.expires_at <= now))  # type: ignore[call-overload]
    row = session.exec(
        select(LookupCache).where(LookupCache.provider == provider, LookupCache.key == key)
    ).first()
    if row is None:
        row = LookupCache(provider=provider, key=key, fetched_at=now, expires_at=now)
    row.value = value
    row.fetched_at = now
    row.expires_at = now + timedelta(seconds=ttl_s)
    session.add(row)


class LookupCacheStore:
    """Async access to the cache for one database and clock."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock

    async def get_or_fetch(
        self, provider: str, key: str, ttl_s: int, produce: Callable[[], Awaitable[Any]]
    ) -> Any:
        """The cached value, or `produce()`'s (stored when ttl_s > 0). Failures are not cached."""
        key = key[:512]
        now = self.clock()
        hit, value = await self.db.run(lambda s: read(s, provider, key, now))
        if hit:
            return value
        value = await produce()
        if ttl_s > 0:
            with contextlib.suppress(IntegrityError):  # a concurrent lookup stored it first
                await self.db.run(lambda s: write(s, provider, key, value, now, ttl_s))
        return value
