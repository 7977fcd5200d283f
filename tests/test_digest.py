"""Daily digests at a frozen clock: counts, change, spikes, top posts, new authors, chart and CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

from bot.render.text import render_text
from bot.reply import Table
from handlers.monitor.digest import latest_fire, period_label
from tests.fakes.monitor import Clock, engine_of, make_post, start_monitor_bot

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


async def _seed(bot, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    await bot.run("/watch add lockbit")
    await bot.run("/watch add akira")
    monitor = engine_of(bot)
    clock.now = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)  # the previous period
    await monitor.ingest([make_post("p1", "lockbit old news one", author="alice"),
                          make_post("p2", "lockbit old news two", author="alice"),
                          make_post("p3", "akira old news", author="bob")])
    clock.now = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)  # this period
    authors = ["alice", "mallory", "mallory", "mallory", "eve", "alice", "alice", "alice", "alice", "alice"]
    await monitor.ingest([make_post(f"c{i}", f"lockbit post number {i}", author=a) for i, a in enumerate(authors)])
    await monitor.ingest([make_post("hot", "akira negotiator chat leaked", author="bob", score=99)])
    clock.now = T0


async def test_digest_now_reports_the_last_day(tmp_path: Path) -> None:
    clock = Clock(T0)
    bot, _ = await start_monitor_bot(tmp_path, clock)
    try:
        await _seed(bot, clock)
        [reply] = [r for r in await bot.run("/digest now") if r.attachments]
        text = render_text(reply)
        assert "11 matches across 2 watches (previous period: 3)" in text
        [table_part] = [p for p in reply.parts if isinstance(p, Table)]
        assert table_part.rows == (("1", "lockbit", "10", "+400%"), ("2", "akira", "1", "+0%"))
        assert "⚡ Spike: `lockbit` 10 matches vs 2" in text
        assert "akira" in text and "+0%" in text
        assert "Spike: `akira`" not in text
        top = text.index("akira negotiator chat leaked")
        assert top < text.index("lockbit post number")  # the most engaged post comes first
        assert "2 new authors: @mallory (fake), @eve (fake)" in text
        png, table = reply.attachments
        assert png.mime == "image/png" and png.data.startswith(b"\x89PNG")
        rows = list(csv.reader(io.StringIO(table.data.decode("utf-8-sig"))))
        assert rows[0][:3] == ["matched_at", "watch", "query"] and len(rows) == 12
        assert {r[2] for r in rows[1:]} == {"lockbit", "akira"}
    finally:
        await bot.stop()


async def test_digest_with_no_watches_says_so(tmp_path: Path) -> None:
    bot, _ = await start_monitor_bot(tmp_path, Clock(T0))
    try:
        text = await bot.text("/digest now")
        assert "no watches yet" in text
    finally:
        await bot.stop()


async def test_scheduled_digest_goes_through_the_outbox_once_per_day(tmp_path: Path) -> None:
    clock = Clock(T0)
    bot, surface = await start_monitor_bot(tmp_path, clock)
    try:
        await _seed(bot, clock)
        text = await bot.text("/digest at 08:00 Europe/Berlin")
        assert "08:00" in text and "Europe/Berlin" in text
        digests = engine_of(bot).digests
        assert not await digests.fire("telegram", -5001)  # today's 08:00 passed before it was set
        clock.now = datetime(2026, 11, 29, 7, 0, 30, tzinfo=UTC)  # 08:00:30 in Berlin
        assert await digests.fire("telegram", -5001)
        assert not await digests.fire("telegram", -5001)  # a second firing (restart, misfire) is a no-op
        await engine_of(bot).outbox.drain()
        digest = next(r for _, r in surface.delivered if r.attachments)
        body = render_text(digest)
        assert "Daily digest 2026-11-29" in body
        # the period is 28 Nov 08:00 → 29 Nov 08:00 Berlin: the posts of 27 Nov 07:00 Berlin fall before it
        assert "11 matches across 2 watches (previous period: 0)" in body
        assert "28 Nov 08:00 → 29 Nov 08:00 (Europe/Berlin)" in body
    finally:
        await bot.stop()


async def test_a_digest_missed_while_down_is_caught_up_at_start(tmp_path: Path) -> None:
    clock = Clock(T0)
    bot, _ = await start_monitor_bot(tmp_path, clock)
    await bot.run("/digest at 08:00 Europe/Berlin")
    await bot.stop()
    clock.now = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)  # the bot was down at 08:00 Berlin
    again, surface = await start_monitor_bot(tmp_path, clock)
    try:
        await engine_of(again).digests.rebuild()
        await engine_of(again).digests.rebuild()  # rebuilding twice does not queue it twice
        await engine_of(again).outbox.drain()
        assert ["Daily digest 2026-11-29" in render_text(r) for _, r in surface.delivered] == [True]
    finally:
        await again.stop()


async def test_digest_commands_check_their_input(tmp_path: Path) -> None:
    bot, _ = await start_monitor_bot(tmp_path, Clock(T0))
    try:
        assert "use HH:MM" in await bot.text("/digest at 25:00 Europe/Berlin")
        assert "unknown time zone" in await bot.text("/digest at 08:00 Mars/Olympus")
        assert "no daily digest" in await bot.text("/digest off")
        await bot.run("/digest at 07:30 Asia/Tokyo")
        assert "turned off" in await bot.text("/digest off")
    finally:
        await bot.stop()


def test_latest_fire_follows_local_time_across_dst() -> None:
    winter = latest_fire("08:00", "Europe/Berlin", datetime(2026, 3, 28, 12, 0, tzinfo=UTC))
    summer = latest_fire("08:00", "Europe/Berlin", datetime(2026, 3, 29, 12, 0, tzinfo=UTC))
    assert winter == datetime(2026, 3, 28, 7, 0, tzinfo=UTC)
    assert summer == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)
    before = latest_fire("08:00", "Europe/Berlin", datetime(2026, 3, 29, 5, 59, tzinfo=UTC))
    assert period_label(before, "Europe/Berlin") == "2026-03-28"
