"""The lookup cache table: hits while fresh, misses once expired, failures never stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from handlers.lookup.cache import LookupCacheStore
from storage.db import Database, migrate


@pytest.fixture
def db(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'cache.db'}"
    migrate(url)
    database = Database(url)
    yield database
    database.close()


async def test_cache_hit_expiry_and_failures(db: Database) -> None:
    now = [datetime(2026, 11, 28, tzinfo=UTC)]
    store = LookupCacheStore(db, lambda: now[0])
    calls: list[int] = []

    async def produce() -> dict[str, int]:
        calls.append(1)
        return {"n": len(calls)}

    assert await store.get_or_fetch("rdap", "k", 60, produce) == {"n": 1}
    assert await store.get_or_fetch("rdap", "k", 60, produce) == {"n": 1}
    assert await store.get_or_fetch("crtsh", "k", 60, produce) == {"n": 2}  # per provider
    now[0] += timedelta(seconds=61)
    assert await store.get_or_fetch("rdap", "k", 60, produce) == {"n": 3}

    async def none() -> None:
        calls.append(1)

    assert await store.get_or_fetch("internetdb", "x", 60, none) is None
    assert await store.get_or_fetch("internetdb", "x", 60, none) is None
    assert len(calls) == 4  # "no data" is cached too

    async def boom() -> None:
        raise RuntimeError("down")

    with pytest.raises(RuntimeError):
        await store.get_or_fetch("nvd", "y", 60, boom)
    assert await store.get_or_fetch("nvd", "y", 60, produce) == {"n": 5}
