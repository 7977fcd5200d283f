"""Wiring: builds the services, the router and the surfaces, and runs them in one event loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.command import CommandSet
from bot.leadership import Leadership
from bot.ops import OpsServer
from bot.registry import Registry
from bot.router import Router
from bot.services import Services
from bot.surfaces.base import SingleReceiver, Surface
from config.settings import Settings
from handlers.catalog import command_sets
from handlers.fetch import make_client
from storage import identity
from storage.db import Database
from storage.locks import AdvisoryLeaderLock, RunGuard, is_postgres, sqlite_file
from storage.private import private_dir

log = logging.getLogger(__name__)


class App:
    """One bot process: services, router, surfaces and scheduler, started and stopped together."""

    def __init__(
        self,
        settings: Settings,
        *,
        sets: Iterable[CommandSet] | None = None,
        clock: Callable[[], datetime] | None = None,
        http_transport: object | None = None,
    ) -> None:
        self.settings = settings
        self.sets = list(command_sets() if sets is None else sets)
        private_dir(settings.data_dir)
        url = settings.database.url or ""
        db = Database(url)
        http = make_client(settings, **({"transport": http_transport} if http_transport else {}))
        lock = AdvisoryLeaderLock(url) if is_postgres(url) else None
        self.services = Services(settings=settings, db=db, http=http, scheduler=AsyncIOScheduler(timezone=UTC),
                                 leadership=Leadership(lock, check_s=settings.database.leader_check_s))
        if clock:
            self.services.clock = clock
            self.services.started_at = clock()
        self.registry = Registry(self.sets)
        self.router = Router(self.services, self.registry)
        self.surfaces: list[Surface] = []
        self.ops: OpsServer | None = None
        self._guard: RunGuard | None = None
        self._started = False

    async def start(self, surfaces: Iterable[Surface] = ()) -> None:
        """Migrate, seed owners, run feature start hooks, start the scheduler and every surface, then take part
        in the leader election (with background work on).

        On SQLite a second bot with background work on the same file is refused (storage.locks.AlreadyRunning).
        """
        database = sqlite_file(self.services.db.url)
        if self.services.background and database is not None:
            self._guard = RunGuard(database)
            self._guard.acquire()
        await asyncio.to_thread(self.services.db.migrate)
        await self.services.db.run(lambda s: identity.ensure_owners(s, self.settings.admins))
        if not self.services.scheduler.running:
            self.services.scheduler.start()
        for command_set in self.sets:
            for hook in command_set.starters:
                await hook(self.services)
        for surface in surfaces:
            await self.add_surface(surface)
        if self.services.background:
            await self.services.leadership.start()
        ops = self.settings.ops
        if self.services.background and ops.port is not None:
            self.ops = OpsServer(self.services, ops.listen, ops.port)
            await self.ops.start()
        self._started = True

    async def add_surface(self, surface: Surface) -> None:
        """Start a surface; a failure is logged and recorded, and never stops the others.

        A surface whose platform allows one receiver per bot (long polling, a gateway) receives in the leader
        only; any other receives in every process.
        """
        self.surfaces.append(surface)
        self.services.surfaces[surface.name] = surface
        try:
            await surface.start()
        except Exception as exc:
            log.error("surface %s failed to start: %s", surface.name, exc)
            self.services.record_error(surface.name, f"failed to start: {exc}")
            return
        if not isinstance(surface, SingleReceiver):
            return
        if surface.single_receiver and self.services.background:
            await self.services.leadership.add_duty(f"receive {surface.name}", surface.start_receiving,
                                                    surface.stop_receiving)
        else:
            await surface.start_receiving()

    async def stop(self) -> None:
        """Hand leadership over, then stop surfaces, feature hooks, scheduler, in-flight commands, HTTP, database."""
        await self.services.leadership.stop()
        if self.ops is not None:
            await self.ops.stop()
        for surface in reversed(self.surfaces):
            try:
                await surface.stop()
            except Exception:
                log.exception("surface %s did not stop cleanly", surface.name)
        for command_set in reversed(self.sets):
            for hook in command_set.stoppers:
                try:
                    await hook(self.services)
                except Exception:
                    log.exception("stop hook failed")
        if self.services.scheduler.running:
            self.services.scheduler.shutdown(wait=False)
        for task in list(self.router.inflight):
            task.cancel()
        await self.services.http.aclose()
        self.services.db.close()
        if self._guard is not None:
            self._guard.release()
            self._guard = None

    def chat_surfaces(self) -> list[Surface]:
        """The chat surfaces whose tokens are configured."""
        found: list[Surface] = []
        if self.settings.telegram.token:
            from bot.surfaces.telegram import TelegramSurface

            found.append(TelegramSurface(self.services, self.router))
        if self.settings.discord.token:
            try:
                from bot.surfaces.discord import DiscordSurface
            except ImportError as exc:
                log.error("Discord token set but the Discord surface is unavailable: %s", exc)
            else:
                found.append(DiscordSurface(self.services, self.router))
        return found
