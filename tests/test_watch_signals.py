"""Signal alerts: term spikes (on by default) and negative surges (opt-in) reach the watch's chat once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import func, select

from bot.render.text import render_text
from bot.reply import Buttons
from handlers.monitor.alert import render, signal_payload
from handlers.monitor.signals import JOB_ID, window_label
from storage.models import OutboxItem, Role, WatchSignal
from tests.fakes.monitor import T0, Clock, engine_of, make_post, start_monitor_bot
from tests.harness import BotHarness

SPIKE = "mentions of CVE-2026-1234 up 25× vs its 7-day baseline (25 vs 1.0 per 1-day)"


def spike_posts(now, tag: str = "") -> list:  # type: ignore[no-untyped-def]
    """25 posts naming CVE-2026-1234 in the last hour, and one a day over the 7 days before."""
    burst = [make_post(f"x{tag}{k}", "exploit for CVE-2026-1234 released", at=now - timedelta(minutes=10 + k),
                       author=f"a{tag}{k}") for k in range(25)]
    before = [make_post(f"y{tag}{d}", "old CVE-2026-1234 note", at=now - timedelta(days=d, hours=2), author=f"b{d}")
              for d in range(1, 8)]
    return burst + before


def surge_posts(now) -> list:  # type: ignore[no-untyped-def]
    """Ten days of friendly posts about acme, then a day of hostile ones."""
    calm = [make_post(f"c{d}-{k}", f"acme support is great, love their service {d}", at=now - timedelta(days=d, hours=2,
            minutes=k), author=f"u{k}") for d in range(1, 11) for k in range(10)]
    angry = [make_post(f"h{k}", "acme is terrible, hate them, attack acme now", at=now - timedelta(minutes=30 + k),
             author=f"h{k}") for k in range(10)]
    return calm + angry


def signal_texts(surface) -> list[str]:  # type: ignore[no-untyped-def]
    return [render_text(reply) for _, reply in surface.delivered]


async def outbox_rows(bot: BotHarness) -> int:
    return await bot.services.db.run(lambda s: s.execute(select(func.count()).select_from(OutboxItem)).scalar_one())


async def test_a_spike_alerts_the_chat_once_per_window(tmp_path: Path) -> None:
    clock = Clock(T0)
    bot, surface = await start_monitor_bot(tmp_path, clock)
    try:
        await bot.run("/watch add released OR note", role=Role.ANALYST)
        monitor = engine_of(bot)
        await monitor.ingest(spike_posts(clock.now), alert=False)
        assert await monitor.signals.run_once() == 1
        assert await monitor.outbox.drain() == 1
        [(chat_id, reply)] = surface.delivered
        assert chat_id == -5001
        assert render_text(reply).startswith("⚡ Watch 1")
        assert SPIKE in render_text(reply)
        [buttons] = [p for p in reply.parts if isinstance(p, Buttons)]
        assert [b.command for b in buttons.rows[0]] == ["/trends 1 1d", "/watch mute 1 1h"]

        assert await monitor.signals.run_once() == 0  # the same spike, the same window: no second alert
        clock.advance(hours=3)
        assert await monitor.signals.run_once() == 0
        clock.advance(hours=23)  # the burst is baseline now: nothing spikes
        assert await monitor.signals.run_once() == 0
        await monitor.ingest(spike_posts(clock.now, tag="again"), alert=False)
        # a new burst a day later is news again (its words spike too now: yesterday they were new, not spiking)
        assert await monitor.signals.run_once() == 3
        stored = await bot.services.db.run(lambda s: list(s.execute(select(WatchSignal)).scalars()))
        assert {(r.kind, r.key, r.fired_at) for r in stored} == {
            ("spike", "CVE-2026-1234", clock.now), ("spike", "exploit", clock.now), ("spike", "released", clock.now)}
    finally:
        await bot.stop()


async def test_muted_paused_and_switched_off_watches_stay_quiet(tmp_path: Path) -> None:
    clock = Clock(T0)
    bot, _ = await start_monitor_bot(tmp_path, clock)
    try:
        await bot.run("/watch add released OR note")
        monitor = engine_of(bot)
        await monitor.ingest(spike_posts(clock.now), alert=False)
        await bot.run("/watch mute 1 1h")
        assert await monitor.signals.run_once() == 0
        await bot.run("/watch pause 1")
        assert await monitor.signals.run_once() == 0
        await bot.run("/watch resume 1")
        assert "spikes off, negative surge off" in await bot.text("/watch signals 1 off", role=Role.ANALYST)
        assert await monitor.signals.run_once() == 0
        assert await outbox_rows(bot) == 0
        assert "spikes on" in await bot.text("/watch signals 1 on spikes")
        assert await monitor.signals.run_once() == 1  # still live after the quiet spell: alerted now
        assert "needs the analyst role" in await bot.text("/watch signals 1 off", role=Role.VIEWER)
        assert "no watch 1 in this chat" in await bot.text("/watch signals 1 off", chat_id=-9)
    finally:
        await bot.stop()


async def test_negative_surge_alerts_only_when_opted_in(tmp_path: Path) -> None:
    clock = Clock(T0)
    bot, surface = await start_monitor_bot(tmp_path, clock)
    try:
        await bot.run("/watch add acme")
        monitor = engine_of(bot)
        await monitor.ingest(surge_posts(clock.now), alert=False)
        assert "negative surge off" in await bot.text("/watch show 1")
        assert await monitor.signals.run_once() == 0  # surges are opt-in; nothing spikes
        assert "spikes on, negative surge on" in await bot.text("/watch signals 1 on surge")
        assert await monitor.signals.run_once() == 1
        assert await monitor.signals.run_once() == 0
        await monitor.outbox.drain()
        [text] = signal_texts(surface)
        assert text.startswith("😠 Watch 1 `acme`: negative surge: negative share 100% in the bucket from "
                               "2026-11-28 00:00 UTC (10 posts) vs baseline 0% ± 0%")
        [buttons] = [p for p in surface.delivered[0][1].parts if isinstance(p, Buttons)]
        assert [b.command for b in buttons.rows[0]] == ["/sentiment 1", "/watch mute 1 1h"]
    finally:
        await bot.stop()


async def test_watch_add_can_opt_into_surges(tmp_path: Path) -> None:
    clock = Clock(T0)
    bot, _ = await start_monitor_bot(tmp_path, clock)
    try:
        added = await bot.text("/watch add acme --surge")
        assert "Watch 1 added" in added and "spikes on, negative surge on" in added
        monitor = engine_of(bot)
        await monitor.ingest(surge_posts(clock.now), alert=False)
        assert await monitor.signals.run_once() == 1
        assert "`acme`" in await bot.text("/watch show 1")
        helped = await bot.text("/help watch")
        assert "/watch signals <id> on|off [spikes|surge]` — Alert on term spikes (on by default)" in helped
        assert "--surge     also alert on negative-sentiment surges" in helped
    finally:
        await bot.stop()


async def test_signals_feed_the_digest(tmp_path: Path) -> None:
    clock = Clock(T0 - timedelta(minutes=5))
    bot, _ = await start_monitor_bot(tmp_path, clock)
    try:
        await bot.run("/watch add released OR note")
        await bot.run("/watch add acme --surge")
        await engine_of(bot).ingest(spike_posts(T0) + surge_posts(T0), alert=False)
        clock.now = T0
        text = await bot.text("/digest now")
        assert f"⚡ `released OR note`: {SPIKE}" in text
        assert "😠 `acme`: negative surge: negative share 100%" in text
    finally:
        await bot.stop()


async def test_the_job_runs_only_in_the_background(tmp_path: Path) -> None:
    quiet, _ = await start_monitor_bot(tmp_path / "quiet", Clock(T0))
    try:
        assert quiet.services.scheduler.get_job(JOB_ID) is None
    finally:
        await quiet.stop()
    busy, _ = await start_monitor_bot(tmp_path / "busy", Clock(T0), background=True, signals_every_s=600)
    try:
        job = busy.services.scheduler.get_job(JOB_ID)
        assert isinstance(job.trigger, IntervalTrigger) and job.trigger.interval.total_seconds() == 600
        assert job.coalesce and job.max_instances == 1
        await engine_of(busy).stop()
        assert busy.services.scheduler.get_job(JOB_ID) is None
    finally:
        await busy.stop()


def test_signal_rendering_and_window_labels() -> None:
    long_query = "lockbit OR " * 20
    reply = render(signal_payload(7, long_query, "spike", "mentions of #leak up 4× vs its 7-day baseline", "6h"))
    text = render_text(reply)
    assert text.startswith("⚡ Watch 7 `lockbit OR") and "…`: mentions of #leak up 4×" in text
    assert len(text) < 200
    [buttons] = [p for p in reply.parts if isinstance(p, Buttons)]
    assert buttons.rows[0][0].command == "/trends 7 6h"
    assert [window_label(timedelta(days=1)), window_label(timedelta(hours=6)), window_label(timedelta(minutes=90))] \
        == ["1d", "6h", "90m"]
