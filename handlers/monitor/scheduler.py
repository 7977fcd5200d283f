"""Polling plans: which source is asked what, how often, and from which persisted cursor.

One APScheduler interval job per source (`poll:<source>`) runs at the shortest interval any of its
watches asks for, with jitter; each run polls only the watches that are due. Cursors are saved in
the same transaction as the posts they led to, so a restart resumes where polling stopped. Jobs
live in memory: planned from the watches table at start-up (the queries parsed in a worker thread),
then changed one watch at a time as watches are added, changed and removed. Sources with
`firehose = true` in their settings are streamed instead of searched (stream.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.triggers.interval import IntervalTrigger

from handlers.monitor.pipeline import CursorUpdate, IngestResult, load_cursor
from handlers.monitor.query import Query, QueryError, TermKind, parse_query
from handlers.monitor.sources.base import NeedsKey, NotSupported, Page, Source
from handlers.monitor.stream import CURSOR_KEY, Ingests, StreamConsumer
from storage import watches
from storage.models import Watch, WatchState

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 300.0
STREAM_RETRY_MAX_S = 300.0


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


def plan_watch(
    watch: Watch, sources: dict[str, Source], interval_for: Callable[[str], float], min_poll_s: float,
    query: Query | None = None,
) -> dict[str, WatchPlan]:
    """Per source, what to poll there for one watch (none when it is not active or its query does not parse;
    sources without a key are left out). `query` is the watch's query when already parsed."""
    if watch.state != WatchState.ACTIVE:
        return {}
    if query is None:
        try:
            query = parse_query(watch.query)
        except QueryError:
            return {}
    named = set(watch.sources)
    in_query = {t.value for t in query.positive if t.kind is TermKind.SOURCE}
    if in_query:
        named = named & in_query if named else in_query
    terms = tuple(dict.fromkeys(str(t) for t in query.positive if t.kind in (TermKind.TEXT, TermKind.TAG)))
    # accounts are followed only on sources the watch names: a handle means nothing across sites
    accounts = tuple(t.value for t in query.positive if t.kind is TermKind.AUTHOR) if named else ()
    if not (terms or accounts):
        return {}
    plans = {}
    for name, source in sources.items():
        if (named and name not in named) or not source.configured():
            continue
        interval = max(min_poll_s, float(watch.interval_s or interval_for(name)))
        plans[name] = WatchPlan(watch.id or 0, terms, accounts, interval)
    return plans


def plan_polls(
    active: Iterable[Watch], sources: dict[str, Source], interval_for: Callable[[str], float], min_poll_s: float
) -> dict[str, list[WatchPlan]]:
    """Per source, the watches to poll there."""
    plans: dict[str, list[WatchPlan]] = {}
    for watch in active:
        for name, plan in plan_watch(watch, sources, interval_for, min_poll_s).items():
            plans.setdefault(name, []).append(plan)
    return plans


