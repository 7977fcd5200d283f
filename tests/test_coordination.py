"""Two bots on one database, on SQLite and PostgreSQL: a watch added through one is matched by the other from
its next batch on (and reaches a running bot with no batch at all), and a digest fired by both at once is
queued once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select, update
from sqlmodel import Session, col

from handlers import basics, watch
from handlers.monitor.engine import Monitor
from handlers.monitor.slot import MONITOR
from storage.models import DigestSchedule, OutboxItem
from tests.fakes.monitor import Clock, engine_of, make_post
from tests.harness import BotHarness


async def start_bot(tmp_path: Path, url: str, *, background: bool = False, clock: Clock | None = None,
                    watch_sync_s: float = 1) -> BotHarness:
    """A bot on `url` with the watch commands and no sources (nothing is polled)."""
    bot = BotHarness(tmp_path, sets=[basics.commands, watch.commands], background=background, clock=clock,
                     database={"url": url, "watch_sync_s": watch_sync_s, "leader_check_s": 0.2})
    bot.services.shared.put(MONITOR, Monitor(bot.services, sources=dict))
    await bot.start()
    return bot


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> float:
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, "timed out"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


def alerts(session: Session) -> list[tuple[int | None, str]]:
    """(watch id, post id at the source) of every alert queued, in order."""
    rows = session.execute(select(OutboxItem).order_by(col(OutboxItem.id))).scalars()
    return [(r.watch_id, r.payload["post"]["source_id"]) for r in rows if r.payload.get("kind") == "alert"]


async def test_a_watch_added_through_one_bot_is_matched_by_the_other_from_its_next_batch(
        tmp_path: Path, db_url: str) -> None:
    clock = Clock()
    commands = await start_bot(tmp_path / "a", db_url, clock=clock)
    ingests = await start_bot(tmp_path / "b", db_url, clock=clock)
    try:
        await ingests.services.shared.get(MONITOR).ingest([make_post("1", "lockbit before the watch")])
        assert "Watch 1" in await commands.text("/watch add lockbit")
        await ingests.services.shared.get(MONITOR).ingest([make_post("2", "lockbit after the watch")])
        assert "Watch 2" in await commands.text("/watch add conti")
        await commands.run("/watch pause 1")
        await ingests.services.shared.get(MONITOR).ingest([make_post("3", "lockbit and conti, watch 1 paused")])
        await commands.run("/watch pause 2")  # (removing it would take its queued alerts with it)
        await commands.run("/watch resume 1")
        await ingests.services.shared.get(MONITOR).ingest([make_post("4", "conti gone, lockbit back")])
        queued = await ingests.services.db.run(alerts)
        assert queued == [(1, "2"), (2, "3"), (1, "4")]
    finally:
        await ingests.stop()
        await commands.stop()


async def test_a_watch_change_reaches_a_running_bot_without_any_batch(tmp_path: Path, db_url: str) -> None:
    """The running bot learns of a watch added by `socmint console` (or another replica) by itself: by
    LISTEN/NOTIFY on PostgreSQL, by polling the version on SQLite; so the leader re-plans its polls."""
    running = await start_bot(tmp_path / "run", db_url, background=True, watch_sync_s=0.1)
    console = await start_bot(tmp_path / "console", db_url)
    try:
        monitor = engine_of(running)
        assert "Watch 1" in await console.text("/watch add lockbit")
        took = await until(lambda: 1 in monitor.matcher)
        await console.run("/watch pause 1")
        await until(lambda: 1 not in monitor.matcher)
        await console.run("/watch resume 1")
        await until(lambda: 1 in monitor.matcher)
        await console.run("/watch remove 1")
        await until(lambda: 1 not in monitor.matcher)
        assert took < 2.0
        if running.services.db.engine.dialect.name == "postgresql":
            assert monitor.sync.listening  # notified, not polled
    finally:
        await console.stop()
        await running.stop()


async def test_a_digest_fired_by_two_bots_at_once_is_queued_once(tmp_path: Path, db_url: str) -> None:
    clock = Clock()
    a = await start_bot(tmp_path / "a", db_url, clock=clock)
    b = await start_bot(tmp_path / "b", db_url, clock=clock)
    try:
        assert "08:00" in await a.text("/digest at 08:00 Europe/Berlin")
        for day in range(5):
            clock.advance(days=1)

            def forget_last(session: Session) -> None:
                session.execute(update(DigestSchedule).values(last_sent_period=None))

            if day % 2:  # also with a period never sent before
                await a.services.db.run(forget_last)
            fired = await asyncio.gather(*(bot.services.shared.get(MONITOR).digests.fire("telegram", -5001)
                                           for bot in (a, b, a, b)))
            assert sorted(fired) == [False, False, False, True]
        count = await a.services.db.run(lambda s: s.execute(select(func.count()).select_from(OutboxItem)).scalar())
        assert count == 5
    finally:
        await b.stop()
        await a.stop()


async def test_telegram_webhook_replicas_each_serve_commands_and_none_long_polls(tmp_path: Path, pg_url: str) -> None:
    """Behind a load balancer every replica receives (webhook mode): a command reaching the follower is answered
    by it, and a watch it adds is matched by the leader."""
    import socket

    import httpx

    from bot.surfaces.telegram import TelegramSurface
    from tests.fakes.telegram_api import FakeBotAPI, message_update

    def free_port() -> int:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])

    ports = [free_port(), free_port()]
    public = f"http://127.0.0.1:{ports[0]}/tg-hook"  # what Telegram is told; the balancer spreads it over both
    async with FakeBotAPI() as fake:
        replicas: list[BotHarness] = []
        for n, port in enumerate(ports):
            bot = BotHarness(tmp_path / f"r{n}", sets=[basics.commands, watch.commands], background=True,
                             admins=["telegram:1"], database={"url": pg_url, "leader_check_s": 0.2},
                             telegram={"token": fake.token, "api_url": fake.url, "webhook_url": public,
                                       "webhook_port": port, "webhook_secret": "replicas-share-this-secret"})
            bot.services.shared.put(MONITOR, Monitor(bot.services, sources=dict))
            await bot.start()
            await bot.app.add_surface(TelegramSurface(bot.services, bot.app.router))
            replicas.append(bot)
        try:
            leaders = [r.services.leadership.leading for r in replicas]
            assert sorted(leaders) == [False, True]
            follower = leaders.index(False)
            assert "follower (another process runs schedules and delivery)" in await replicas[follower].text("/status")
            update = {"update_id": 7, **message_update("/watch add lockbit", chat_id=1, user_id=1)}
            async with httpx.AsyncClient() as client:
                answer = await client.post(f"http://127.0.0.1:{ports[follower]}/tg-hook", json=update,
                                            headers={"X-Telegram-Bot-Api-Secret-Token": "replicas-share-this-secret"})
            assert answer.status_code == 200
            [reply] = await fake.wait_for("sendMessage", chat_id=1)
            assert "Watch 1" in fake.visible(reply)
            leader = engine_of(replicas[1 - follower])
            await until(lambda: 1 in leader.matcher)
            assert fake.calls_to("getUpdates") == []  # no replica long-polls in webhook mode
        finally:
            for bot in reversed(replicas):
                await bot.stop()  # its surfaces too
