"""The delivery worker: order, retries, flood limits, grouping, and exactly-once across restarts."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from bot.render.text import render_text
from bot.services import DeliveryError
from handlers.governance import run_purge
from storage.models import OutboxItem
from tests.fakes.monitor import Clock, engine_of, make_post, start_monitor_bot


async def _rows(bot) -> list[OutboxItem]:  # type: ignore[no-untyped-def]
    return await bot.services.db.run(
        lambda s: list(s.execute(select(OutboxItem).order_by(OutboxItem.id)).scalars()))


async def test_retry_after_is_honoured_and_order_kept(tmp_path: Path) -> None:
    clock = Clock()
    bot, surface = await start_monitor_bot(tmp_path, clock)
    try:
        await bot.run("/watch add emotet")
        monitor = engine_of(bot)
        await monitor.ingest([make_post("1", "emotet is back", at=clock.now),
                              make_post("2", "emotet spam wave", at=clock.advance(seconds=1))])
        surface.fail_with, surface.fail_times = DeliveryError("429", retry_after=30), 1
        assert await monitor.outbox.drain() == 0
        first, second = await _rows(bot)
        assert (first.state, first.attempts) == ("pending", 1)
        assert (first.next_attempt_at - clock.now).total_seconds() >= 29
        assert second.next_attempt_at >= first.next_attempt_at  # the whole chat waits
        clock.advance(seconds=25)
        assert await monitor.outbox.drain() == 0
        clock.advance(seconds=10)
        assert await monitor.outbox.drain() == 2
        assert ["emotet is back" in render_text(r) for _, r in surface.delivered] == [True, False]
    finally:
        await bot.stop()


async def test_permanent_failure_marks_failed_and_moves_on(tmp_path: Path) -> None:
    clock = Clock()
    bot, surface = await start_monitor_bot(tmp_path, clock)
    try:
        await bot.run("/watch add qakbot")
        monitor = engine_of(bot)
        await monitor.ingest([make_post("1", "qakbot one"), make_post("2", "qakbot two", at=clock.advance(seconds=1))])
        surface.fail_with, surface.fail_times = DeliveryError("forbidden", permanent=True), 1
        await monitor.outbox.drain()
        assert [r.state for r in await _rows(bot)] == ["failed", "sent"]
        status = await monitor.status(bot.services)
        assert ("alerts failed", "1") in status[1]
    finally:
        await bot.stop()


async def test_transient_errors_back_off_then_give_up(tmp_path: Path) -> None:
    clock = Clock()
    bot, surface = await start_monitor_bot(tmp_path, clock, max_attempts=3, retry_base_s=10)
    try:
        await bot.run("/watch add icedid")
        monitor = engine_of(bot)
        await monitor.ingest([make_post("1", "icedid loader seen")])
        surface.fail_with, surface.fail_times = DeliveryError("timeout"), -1  # always
        waits = []
        for _ in range(3):
            await monitor.outbox.drain()
            [row] = await _rows(bot)
            waits.append((row.next_attempt_at - clock.now).total_seconds())
            clock.now = row.next_attempt_at
        assert row.state == "failed" and row.attempts == 3
        assert 8 <= waits[0] <= 12 and 16 <= waits[1] <= 24  # 10 s, then 20 s (±20 % jitter)
        assert surface.delivered == []
    finally:
        await bot.stop()


async def test_a_flood_is_grouped_into_one_summary(tmp_path: Path) -> None:
    clock = Clock()
    bot, surface = await start_monitor_bot(tmp_path, clock, group_threshold=3, group_window_s=600, group_hold_s=120)
    try:
        await bot.run("/watch add lockbit")
        await bot.run("/watch add akira")
        monitor = engine_of(bot)
        flood = [make_post(str(i), f"lockbit leak site update {i}", score=i, at=clock.now) for i in range(37)]
        await monitor.ingest([*flood, make_post("a", "akira ransomware note")])
        clock.advance(minutes=9)
        assert await monitor.outbox.drain() == 2
        texts = [render_text(r) for _, r in surface.delivered]
        summary = next(t for t in texts if "lockbit" in t)
        assert "37 new matches for `lockbit` in 9 min — top 3 shown" in summary
        assert "update 36" in summary and "update 35" in summary and "update 34" in summary  # best engagement
        assert "update 33" not in summary
        assert any("akira ransomware note" in t for t in texts)  # other watches are not held back
        states = [r.state for r in await _rows(bot)]
        assert states.count("grouped") == 36 and states.count("sent") == 2

        # still busy: the next alert waits out the hold, then goes alone
        await monitor.ingest([make_post("x", "lockbit again", at=clock.now)])
        assert await monitor.outbox.drain() == 0
        clock.advance(seconds=121)
        assert await monitor.outbox.drain() == 1
        assert "lockbit again" in render_text(surface.delivered[-1][1])
    finally:
        await bot.stop()


async def test_alerts_below_the_threshold_go_one_by_one(tmp_path: Path) -> None:
    clock = Clock()
    bot, surface = await start_monitor_bot(tmp_path, clock, group_threshold=3)
    try:
        await bot.run("/watch add blackcat")
        await engine_of(bot).ingest([make_post(str(i), f"blackcat item {i}") for i in range(3)])
        assert await engine_of(bot).outbox.drain() == 3
        assert all("new matches" not in render_text(r) for _, r in surface.delivered)
    finally:
        await bot.stop()


async def test_restart_between_storing_and_delivering_sends_exactly_once(tmp_path: Path) -> None:
    clock = Clock()
    first, _ = await start_monitor_bot(tmp_path, clock, surface=False)
    await first.run("/watch add cobalt strike")
    await engine_of(first).ingest([make_post("1", "cobalt strike beacon config"),
                                   make_post("2", "cracked cobalt strike for sale", at=clock.advance(seconds=5))])
    assert await engine_of(first).outbox.drain() == 0  # no surface: nothing leaves, nothing is lost
    assert engine_of(first).outbox.blocked == {"telegram"}
    await first.stop()  # the process goes away with two alerts stored, none delivered

    second, surface = await start_monitor_bot(tmp_path, clock)
    try:
        assert await engine_of(second).outbox.drain() == 2
        assert await engine_of(second).outbox.drain() == 0
        # the same posts polled again after the restart do not alert again
        again = await engine_of(second).ingest([make_post("1", "cobalt strike beacon config")])
        assert again.alerts == 0
        await engine_of(second).outbox.drain()
        assert [("beacon" in render_text(r), "cracked" in render_text(r)) for _, r in surface.delivered] == [
            (True, False), (False, True)]
    finally:
        await second.stop()

    third, surface3 = await start_monitor_bot(tmp_path, clock)
    try:
        assert await engine_of(third).outbox.drain() == 0
        assert surface3.delivered == []
    finally:
        await third.stop()


async def test_background_worker_delivers_without_being_asked(tmp_path: Path) -> None:
    clock = Clock()
    bot, surface = await start_monitor_bot(tmp_path, clock, background=True)
    try:
        await bot.run("/watch add sliver")
        await engine_of(bot).ingest([make_post("1", "sliver c2 found")])
        for _ in range(200):
            if surface.delivered:
                break
            await asyncio.sleep(0.01)
        assert len(surface.delivered) == 1
    finally:
        await bot.stop()


async def test_finished_rows_stay_until_the_purge_removes_them_after_outbox_days(tmp_path: Path) -> None:
    clock = Clock()
    bot, surface = await start_monitor_bot(tmp_path, clock)
    try:
        await bot.run("/watch add trickbot")
        monitor = engine_of(bot)
        await monitor.ingest([make_post("1", "trickbot one")])
        await monitor.outbox.drain()
        clock.advance(days=8)
        await monitor.ingest([make_post("2", "trickbot two", at=clock.now)])
        monitor.outbox.start()  # the worker's own loop, as in the leader: a whole round sends the new alert
        async with asyncio.timeout(60):  # the first row, 8 days old, is kept (outbox_days = 30)
            while [r.state for r in await _rows(bot)] != ["sent", "sent"]:
                await asyncio.sleep(0.01)
        await monitor.outbox.stop()
        assert len(surface.delivered) == 2
        clock.advance(days=23)
        assert (await run_purge(bot.services))["outbox"] == 1  # the first is 31 days old
        assert [r.payload["post"]["snippet"] for r in await _rows(bot)] == ["trickbot two"]
    finally:
        await bot.stop()
