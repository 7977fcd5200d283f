"""Wiring: builds the services, the router and the surfaces, and runs them in one event loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.command import CommandSet
from bot.router import Registry, Router
from bot.services import Services
from bot.surfaces.base import Surface
from config.settings import Settings
from handlers.catalog import command_sets
from handlers.fetch import PoliteFetcher, make_client
from storage import identity
from storage.db import Database
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
        db = Database(settings.database.url or "")
        http = make_client(settings, **({"transport": http_transport} if http_transport else {}))
        self.services = Services(settings=settings, db=db, http=http, scheduler=AsyncIOScheduler(timezone=UTC))
        if clock:
            self.services.clock = clock
            self.services.started_at = clock()
        self.services.extras["fetcher"] = PoliteFetcher(http)
        self.registry = Registry(self.sets)
        self.router = Router(self.services, self.registry)
        self.services.router = self.router
        self.surfaces: list[Surface] = []
        self._started = False

    async def start(self, surfaces: Iterable[Surface] = ()) -> None:
        """Migrate, seed owners, run feature start hooks, start the scheduler and every surface."""
        await asyncio.to_thread(self.services.db.migrate)
        await self.services.db.run(lambda s: identity.ensure_owners(s, self.settings.admins))
        if not self.services.scheduler.running:
            self.services.scheduler.start()
        for command_set in self.sets:
            for hook in command_set.starters:
                await hook(self.services)
        for surface in surfaces:
            await self.add_surface(surface)
        self._started = True

    async def add_surface(self, surface: Surface) -> None:
        """Start a surface; a failure is logged and recorded, and never stops the others."""
        self.surfaces.append(surface)
        self.services.surfaces[surface.name] = surface
        try:
            await surface.start()
        except Exception as exc:
            log.error("surface %s failed to start: %s", surface.name, exc)
            self.services.record_error(surface.name, f"failed to start: {exc}")

    async def stop(self) -> None:
        """Stop surfaces, then feature hooks, scheduler, in-flight commands, HTTP and database."""
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


def now_utc() -> datetime:
    return datetime.now(UTC)