class PollScheduler:
    """Keeps one polling job per source in line with the active watches, and runs the polls."""

    def __init__(self, services: Services, engine: Ingests, sources: Callable[[], dict[str, Source]]) -> None:
        self.services = services
        self.engine = engine
        self.settings = services.settings.monitor
        self._load_sources = sources
        self._sources: dict[str, Source] | None = None
        self._plans: dict[str, dict[int, WatchPlan]] = {}  # source → watch id → plan
        self._interval_counts: dict[str, Counter[float]] = {}  # source → interval → watches asking for it
        self.intervals: dict[str, float] = {}
        self.unsupported: dict[str, str] = {}  # "source:what" → why it is skipped
        self.consumers: dict[str, StreamConsumer] = {}
        self._last_polled: dict[tuple[str, int], datetime] = {}
        self._streams: dict[str, asyncio.Task[None]] = {}

    @property
    def sources(self) -> dict[str, Source]:
        if self._sources is None:
            self._sources = self._load_sources()
        return self._sources

    @property
    def plans(self) -> dict[str, list[WatchPlan]]:
        """Per source, the watches polled there."""
        return {name: list(plan.values()) for name, plan in self._plans.items() if plan}

    def _interval_for(self, name: str) -> float:
        section = getattr(self.services.settings.sources, name, None)
        return float(getattr(section, "interval_s", DEFAULT_INTERVAL_S))

    def _streams_for(self, name: str) -> bool:
        return bool(getattr(getattr(self.services.settings.sources, name, None), "firehose", False))

    def _sample_for(self, name: str) -> float:
        return float(getattr(getattr(self.services.settings.sources, name, None), "firehose_sample", 0.0))

    # jobs --------------------------------------------------------------------------------------
    async def rebuild(self, active: Sequence[Watch] | None = None) -> None:
        """Plan every active watch (read afresh unless given; queries parsed in a worker thread) and bring the
        jobs in line."""
        if active is None:
            active = await self.services.db.run(watches.active)
        sources = self.sources

        def index() -> tuple[dict[str, dict[int, WatchPlan]], dict[str, Counter[float]]]:
            plans = plan_polls(active, sources, self._interval_for, self.settings.min_poll_s)
            return ({name: {p.watch_id: p for p in plan} for name, plan in plans.items()},
                    {name: Counter(p.interval_s for p in plan) for name, plan in plans.items()})

        plans, counts = await asyncio.to_thread(index)  # at 20k watches the indexing alone is a stall
        affected = set(self._plans) | set(plans)
        self._plans, self._interval_counts = plans, counts
        self._sync(affected)

    def watch_changed(self, watch: Watch, query: Query | None = None) -> None:
        """Re-plan one watch (added, paused, resumed or edited): the cost of one query, whatever the number."""
        affected = self._drop(watch.id or 0)
        planned = plan_watch(watch, self.sources, self._interval_for, self.settings.min_poll_s, query)
        for name, plan in planned.items():
            self._plans.setdefault(name, {})[plan.watch_id] = plan
            self._interval_counts.setdefault(name, Counter())[plan.interval_s] += 1
            affected.add(name)
        self._sync(affected)

    def watch_removed(self, watch_id: int) -> None:
        self._sync(self._drop(watch_id))

    def _drop(self, watch_id: int) -> set[str]:
        """Forget a watch's plans; the sources it was polled on."""
        affected = set()
        for name, plan in self._plans.items():
            old = plan.pop(watch_id, None)
            if old is not None:
                counts = self._interval_counts[name]
                counts[old.interval_s] -= 1
                if not counts[old.interval_s]:
                    del counts[old.interval_s]
                affected.add(name)
        return affected

    def _sync(self, names: Iterable[str]) -> None:
        """Bring the jobs and streams of these sources in line with their plans."""
        scheduler = self.services.scheduler
        for name in names:
            job_id = f"poll:{name}"
            if not self._plans.get(name):
                self._plans.pop(name, None)
                self._interval_counts.pop(name, None)
                if self.intervals.pop(name, None) is not None and scheduler.get_job(job_id) is not None:
                    scheduler.remove_job(job_id)
                stream = self._streams.pop(name, None)
                if stream is not None:
                    stream.cancel()
                continue
            if self._streams_for(name):
                self._start_stream(name)
            interval = min(self._interval_counts[name])
            if self.intervals.get(name) == interval and scheduler.get_job(job_id) is not None:
                continue
            self.intervals[name] = interval
            first = self.services.now() + timedelta(seconds=min(10.0, interval))
            scheduler.add_job(
                self.poll, IntervalTrigger(seconds=interval, jitter=self.settings.poll_jitter_s),
                id=job_id, name=f"poll {name}", args=[name], replace_existing=True,
                coalesce=True, max_instances=1, misfire_grace_time=int(interval), next_run_time=first,
            )

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
        plans = self.plans
        if not plans:
            return "nothing to poll"
        parts = []
        for name, plan in sorted(plans.items()):
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
        for plan in list(self._plans.get(name, {}).values()):
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
        """Read the stream from the saved cursor, handing posts over in batches flushed by age or size."""
        cursor = await self.services.db.run(lambda s: load_cursor(s, source.name, CURSOR_KEY))
        consumer = StreamConsumer(source, self.engine, cursor=cursor, sample=self._sample_for(source.name))
        self.consumers[source.name] = consumer
        await consumer.run()
