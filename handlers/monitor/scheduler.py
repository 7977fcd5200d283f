"""Polling plans: which source is asked what, how often, and from which persisted cursor.

One APScheduler interval job per source (`poll:<source>`) runs at the shortest interval any of its
watches asks for, with jitter; each run polls only the watches that are due. Cursors are saved in
the same transaction as the posts they led to, so a restart resumes where polling stopped. Jobs
live in memory and are rebuilt from the watches table at start-up and on every watch change.
Sources with `firehose = true` in their settings are streamed instead of searched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from apscheduler.triggers.interval import IntervalTrigger

from handlers.monitor.pipeline import CursorUpdate, IngestResult, load_cursor
from handlers.monitor.post import Post
from handlers.monitor.query import QueryError, TermKind, parse_query
from handlers.monitor.sources.base import NeedsKey, NotSupported, Page, Source
from storage import watches
from storage.models import Watch

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 300.0
STREAM_FLUSH_POSTS = 200
STREAM_FLUSH_S = 1.0
STREAM_RETRY_MAX_S = 300.0


class Ingests(Protocol):
    """What polling needs from the engine."""

    async def ingest(
        self, posts: Sequence[Post], *, alert: bool = True, cursor: CursorUpdate | None = None,
        only_matching: bool = False,
    ) -> IngestResult: ...


@dataclass(frozen=True)
class WatchPlan:
    """What to ask one source for one watch: search terms, accounts to follow, how often."""

    watch_id: int
    terms: tuple[str, ...]
    accounts: tuple[str, ...]
    interval_s: float


def registry_sources(services: Services) -> Callable[[], dict[str, Source]]:
    """The source registry when it is installed, else no sources (the engine still ingests imports)."""

    def load() -> dict[str, Source]:
        try:
            from handlers.monitor.sources.registry import available_sources
        except ImportError:
            return {}
        return available_sources(services)

    return load


def plan_polls(
    active: Sequence[Watch], sources: dict[str, Source], interval_for: Callable[[str], float], min_poll_s: float
) -> dict[str, list[WatchPlan]]:
    """Per source, the watches to poll there (sources without a key are left out)."""
    plans: dict[str, list[WatchPlan]] = {}
    for watch in active:
        try:
            query = parse_query(watch.query)
        except QueryError:
            continue
        named = set(watch.sources)
        in_query = {t.value for t in query.positive if t.kind is TermKind.SOURCE}
        if in_query:
            named = named & in_query if named else in_query
        terms = tuple(dict.fromkeys(str(t) for t in query.positive if t.kind in (TermKind.TEXT, TermKind.TAG)))
        # accounts are followed only on sources the watch names: a handle means nothing across sites
        accounts = tuple(t.value for t in query.positive if t.kind is TermKind.AUTHOR) if named else ()
        for name, source in sources.items():
            if (named and name not in named) or not source.configured() or not (terms or accounts):
                continue
            interval = max(min_poll_s, float(watch.interval_s or interval_for(name)))
            plans.setdefault(name, []).append(WatchPlan(watch.id or 0, terms, accounts, interval))
    return plans


class PollScheduler:
    """Keeps one polling job per source in line with the active watches, and runs the polls."""

    def __init__(self, services: Services, engine: Ingests, sources: Callable[[], dict[str, Source]]) -> None:
        self.services = services
        self.engine = engine
        self.settings = services.settings.monitor
        self._load_sources = sources
        self._sources: dict[str, Source] | None = None
        self.plans: dict[str, list[WatchPlan]] = {}
        self.intervals: dict[str, float] = {}
        self.unsupported: dict[str, str] = {}  # "source:what" → why it is skipped
        self._last_polled: dict[tuple[str, int], datetime] = {}
        self._streams: dict[str, asyncio.Task[None]] = {}

    @property
    def sources(self) -> dict[str, Source]:
        if self._sources is None:
            self._sources = self._load_sources()
        return self._sources

    def _interval_for(self, name: str) -> float:
        section = getattr(self.services.settings.sources, name, None)
        return float(getattr(section, "interval_s", DEFAULT_INTERVAL_S))

    def _streams_for(self, name: str) -> bool:
        return bool(getattr(getattr(self.services.settings.sources, name, None), "firehose", False))

    # jobs --------------------------------------------------------------------------------------
    async def rebuild(self) -> None:
        """Bring the polling jobs and streams in line with the active watches."""
        active = await self.services.db.run(watches.active)
        self.plans = plan_polls(active, self.sources, self._interval_for, self.settings.min_poll_s)
        scheduler = self.services.scheduler
        for name, plan in self.plans.items():
            if self._streams_for(name):
                self._start_stream(name)
            interval = min(p.interval_s for p in plan)
            job_id = f"poll:{name}"
            if self.intervals.get(name) == interval and scheduler.get_job(job_id) is not None:
                continue
            self.intervals[name] = interval
            first = self.services.now() + timedelta(seconds=min(10.0, interval))
            scheduler.add_job(
                self.poll, IntervalTrigger(seconds=interval, jitter=self.settings.poll_jitter_s),
                id=job_id, name=f"poll {name}", args=[name], replace_existing=True,
                coalesce=True, max_instances=1, misfire_grace_time=int(interval), next_run_time=first,
            )
        for name in list(self.intervals):
            if name not in self.plans:
                del self.intervals[name]
                if scheduler.get_job(f"poll:{name}") is not None:
                    scheduler.remove_job(f"poll:{name}")
        for name in list(self._streams):
            if name not in self.plans:
                self._streams.pop(name).cancel()

    async def stop(self) -> None:
        for name in list(self.intervals):
            if self.services.scheduler.get_job(f"poll:{name}") is not None:
                self.services.scheduler.remove_job(f"poll:{name}")
        self.intervals.clear()
        tasks = list(self._streams.values())
        self._streams.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def describe(self) -> str:
        """One line for /status: each polled source, its interval and watch count."""
        if not self.plans:
            return "nothing to poll"
        parts = []
        for name, plan in sorted(self.plans.items()):
            how = "stream" if name in self._streams else f"every {int(self.intervals.get(name, 0))}s"
            parts.append(f"{name} {how} ({len(plan)} watches)")
        return "; ".join(parts)

    # one poll ------------------------------------------------------------------------------------
    async def poll(self, name: str, *, force: bool = False) -> IngestResult:
        """Ask source `name` for what each due watch wants, ingesting each page with its cursor."""
        total = IngestResult()
        source = self.sources.get(name)
        if source is None:
            return total
        job_interval = self.intervals.get(name, 0.0)
        streaming = name in self._streams
        for plan in list(self.plans.get(name, ())):
            if not force and not self._due(name, plan, job_interval):
                continue
            self._last_polled[(name, plan.watch_id)] = self.services.now()
            if plan.terms and not streaming:
                total.add(await self._fetch(source, "search", f"watch:{plan.watch_id}",
                                            lambda c, p=plan: source.search(p.terms, c)))
            for handle in plan.accounts:
                total.add(await self._fetch(source, "account_feed", f"account:{handle}",
                                            lambda c, h=handle: source.account_feed(h, c)))
        return total

    def _due(self, name: str, plan: WatchPlan, job_interval: float) -> bool:
        last = self._last_polled.get((name, plan.watch_id))
        if last is None:
            return True
        slack = job_interval / 2
        return (self.services.now() - last).total_seconds() >= plan.interval_s - slack

    async def _fetch(
        self, source: Source, what: str, key: str, call: Callable[[str | None], Awaitable[Page]]
    ) -> IngestResult:
        label = f"{source.name}:{what}"
        if label in self.unsupported:
            return IngestResult()
        cursor = await self.services.db.run(lambda s: load_cursor(s, source.name, key))
        try:
            page = await call(cursor)
        except (NotSupported, NeedsKey) as exc:
            self.unsupported[label] = str(exc)
            log.info("%s skipped: %s", label, exc)
            return IngestResult()
        except Exception as exc:  # a source outage never stops the other watches or sources
            log.warning("poll %s (%s) failed: %s", label, key, exc)
            self.services.record_error(f"poll {source.name}", f"{type(exc).__name__}: {exc}")
            return IngestResult()
        return await self.engine.ingest(page.posts, cursor=CursorUpdate(source.name, key, page.cursor))

    # streams -------------------------------------------------------------------------------------
    def _start_stream(self, name: str) -> None:
        task = self._streams.get(name)
        if task is None or task.done():
            self._streams[name] = asyncio.create_task(self._run_stream(name), name=f"stream:{name}")

    async def _run_stream(self, name: str) -> None:
        """Consume a source's stream for good, keeping only posts some watch matches."""
        source = self.sources[name]
        wait = 1.0
        while True:
            try:
                await self._consume(source)
                wait = 1.0
            except NotSupported as exc:
                self.unsupported[f"{name}:stream"] = str(exc)
                self._streams.pop(name, None)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("stream %s failed: %s", name, exc)
                self.services.record_error(f"stream {name}", f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(wait)
            wait = min(STREAM_RETRY_MAX_S, wait * 2)

    async def _consume(self, source: Source) -> None:
        """Read the stream, handing posts over in batches (at most STREAM_FLUSH_S old) with their cursor."""
        cursor = await self.services.db.run(lambda s: load_cursor(s, source.name, "stream"))
        stream = aiter(source.stream(cursor))
        buffer: list[Post] = []
        position: str | None = None
        pending: asyncio.Future[tuple[Post, str]] = asyncio.ensure_future(anext(stream))
        try:
            while True:
                done, _ = await asyncio.wait({pending}, timeout=STREAM_FLUSH_S if buffer else None)
                ended = False
                if pending in done:
                    try:
                        post, position = pending.result()
                    except StopAsyncIteration:
                        ended = True
                    else:
                        buffer.append(post)
                        pending = asyncio.ensure_future(anext(stream))
                        if len(buffer) < STREAM_FLUSH_POSTS:
                            continue
                if buffer:
                    await self.engine.ingest(buffer, cursor=CursorUpdate(source.name, "stream", position),
                                             only_matching=True)
                    buffer = []
                if ended:
                    return
        finally:
            pending.cancel()
