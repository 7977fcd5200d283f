"""Locks between processes sharing one database: migrations one at a time, one leader, one bot per SQLite file.

PostgreSQL coordinates through advisory locks (the keys below): a session lock is released by the server
when the session ends, so a process killed with SIGKILL gives its locks up as soon as its connection
drops. SQLite has no server: a lock file next to the database (an OS `flock`, also released when the
process dies) serialises migrations and keeps a second `socmint run` off the same file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

# advisory lock keys (one 64-bit number space per database; migration 0009 repeats WATCH_CHANGES_KEY)
MIGRATIONS_KEY = 7_305_841_001
LEADER_KEY = 7_305_841_002
WATCH_CHANGES_KEY = 7_305_841_003

CONNECT_TIMEOUT_S = 10


class AlreadyRunning(RuntimeError):
    """Another `socmint run` is serving this SQLite database."""


def is_postgres(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def sqlite_file(url: str) -> Path | None:
    """The database file of an SQLite URL (None for PostgreSQL and in-memory databases)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def libpq_conninfo(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as a libpq connection URI, for psycopg's own connections."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def migration_lock(engine: Engine) -> Iterator[None]:
    """Held while migrating: a PostgreSQL advisory lock, or a lock file beside an SQLite database."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATIONS_KEY})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATIONS_KEY})
                conn.commit()
        return
    path = sqlite_file(engine.url.render_as_string(hide_password=False))
    with FileLock(f"{path}.migrate.lock", mode=0o600, thread_local=False) if path else nullcontext():
        yield


class RunGuard:
    """One `socmint run` per SQLite file: an exclusive lock file, released when the process ends however it ends."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self._lock = FileLock(f"{database}.run.lock", mode=0o600, timeout=0, thread_local=False)

    def acquire(self) -> None:
        """Take the file, or raise AlreadyRunning saying what to do."""
        try:
            self._lock.acquire()
        except Timeout:
            raise AlreadyRunning(
                f"another `socmint run` is already serving {self.database}. SQLite serves one bot process: stop "
                "the other one first, or move to PostgreSQL (database.url) to run several processes"
            ) from None

    def release(self) -> None:
        self._lock.release()


class AdvisoryLeaderLock:
    """The leader's PostgreSQL advisory lock, held by a session on its own connection (psycopg, async)."""

    def __init__(self, url: str, key: int = LEADER_KEY) -> None:
        self.conninfo = libpq_conninfo(url)
        self.key = key
        self._conn: Any = None  # psycopg.AsyncConnection while we hold (or try for) the lock

    async def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; False when another session does (or the database is unreachable)."""
        import psycopg

        try:
            if self._conn is None or self._conn.closed:
                self._conn = await psycopg.AsyncConnection.connect(
                    self.conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                    application_name="socmint leader election")
            cur = await self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,))
            row = await cur.fetchone()
        except psycopg.Error as exc:
            log.warning("leader election: database unreachable: %s", exc)
            await self.release()
            return False
        return bool(row and row[0])

    async def holds(self) -> bool:
        """Whether our session (so our lock) is still alive."""
        import psycopg

        if self._conn is None or self._conn.closed:
            return False
        try:
            await self._conn.execute("SELECT 1")
        except psycopg.Error:
            await self.release()
            return False
        return True

    async def release(self) -> None:
        """Give the lock up by ending the session."""
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            try:
                await conn.close()
            except Exception as exc:  # a dead connection cannot be closed cleanly; the server ends it
                log.debug("closing the leader connection: %s", exc)
