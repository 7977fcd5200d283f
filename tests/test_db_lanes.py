"""Database lanes: access checks and audit entries never queue behind analyses; cancelled work stops."""

from __future__ import annotations

import asyncio
import queue
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

import handlers.watch as watch_module
from handlers.monitor import stored_scan
from handlers.monitor.matcher import Matcher
from storage import audit
from storage.db import Cancelled, Database, Lane, migrate, stops_when_cancelled
from storage.models import AuditEntry
from tests.fakes.monitor import Clock, engine_of, make_post, start_monitor_bot

LONG = 60.0  # only ever reached when the behaviour under test is broken


async def _wait(q: queue.Queue[Any]) -> Any:
    return await asyncio.to_thread(q.get, True, LONG)


# --------------------------------------------------------------------------- the database handle
def _audit(session: Session) -> int | None:
    entry = audit.record(session, user="u", chat="c", command="whoami", args="", outcome="ok")
    session.flush()
    return entry.id


async def test_interactive_work_runs_while_every_bulk_thread_is_busy(db_url: str) -> None:
    migrate(db_url)
    db = Database(db_url, workers=2, bulk_workers=2)
    release, entered = threading.Event(), queue.Queue[int]()

    def analysis(_session: Session, n: int) -> int:
        entered.put(n)
        release.wait(LONG)
        return n

    try:
        bulk = [asyncio.create_task(db.run(lambda s, n=n: analysis(s, n), lane=Lane.BULK)) for n in range(6)]
        await _wait(entered)
        await _wait(entered)  # both bulk threads taken, four more analyses queued behind them
        wrote = await asyncio.wait_for(db.run(_audit), LONG)
        assert wrote and not any(t.done() for t in bulk)  # the interactive write went first
        release.set()
        assert sorted(await asyncio.gather(*bulk)) == list(range(6))
    finally:
        release.set()
        db.close()


def _endless(session: Session) -> Any:
    """A statement that would run for hours."""
    if session.get_bind().dialect.name == "postgresql":
        return session.execute(text("SELECT pg_sleep(3600)")).scalar()
    return session.execute(text(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM "
        "(SELECT x FROM c LIMIT 100000000000)")).scalar()


async def test_a_cancelled_run_stops_its_statement(db_url: str) -> None:
    migrate(db_url)
    db = Database(db_url)
    started, ended = threading.Event(), queue.Queue[str]()

    def work(session: Session) -> Any:
        started.set()
        try:
            result = _endless(session)
        except Exception as exc:
            ended.put(f"stopped: {type(exc).__name__}")
            raise
        ended.put(f"completed: {result}")
        return result

    try:
        with stops_when_cancelled():  # as the router runs a command
            task = asyncio.create_task(db.run(work, lane=Lane.BULK))
        assert await asyncio.to_thread(started.wait, LONG)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await _wait(ended)).startswith("stopped")
        assert await db.run(lambda s: s.execute(text("SELECT 1")).scalar()) == 1  # the connection is still good
    finally:
        db.close()


async def test_work_cancelled_before_it_starts_never_runs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    migrate(url)
    db = Database(url, bulk_workers=1)
    release, ran = threading.Event(), []
    try:
        blocker = asyncio.create_task(db.run(lambda s: release.wait(LONG), lane=Lane.BULK))
        queued = asyncio.create_task(db.run(lambda s: ran.append(1), lane=Lane.BULK))
        await asyncio.sleep(0)
        queued.cancel()
        release.set()
        await blocker
        with pytest.raises(asyncio.CancelledError):
            await queued
        await db.run(lambda s: None, lane=Lane.BULK)  # the lane's one thread is free again and ran nothing else
        assert ran == []
    finally:
        release.set()
        db.close()


