"""Watch changes reach every process: each process's matcher is brought up to date before it matches a batch.

Database triggers (migration 0009) log every watch created, changed or deleted in `watch_changes`; the
latest change id is the watches' version. The pipeline calls `ensure_current` before matching each batch,
which applies what changed since the version this process last applied, through the engine's own
`watch_changed` / `watch_removed` — so a watch added through another process (a replica behind the
webhook, `socmint console`, the other bot) is matched from the next batch on, and its polls are planned
by the leader within moments.

- PostgreSQL: the same trigger notifies channel `socmint_watches`; a LISTEN connection marks the process
  stale, and `ensure_current` costs nothing while nothing changed. While that connection is down (and
  every `RECHECK_S` anyway) the version is read instead.
- SQLite: the version is read before every batch (one indexed query) and polled every
  `database.watch_sync_s`, which is what re-plans polls for a watch added by `socmint console`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from storage import watches
from storage.locks import CONNECT_TIMEOUT_S, is_postgres, libpq_conninfo
from storage.models import Watch

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

CHANNEL = "socmint_watches"
RECHECK_S = 30.0  # PostgreSQL: read the version this often even without a notification
RETRY_MAX_S = 30.0  # longest wait before listening again after the connection broke
KEEP_CHANGES = timedelta(days=1)
PRUNE_EVERY_S = 3600.0


class WatchEngine(Protocol):
    """What keeping in step needs from the engine: its public way to apply one watch's change."""

    async def watch_changed(self, watch: Watch) -> None: ...

    async def watch_removed(self, watch_id: int) -> None: ...


class WatchSync:
    """Applies watch changes made anywhere to this process's engine."""

    def __init__(self, services: Services, engine: WatchEngine) -> None:
        self.services = services
        self.engine = engine
        url = services.db.url
        self.postgres = is_postgres(url)
        self._conninfo = libpq_conninfo(url) if self.postgres else ""
        self.version = 0  # the latest change applied here
        self.applied = 0  # watch changes applied from the log (counting this process's own)
        self.listening = False
        self._stale = True
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def loaded(self, version: int) -> None:
        """Every watch was read at `version` (read before the watches themselves)."""
        self.version = version
        self.services.metrics.watch_version.set(version)

    # keeping up ------------------------------------------------------------------------------------
    async def ensure_current(self) -> None:
        """Apply changes made since the last check (free on PostgreSQL while notified of none)."""
        if self.listening and not self._stale:
            return
        await self.catch_up()

    async def catch_up(self) -> int:
        """Read the change log past our version and apply it; returns how many watches changed."""
        async with self._lock:
            self._stale = False  # first: a notification arriving while we read marks us stale again
            found = await self.services.db.run(lambda s, v=self.version: watches.changes_since(s, v))
            if found.gap:
                log.warning("watch changes were pruned before this process saw them; reloading every watch")
            for watch in found.changed:
                await self.engine.watch_changed(watch)
            for watch_id in found.removed:
                await self.engine.watch_removed(watch_id)
            self.version = found.version
            self.services.metrics.watch_version.set(found.version)
            count = len(found.changed) + len(found.removed)
            self.applied += count
            return count

    # in the background -----------------------------------------------------------------------------
    def start(self) -> None:
        """Listen (PostgreSQL) or poll (SQLite) for changes until `stop`."""
        if self._task is None or self._task.done():
            work = self._listen() if self.postgres else self._poll()
            self._task = asyncio.create_task(work, name="watch-sync")

    async def stop(self) -> None:
        self.listening = False
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _poll(self) -> None:
        every = self.services.settings.database.watch_sync_s
        since_prune = 0.0
        while True:
            await asyncio.sleep(every)
            since_prune += every
            await self._round(prune=since_prune >= PRUNE_EVERY_S)
            since_prune = 0.0 if since_prune >= PRUNE_EVERY_S else since_prune

    async def _listen(self) -> None:
        import psycopg

        wait = 1.0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                        self._conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                        application_name="socmint watch changes") as conn:
                    await conn.execute("LISTEN socmint_watches")
                    self.listening, wait = True, 1.0
                    await self._round(prune=True)  # what changed while nobody listened
                    await self._follow(conn)
            except asyncio.CancelledError:
                raise
            except psycopg.Error as exc:
                log.warning("watch changes: listening failed (%s); reading the version before each batch", exc)
            finally:
                self.listening = False
                self._stale = True
            await asyncio.sleep(wait)
            wait = min(RETRY_MAX_S, wait * 2)

    async def _follow(self, conn: object) -> None:
        """Catch up on each notification, and every RECHECK_S regardless."""
        rounds = 0
        while True:
            async for _ in conn.notifies(timeout=RECHECK_S, stop_after=1):  # type: ignore[attr-defined]
                self._stale = True
            rounds += 1
            await self._round(prune=rounds % int(PRUNE_EVERY_S // RECHECK_S) == 0)

    async def _round(self, *, prune: bool) -> None:
        try:
            await self.catch_up()
            if prune:
                cutoff = self.services.now() - KEEP_CHANGES
                await self.services.db.run(lambda s: watches.prune_changes(s, cutoff))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database may be away for a moment; the next round tries again
            log.warning("watch changes: catching up failed: %s", exc)
            self.services.record_error("watch sync", f"{type(exc).__name__}: {exc}")
