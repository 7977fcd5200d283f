"""The monitoring engine of one bot process: the matcher, the ingest pipeline, the outbox and schedules.

Sources and imports hand posts to `Monitor.ingest`, the one public entry point; the app keeps the
engine in `services.shared` (slot `handlers.monitor.slot.MONITOR`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.reply import Inline
from handlers.monitor.digest import DigestScheduler
from handlers.monitor.heap import LongLivedHeap
from handlers.monitor.matcher import Matcher
from handlers.monitor.outbox import OutboxWorker
from handlers.monitor.pipeline import CursorUpdate, IngestResult, Pipeline
from handlers.monitor.post import Post
from handlers.monitor.query import Query, QueryError, parse_query
from handlers.monitor.scheduler import PollScheduler, registry_sources
from handlers.monitor.signals import SignalAlerts
from handlers.monitor.sources.base import Source
from handlers.monitor.watchsync import WatchSync
from storage import watches
from storage.models import Watch, WatchState

if TYPE_CHECKING:
    from bot.services import Services, StatusSection

log = logging.getLogger(__name__)


class Monitor:
    """Holds the compiled watches and runs posts through storage, matching and delivery."""

    def __init__(self, services: Services, *, sources: Callable[[], dict[str, Source]] | None = None) -> None:
        self.services = services
        self.settings = services.settings.monitor
        self.matcher = Matcher()
        self.pipeline = Pipeline(services.db, self.matcher, self.settings, services.now)
        self.outbox = OutboxWorker(services, self.settings)
        self.polls = PollScheduler(services, self, sources or registry_sources(services))
        self.digests = DigestScheduler(services, self.outbox)
        self.outbox.builders["digest"] = self.digests.build_from_payload
        self.signals = SignalAlerts(services, self.outbox)
        self.sync = WatchSync(services, self)
        self.pipeline.before_match = self.sync.ensure_current
        self.running = False
        self._rebuilding: asyncio.Task[None] | None = None
        self.heap = LongLivedHeap()

    # lifecycle -------------------------------------------------------------------------------
    async def start(self, *, background: bool = True) -> None:
        """Compile every active watch; with `background`, also `lead` (what `socmint run` does as the leader)."""
        version, active = await self.services.db.run(lambda s: (watches.change_version(s), watches.active(s)))
        await asyncio.to_thread(self.load, active)
        self.sync.loaded(version)  # read first: a change between the two reads is applied again, never missed
        if background:
            await self.lead(active)
        await asyncio.to_thread(active.clear)  # freeing thousands of ORM rows is a stall of its own on the loop
        self.heap.settle()

    async def lead(self, active: Sequence[Watch] | None = None) -> None:
        """The leader's work: deliver alerts, run polling, digest and signal jobs.

        Delivery is leader-only until the outbox is claimed per chat in the database (#15 part B); then every
        process delivers.
        """
        self.running = True
        self.outbox.start()
        await self.polls.rebuild(active)
        await self.digests.rebuild()
        self.digests.start()
        self.signals.start()

    async def follow(self) -> None:
        """Stop the leader's work (leadership moved elsewhere, or shutdown)."""
        self.running = False
        if self._rebuilding is not None:
            await self._rebuilding
        self.signals.stop()
        self.digests.stop()
        await self.polls.stop()
        await self.outbox.stop()

    async def stop(self) -> None:
        await self.sync.stop()
        await self.follow()

    # the public entry point ------------------------------------------------------------------
    async def ingest(
        self, posts: Iterable[Post], *, alert: bool = True, cursor: CursorUpdate | None = None,
        only_matching: bool = False, sample: float = 0.0,
    ) -> IngestResult:
        """Store, de-duplicate and match posts; queue alerts (unless `alert` is false) and wake delivery.

        `cursor` is saved in the same transaction as the last batch; `only_matching` drops posts no
        watch matches but a `sample` share of them (for firehoses). Imports of old data pass `alert=False`.
        """
        result = await self.pipeline.ingest(posts, alert=alert, cursor=cursor, only_matching=only_matching,
                                            sample=sample)
        self._count(result)
        if result.alerts:
            self.outbox.wake()
        return result

    def _count(self, result: IngestResult) -> None:
        metrics = self.services.metrics
        metrics.posts_received.inc(result.received)
        metrics.posts_ingested.inc(result.stored)
        metrics.matches.inc(result.matches)
        metrics.alerts_queued.labels("alert").inc(result.alerts)

    # watch changes ---------------------------------------------------------------------------
    def load(self, active: Iterable[Watch]) -> None:
        """Parse and compile many watches with one rebuild (CPU work: run it in a worker thread)."""
        self.matcher.add_many(c for c in map(self._compiled, active) if c is not None)

    def compile(self, watch: Watch) -> Query | None:
        """Put an active watch into the matcher (or replace it); others are taken out. Its query, if active."""
        compiled = self._compiled(watch)
        if compiled is None:
            self.matcher.remove(watch.id or 0)
        else:
            self.matcher.add(*compiled)
        self._rebuild_if_due()
        return None if compiled is None else compiled[1]

    def _rebuild_if_due(self) -> None:
        """After many changes, choose the matcher's anchors afresh in a worker thread (matching goes on)."""
        self.heap.changed()
        if not self.matcher.needs_rebuild or (self._rebuilding is not None and not self._rebuilding.done()):
            return
        self._rebuilding = asyncio.get_running_loop().create_task(asyncio.to_thread(self.matcher.rebuild))

    def _compiled(self, watch: Watch) -> tuple[int, Query, frozenset[str] | None] | None:
        """What the matcher needs for an active watch; None when paused or its query no longer parses."""
        if watch.id is None or watch.state != WatchState.ACTIVE:
            return None
        try:
            query = parse_query(watch.query)
        except QueryError as exc:
            log.warning("watch %s has a query that no longer parses: %s", watch.id, exc)
            self.services.record_error("watch", f"watch {watch.id} skipped: {exc}")
            return None
        return (watch.id, query, frozenset(watch.sources) or None)

    async def watch_changed(self, watch: Watch) -> None:
        """A watch was added, paused, resumed or edited: match with it at once and re-plan its polling."""
        query = self.compile(watch)
        if self.running:
            self.polls.watch_changed(watch, query)

    async def watch_removed(self, watch_id: int) -> None:
        self.matcher.remove(watch_id)
        self._rebuild_if_due()
        if self.running:
            self.polls.watch_removed(watch_id)

    # /status ---------------------------------------------------------------------------------
    async def status(self, services: Services) -> StatusSection:
        """Queue depth and watch counts for /status."""

        def read(session):  # type: ignore[no-untyped-def]
            return watches.outbox_counts(session), watches.oldest_pending(session), watches.count_active(session)

        counts, oldest, active = await services.db.run(read)
        pending = counts.get("pending", 0)
        items: list[tuple[str, Inline | list[Inline]]] = [
            ("active watches", str(active)),
            ("alerts queued", str(pending)),
        ]
        if oldest is not None and pending:
            age = services.now() - oldest
            items.append(("oldest queued", _age(age)))
        if counts.get("failed"):
            items.append(("alerts failed", str(counts["failed"])))
        if self.outbox.blocked:
            items.append(("waiting for", ", ".join(sorted(self.outbox.blocked))))
        items.append(("polling", self.polls.describe() if self.running else "off in this process"))
        return ("Monitoring", items)


def _age(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"