async def test_outside_a_command_a_cancelled_await_lets_the_write_finish(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    migrate(url)
    db = Database(url)
    started, release = threading.Event(), threading.Event()

    def mark(session: Session) -> None:  # say, an alert marked sent after it left
        started.set()
        release.wait(LONG)
        _audit(session)

    try:
        task = asyncio.create_task(db.run(mark))
        assert await asyncio.to_thread(started.wait, LONG)
        task.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(int(LONG * 100)):
            if await db.run(lambda s: audit.recent(s, 1)):
                break
            await asyncio.sleep(0.01)
        assert len(await db.run(lambda s: audit.recent(s, 5))) == 1  # committed all the same
    finally:
        release.set()
        db.close()


# --------------------------------------------------------------------------- through the router
class GatedMatcher(Matcher):
    """A matcher whose first match of each scan waits for the test: an analysis that takes as long as needed."""

    gate = threading.Event()
    entered: queue.Queue[int] = queue.Queue()
    calls = 0

    def __init__(self) -> None:
        super().__init__()
        self._first = True

    def match_normalised(self, post):  # type: ignore[no-untyped-def]
        GatedMatcher.calls += 1
        if self._first:
            self._first = False
            GatedMatcher.entered.put(1)
            GatedMatcher.gate.wait(LONG)
        return super().match_normalised(post)


@pytest.fixture
def gated(monkeypatch: pytest.MonkeyPatch) -> type[GatedMatcher]:
    GatedMatcher.gate, GatedMatcher.entered, GatedMatcher.calls = threading.Event(), queue.Queue(), 0
    monkeypatch.setattr(stored_scan, "Matcher", GatedMatcher)
    yield GatedMatcher
    GatedMatcher.gate.set()


async def test_access_check_and_audit_complete_while_watch_tests_fill_the_bulk_lane(
    tmp_path: Path, gated: type[GatedMatcher],
) -> None:
    clock = Clock()
    bot, _ = await start_monitor_bot(tmp_path, clock)
    try:
        await engine_of(bot).ingest([make_post("1", "akira news", at=clock.now - timedelta(hours=1))])
        analyses = [asyncio.create_task(bot.text("/watch test akira")) for _ in range(6)]
        await _wait(gated.entered)
        await _wait(gated.entered)  # every bulk thread scans; four more /watch test wait for one
        text = await asyncio.wait_for(bot.text("/whoami", user_id=2002, chat_id=-7002), LONG)
        assert "2002" in text or "owner" in text.lower()
        entries = await bot.services.db.run(lambda s: list(s.exec(select(AuditEntry).where(
            AuditEntry.command == "whoami"))))
        assert [e.user for e in entries] == ["telegram:2002"]  # audited while the analyses still run
        assert not any(a.done() for a in analyses)
        gated.gate.set()
        for reply in await asyncio.gather(*analyses):
            assert "would have matched 1 of 1" in reply
    finally:
        gated.gate.set()
        await bot.stop()


async def test_a_timed_out_watch_test_stops_scanning(tmp_path: Path, gated: type[GatedMatcher],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    bot, _ = await start_monitor_bot(tmp_path, clock)
    outcomes: queue.Queue[str] = queue.Queue()
    real_run_test = watch_module.run_test

    def recorded(session: Session, query: Any, window: Any) -> Any:
        try:
            result = real_run_test(session, query, window)
        except Cancelled:
            outcomes.put("cancelled")
            raise
        outcomes.put(f"completed {result.scan.scanned}")
        return result

    monkeypatch.setattr(watch_module, "run_test", recorded)
    pages = 3
    total = stored_scan.BATCH * pages

    def seed(session: Session) -> None:
        for i in range(total):
            session.add(make_post(str(i), f"post {i}", at=clock.now - timedelta(minutes=i)).to_row())

    try:
        await bot.services.db.run(seed)
        bot.services.settings.commands.timeout_s = 0.2
        text = await bot.text("/watch test akira")
        assert "took longer than" in text  # the command timed out while its scan was held at the first post
        gated.gate.set()
        assert await _wait(outcomes) == "cancelled"
        assert gated.calls == stored_scan.BATCH < total  # it finished the batch in hand, then stopped
    finally:
        gated.gate.set()
        await bot.stop()
