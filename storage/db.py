"""The database handle: one engine, sessions run off the event loop, migrations at start-up."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

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


class Lane(StrEnum):
    """Which worker threads run a piece of database work."""

    INTERACTIVE = "interactive"  # access checks, audit entries, commands' small reads and writes, delivery
    BULK = "bulk"  # analyses and scans over many rows (/watch test, /coord...): never ahead of interactive work


_lane: ContextVar[Lane] = ContextVar("db_lane", default=Lane.INTERACTIVE)


@contextmanager
def bulk_lane(on: bool = True) -> Iterator[None]:
    """In this block, and in tasks started in it, `Database.run` uses the bulk lane (when `on`)."""
    token = _lane.set(Lane.BULK) if on else None
    try:
        yield
    finally:
        if token is not None:
            _lane.reset(token)


_stops: ContextVar[bool] = ContextVar("db_stops_when_cancelled", default=False)


@contextmanager
def stops_when_cancelled() -> Iterator[None]:
    """In this block, and in tasks started in it, database work stops when its awaiting task is cancelled.

    For commands (a timeout means nobody wants the result). Elsewhere a cancelled await lets the work finish,
    so a stop never undoes the record of something already done outside (an alert marked sent).
    """
    token = _stops.set(True)
    try:
        yield
    finally:
        _stops.reset(token)


class Cancelled(Exception):
    """The command awaiting this database work was cancelled (a timeout, a stop): the work stopped early."""


CANCEL_AGAIN_S = 0.25  # PostgreSQL: how often a cancel is repeated until the cancelled work lets go


class Cancellation:
    """The flag a cancelled `Database.run` raises for its worker thread, which stops at the next check.

    SQLite checks it while a statement runs (a progress handler); on PostgreSQL the running statement is
    cancelled on the server; Python loops over batches call `checkpoint()`.
    """

    def __init__(self) -> None:
        self._set = threading.Event()
        self._lock = threading.Lock()
        self._server: Any = None  # the PostgreSQL connection while this work holds it
        self._released = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self._set.is_set()

    def cancel(self) -> None:
        """Stop the work (from the event loop: a server-side cancel is sent from a short-lived thread)."""
        self._set.set()
        if self._server is not None:
            threading.Thread(target=self._cancel_statement, name="db-cancel", daemon=True).start()

    def _cancel_statement(self) -> None:
        """Cancel the running statement, again until the work lets go (a cancel between statements is lost)."""
        while True:
            with self._lock:  # the connection stays this work's until `release`
                if self._server is None:
                    return
                with contextlib.suppress(Exception):  # the statement may have ended meanwhile
                    self._server.cancel_safe()
            if self._released.wait(CANCEL_AGAIN_S):
                return

    def hold(self, session: Session) -> None:
        """The work's session holds a PostgreSQL connection: a cancel reaches its running statement."""
        if session.get_bind().dialect.name == "postgresql":
            with self._lock:
                self._server = session.connection().connection.dbapi_connection
        checkpoint()

    def release(self) -> None:
        """The connection goes back to the pool: a late cancel must not reach the next work on it."""
        with self._lock:
            self._server = None
        self._released.set()


_worker = threading.local()  # .cancellation: the Cancellation of the work this worker thread runs


def checkpoint() -> None:
    """Raise `Cancelled` when the work this worker thread runs was cancelled (call it between batches)."""
    cancellation: Cancellation | None = getattr(_worker, "cancellation", None)
    if cancellation is not None and cancellation.cancelled:
        raise Cancelled("the command was cancelled")


def _interrupted() -> int:
    """SQLite's progress handler: non-zero aborts the running statement of cancelled work."""
    cancellation: Cancellation | None = getattr(_worker, "cancellation", None)
    return 1 if cancellation is not None and cancellation.cancelled else 0


SQLITE_CHECK_EVERY = 10_000  # SQLite virtual machine steps between checks of the cancellation flag


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
    dbapi_conn.set_progress_handler(_interrupted, SQLITE_CHECK_EVERY)  # type: ignore[attr-defined]


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
    """Runs session work in worker threads so the event loop never waits on the database.

    Two lanes of threads: interactive work (access checks, audit entries, small reads and writes) never queues
    behind bulk work (analyses over many rows), which has threads of its own.
    """

    def __init__(self, url: str, *, workers: int = 4, bulk_workers: int = 2) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._pools = {
            Lane.INTERACTIVE: ThreadPoolExecutor(max_workers=workers, thread_name_prefix="db"),
            Lane.BULK: ThreadPoolExecutor(max_workers=bulk_workers, thread_name_prefix="db-bulk"),
        }

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

    def _run_sync(self, fn: Callable[[Session], T], joining: FirstWrite | None, force: bool,
                  cancellation: Cancellation) -> T:
        _worker.cancellation = cancellation
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                try:
                    cancellation.hold(session)
                    result = fn(session)
                    if joining is not None and (force or _wrote(session)):
                        _commit_with(session, joining)
                    session.commit()
                    return result
                except BaseException:
                    cancellation.release()  # no cancel may reach the rollback
                    session.rollback()
                    raise
                finally:
                    cancellation.release()
        finally:
            _worker.cancellation = None

    async def run(self, fn: Callable[[Session], T], *, carrying: FirstWrite | None = None,
                  lane: Lane | None = None) -> T:
        """Run `fn(session)` in a worker thread and commit; returns what `fn` returns.

        Inside `first_write(rows)`, the first call whose transaction writes commits `rows` with it;
        `carrying` rows commit with this transaction whatever it does (unless committed before).
        The lane is `lane`, else the bulk lane inside `bulk_lane()`, else the interactive one. Inside
        `stops_when_cancelled()`, when the awaiting task is cancelled the work stops too (`Cancellation`) and
        its transaction rolls back; work not yet started never runs, in any case.
        """
        joining, force = (carrying, True) if carrying is not None and not carrying.done else (_joining.get(), False)
        if joining is not None and joining.done:
            joining = None
        cancellation = Cancellation()
        loop = asyncio.get_running_loop()
        pool = self._pools[lane or _lane.get()]
        try:
            return await loop.run_in_executor(pool, self._run_sync, fn, joining, force, cancellation)
        except asyncio.CancelledError:
            if _stops.get():
                cancellation.cancel()
            raise

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
        return await loop.run_in_executor(self._pools[Lane.INTERACTIVE], self._settle_sync, rows)

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
        for pool in self._pools.values():
            pool.shutdown(wait=True)
        self.engine.dispose()
