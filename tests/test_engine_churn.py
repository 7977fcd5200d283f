"""Watch churn never stalls the event loop: 20,000 watches loaded, added and removed while a ticker watches.

Two measures per gap between ticks of a 5 ms ticker on the loop: the CPU time the loop's thread spent (work
done on the loop: robust to a busy machine, which delays a thread but does not add to its CPU time) and the
wall-clock lateness (which also catches a worker thread holding the GIL in one long C call or a long pass of
the garbage collector). CPU work on the loop is bounded in every phase; wall-clock lateness while watches are
added and removed one by one, not at start-up, where the loop serves no chat yet (surfaces start after the
engine) and the worker threads loading 20,000 watches may hold it. Both hold in the best of up to three runs:
a machine shared with other test runs can preempt any process, or slow its caches, for longer than 50 ms,
while a real stall (a rebuild on the loop) costs a second or more in every run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import cast

from sqlalchemy import insert
from sqlmodel import Session

from storage.models import Watch, WatchState
from tests.fakes.monitor import Clock, engine_of, make_post, start_monitor_bot

WATCHES = 20_000
STALL_S = 0.050


def query(i: int) -> str:
    """A mix of the shapes analysts write, with shared words so that anchors and index keys are shared too."""
    shapes = [
        f"actor{i}", f'"campaign {i} leak" OR actor{i // 7}', f"tool{i} -test", f"#tag{i} OR @user{i}",
        f"domain:d{i}.example.com", f"(alpha{i} OR beta{i}) (leak OR dump)", f"/x{i}y\\d+/ -noise",
        f"cve:2024-{1000 + i}", f"C# actor{i}",
    ]
    return shapes[i % len(shapes)]


def planned(first: int) -> set[int]:
    """The ids from `first` on whose queries are polled (domain: and regex-only queries have nothing to ask)."""
    return {i for i in range(first, first + WATCHES) if i % 9 not in (4, 6)}


def watch(i: int) -> Watch:
    return Watch(id=i, chat_platform="telegram", chat_id=1, query=query(i), sources=[], created_by="t",
                 state=WatchState.ACTIVE.value, created_at=Clock()())


def changed(i: int) -> Watch:
    """What `/watch add` hands the engine, without the cost of a database model (the test's own, not timed)."""
    return cast(Watch, SimpleNamespace(id=i, query=query(i), sources=[], state=WatchState.ACTIVE, interval_s=None))


@dataclass
class Ticker:
    """Per gap between ticks: the loop thread's CPU time and the wall-clock lateness."""

    cpu: list[float] = field(default_factory=list)
    late: list[float] = field(default_factory=list)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due, cpu = loop.time() + 0.005, time.thread_time()
            await asyncio.sleep(0.005)
            self.late.append(loop.time() - due)
            self.cpu.append(time.thread_time() - cpu)


async def measured(work: Callable[[], Awaitable[None]]) -> Ticker:
    ticker = Ticker()
    task = asyncio.create_task(ticker.run())
    await asyncio.sleep(0.02)
    try:
        await work()
    finally:
        task.cancel()
    return ticker


async def churn_once(tmp_path: Path) -> list[Ticker]:
    bot, _ = await start_monitor_bot(tmp_path, Clock(), background=True)
    bot.services.scheduler.pause()  # polls are not the point here; their planning is
    try:
        monitor = engine_of(bot)

        def seed(session: Session) -> None:
            row = watch(0).model_dump()
            session.execute(insert(Watch), [{**row, "id": i, "query": query(i)} for i in range(1, WATCHES + 1)])

        await bot.services.db.run(seed)

        async def start() -> None:  # start-up: every active watch parsed, compiled and planned
            await monitor.stop()
            await monitor.start()

        async def add_and_remove() -> None:  # /watch add and /watch remove, one watch at a time
            for i in range(1, WATCHES + 1):
                await monitor.watch_removed(i)
                await asyncio.sleep(0)
            for i in range(1, WATCHES + 1):
                await monitor.watch_changed(changed(WATCHES + i))
                await asyncio.sleep(0)

        tickers = [await measured(start)]
        assert len(monitor.matcher) == WATCHES and set(monitor.polls._plans["fake"]) == planned(1)
        tickers.append(await measured(add_and_remove))
        await monitor.stop()  # waits for a rebuild still running
        # everything took effect: the last watches match, the first ones are gone
        kept = WATCHES + 7  # its query is actor<id>, as is watch 9's
        hits = {m.watch_id for m in monitor.matcher.match(make_post("p", f"actor{kept} and actor9"))}
        assert query(kept) == f"actor{kept}" and query(9) == "actor9" and hits == {kept}
        assert len(monitor.matcher) == WATCHES and set(monitor.polls._plans["fake"]) == planned(WATCHES + 1)
        return tickers
    finally:
        await bot.stop()


async def test_watch_churn_never_stalls_the_event_loop(tmp_path: Path) -> None:
    runs = []
    for attempt in range(3):
        tickers = await churn_once(tmp_path / str(attempt))
        assert all(len(ticker.cpu) > 50 for ticker in tickers)  # the ticker ran throughout
        worst_cpu = max(max(ticker.cpu) for ticker in tickers)
        worst_late = max(tickers[1].late)  # the churn, while chats are served
        runs.append(f"{worst_cpu * 1000:.0f} ms of work, {worst_late * 1000:.0f} ms late")
        if worst_cpu < STALL_S and worst_late < STALL_S:
            return
    raise AssertionError(f"the loop stalled in every run: {runs}")
