"""Polling jobs built from watches: per-source intervals, persisted cursors, outages, rebuilds."""

from __future__ import annotations

import asyncio
from pathlib import Path

from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select

from handlers.monitor.pipeline import load_cursor
from handlers.monitor.query import parse_query
from handlers.monitor.scheduler import plan_polls
from handlers.monitor.sources.base import NotSupported
from storage.models import StoredPost, Watch
from tests.fakes.monitor import Clock, FakeSource, engine_of, make_post, start_monitor_bot


async def test_jobs_follow_the_watches(tmp_path: Path) -> None:
    bot, _ = await start_monitor_bot(tmp_path, Clock(), min_poll_s=60)
    bot.services.scheduler.pause()  # jobs are inspected here, not run
    try:
        polls = engine_of(bot).polls
        await bot.run("/watch add lockbit --every 10m")
        await polls.rebuild()
        job = bot.services.scheduler.get_job("poll:fake")
        assert isinstance(job.trigger, IntervalTrigger) and job.trigger.interval.total_seconds() == 600
        assert job.coalesce and job.max_instances == 1
        await bot.run("/watch add akira --every 2m")
        await polls.rebuild()
        assert bot.services.scheduler.get_job("poll:fake").trigger.interval.total_seconds() == 120
        await bot.run("/watch pause 2")
        await bot.run("/watch remove 1")
        await polls.rebuild()
        assert bot.services.scheduler.get_job("poll:fake") is None
        assert polls.describe() == "nothing to poll"
    finally:
        await bot.stop()


async def test_polls_ingest_and_resume_from_the_saved_cursor(tmp_path: Path) -> None:
    clock = Clock()
    source = FakeSource([make_post("1", "lockbit one", at=clock.now), make_post("2", "unrelated chatter here")])
    bot, surface = await start_monitor_bot(tmp_path, clock, source)
    try:
        await bot.run("/watch add lockbit")
        monitor = engine_of(bot)
        await monitor.polls.rebuild()
        result = await monitor.polls.poll("fake")
        assert (result.stored, result.alerts) == (2, 1)
        assert source.calls == [(("lockbit",), None)]
        assert (await monitor.polls.poll("fake")).received == 0  # not due again yet
        clock.advance(seconds=301)
        await monitor.polls.poll("fake")
        assert source.calls[-1] == (("lockbit",), "2")
        await monitor.outbox.drain()
        assert len(surface.delivered) == 1
    finally:
        await bot.stop()

    source.posts.append(make_post("3", "lockbit three", at=clock.now))
    again, surface = await start_monitor_bot(tmp_path, clock, source)
    try:
        assert engine_of(again).polls.plans == {}  # nothing is planned until rebuilt from the database
        await engine_of(again).polls.rebuild()
        result = await engine_of(again).polls.poll("fake")
        assert source.calls[-1] == (("lockbit",), "2")  # resumed where the last process stopped
        assert (result.stored, result.alerts) == (1, 1)
    finally:
        await again.stop()


async def test_a_failing_source_is_recorded_and_unsupported_calls_stop(tmp_path: Path) -> None:
    source = FakeSource()
    bot, _ = await start_monitor_bot(tmp_path, Clock(), source)
    try:
        await bot.run("/watch add lockbit")
        monitor = engine_of(bot)
        await monitor.polls.rebuild()
        source.fail = RuntimeError("HTTP 503")
        await monitor.polls.poll("fake", force=True)
        assert any("HTTP 503" in e.message for e in bot.services.errors)
        source.fail = NotSupported("fake has no search")
        await monitor.polls.poll("fake", force=True)
        calls = len(source.calls)
        await monitor.polls.poll("fake", force=True)
        assert len(source.calls) == calls
        assert monitor.polls.unsupported == {"fake:search": "fake has no search"}
    finally:
        await bot.stop()


def _watch(wid: int, query: str, sources: list[str] | None = None) -> Watch:
    return Watch(id=wid, chat_platform="telegram", chat_id=1, query=query, sources=sources or [], created_by="t")


def test_plans_route_watches_to_sources() -> None:
    sources = {"hackernews": FakeSource(), "mastodon": FakeSource(), "reddit": FakeSource()}
    watches = [
        _watch(1, 'lockbit OR "lock bit" -test'),
        _watch(2, "cve source:hackernews"),
        _watch(3, "from:alice #osint", ["mastodon"]),
        _watch(4, "@bob"),  # an account without a named source is not followed anywhere
    ]
    plans = plan_polls(watches, sources, lambda name: 300.0, 60.0)
    by = {(name, p.watch_id): p for name, plan in plans.items() for p in plan}
    assert set(by) == {("hackernews", 1), ("mastodon", 1), ("reddit", 1), ("hackernews", 2), ("mastodon", 3)}
    assert by[("reddit", 1)].terms == ("lockbit", "lock bit")
    assert by[("mastodon", 3)].terms == ("#osint",) and by[("mastodon", 3)].accounts == ("alice",)
    assert parse_query("@bob").positive  # sanity: the account term exists, it is just not routed


class StreamingSource(FakeSource):
    """A firehose: a few posts at once, then silence (so only the time-based flush can hand them over)."""

    def __init__(self) -> None:
        super().__init__()
        self.cursors: list[str | None] = []

    async def _stream(self, cursor: str | None):  # type: ignore[no-untyped-def]
        self.cursors.append(cursor)
        texts = ["cat pictures all day", "new lockbit sample", "weather report for today"]
        for i, text in enumerate(texts, start=1):
            yield make_post(f"s{i}", text), str(i)
        await asyncio.Event().wait()

    def stream(self, cursor: str | None):  # type: ignore[no-untyped-def]
        return self._stream(cursor)


async def test_streamed_sources_keep_only_matching_posts(tmp_path: Path) -> None:
    source = StreamingSource()
    bot, surface = await start_monitor_bot(tmp_path, Clock(), source)
    try:
        monitor = engine_of(bot)
        monitor.polls._streams_for = lambda name: True  # as if `firehose = true` were set for it
        await bot.run("/watch add lockbit")
        await monitor.polls.rebuild()
        for _ in range(300):
            saved = await bot.services.db.run(lambda s: load_cursor(s, "fake", "stream"))
            if saved:
                break
            await asyncio.sleep(0.02)
        assert saved == "3" and source.cursors == [None]
        stored = await bot.services.db.run(lambda s: s.execute(select(StoredPost.text)).scalars().all())
        assert stored == ["new lockbit sample"]
        assert "stream" in monitor.polls.describe()
        await monitor.outbox.drain()
        assert len(surface.delivered) == 1
    finally:
        await bot.stop()
