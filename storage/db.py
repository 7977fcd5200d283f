"""The database handle: one engine, sessions run off the event loop, migrations at start-up."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import ORMExecuteState, UOWTransaction
from sqlmodel import Session, create_engine

import storage.models  # noqa: F401  (registers every table)
from storage.locks import migration_lock
from storage.private import PRIVATE_DIR, private_file, tighten

T = TypeVar("T")
log = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).with_name("migrations")
_WROTE = "socmint_wrote"  # Session.info key: this transaction changed rows


class FirstWrite(ABC):
    """Rows that must commit with the first transaction of a task that writes, or before it acts outside.

    A chat command's audit entry and the "update handled" mark of the update it came from are one: committed
    in the same transaction as the command's first change, a crash leaves both or neither (see `first_write`).
    """

    def __init__(self) -> None:
        self.done = False
        self.lock = threading.Lock()  # one transaction carries the rows, even when two commit at once

    @abstractmethod
    def write(self, session: Session) -> None:
        """Add the rows to `session`."""

    def committed(self) -> None:
        """The transaction that carried the rows committed."""
        self.done = True


_joining: ContextVar[FirstWrite | None] = ContextVar("first_write", default=None)


@contextmanager
def first_write(rows: FirstWrite | None) -> Iterator[None]:
    """In this block, and in tasks started in it, the first `Database.run` that writes also commits `rows`."""
    token = _joining.set(rows)
    try:
        yield
    finally:
        _joining.reset(token)


@event.listens_for(Session, "do_orm_execute")
def _note_statement(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[_WROTE] = True


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, _context: UOWTransaction) -> None:
    session.info[_WROTE] = True


def _wrote(session: Session) -> bool:
    """Whether the session's transaction changes anything (flushed, executed or still pending)."""
    return bool(session.info.get(_WROTE) or session.new or session.dirty or session.deleted)


def _commit_with(session: Session, rows: FirstWrite) -> bool:
    """Add `rows` to the session's transaction and commit, unless another transaction did; True when this one did."""
    with rows.lock:
        if rows.done:
            return False
        rows.write(session)
        session.commit()
        rows.committed()
        return True


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


class MissingDriver(RuntimeError):
    """The database URL needs a driver that is not installed; the message says how to install it."""


def _without_nul(value: object) -> object:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    return value


def postgres_json(value: object) -> str:
    """JSON for a jsonb column: jsonb cannot hold \\u0000, so NUL characters in relayed data are dropped."""
    dumped = json.dumps(value)
    return json.dumps(_without_nul(value)) if "\\u0000" in dumped else dumped


def postgres_url(url: str) -> str:
    """A PostgreSQL URL with psycopg 3 as its driver unless another one is named."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername == "postgresql+psycopg":
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise MissingDriver("database.url is PostgreSQL but its driver is not installed: "
                                "pip install 'socmint-bot[postgres]'") from None
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str) -> Engine:
    """An engine for any SQLAlchemy URL; SQLite gets WAL, foreign keys and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return create_engine(postgres_url(url), pool_pre_ping=True, json_serializer=postgres_json)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        _private_database(Path(parsed.database))
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _private_database(path: Path) -> None:
    """The database file 0600 before SQLite opens it (its WAL and SHM files then take the same mode)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    private_file(path)
    for companion in (Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        tighten(companion)


def alembic_config(url: str):  # -> alembic.config.Config
    """An Alembic config pointing at the packaged migrations and `url`."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str, revision: str = "heads") -> None:
    """Bring the schema at `url` up to `revision` (all heads by default); data is kept.

    One process at a time (storage.locks.migration_lock): the others wait, then find nothing left to do.
    """
    from alembic import command

    engine = make_engine(url)
    try:
        with migration_lock(engine):
            command.upgrade(alembic_config(url), revision)
    finally:
        engine.dispose()


class Database:
    """Runs session work in worker threads so the event loop never waits on the database."""

    def __init__(self, url: str, *, workers: int = 4) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="db")

    def migrate(self) -> None:
        migrate(self.url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error (blocking: threads and CLI)."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def _run_sync(self, fn: Callable[[Session], T], joining: FirstWrite | None, force: bool) -> T:
        with self.session() as session:
            result = fn(session)
            if joining is not None and (force or _wrote(session)):
                _commit_with(session, joining)
            return result

    async def run(self, fn: Callable[[Session], T], *, carrying: FirstWrite | None = None) -> T:
        """Run `fn(session)` in a worker thread and commit; returns what `fn` returns.

        Inside `first_write(rows)`, the first call whose transaction writes commits `rows` with it;
        `carrying` rows commit with this transaction whatever it does (unless committed before).
        """
        joining, force = (carrying, True) if carrying is not None and not carrying.done else (_joining.get(), False)
        if joining is not None and joining.done:
            joining = None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._run_sync, fn, joining, force)

    def _settle_sync(self, rows: FirstWrite) -> bool:
        with self.session() as session:
            return _commit_with(session, rows)

    async def settle(self, rows: FirstWrite | None) -> bool:
        """Commit `rows` now unless a transaction already has (before acting outside the database).

        Returns whether this call committed them.
        """
        if rows is None or rows.done:
            return False
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._settle_sync, rows)

    @property
    def size_bytes(self) -> int | None:
        """The database file size (SQLite with its WAL), or None for a server database."""
        parsed = make_url(self.url)
        if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
            return None
        base = Path(parsed.database)
        return sum(p.stat().st_size for p in (base, Path(f"{base}-wal")) if p.exists())

    @property
    def display_url(self) -> str:
        """The URL with any password hidden."""
        return make_url(self.url).render_as_string(hide_password=True)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.engine.dispose()
