"""The /watch commands through the router: roles, chats, errors and what each command changes."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from bot.render.text import render_text
from storage.models import Role
from tests.fakes.monitor import Clock, engine_of, make_post, start_monitor_bot


async def test_watch_lifecycle_from_chat(tmp_path: Path) -> None:
    clock = Clock()
    bot, surface = await start_monitor_bot(tmp_path, clock)
    try:
        added = await bot.text('/watch add lockbit OR "lock bit" --sources fake --every 10m', role=Role.ANALYST)
        assert "Watch 1 added" in added and "10m" in added
        listed = await bot.text("/watch list", role=Role.VIEWER)
        assert "lockbit" in listed and "active" in listed
        shown = await bot.text("/watch show 1", role=Role.VIEWER)
        assert 'lockbit OR "lock bit"' in shown and "fake" in shown

        assert "paused" in await bot.text("/watch pause 1", role=Role.ANALYST)
        assert (await engine_of(bot).ingest([make_post("1", "lockbit claims")])).matches == 0
        assert "active" in await bot.text("/watch resume 1", role=Role.ANALYST)
        assert (await engine_of(bot).ingest([make_post("2", "the lock bit gang")])).alerts == 1
        assert await engine_of(bot).outbox.drain() == 1
        assert "the lock bit gang" in render_text(surface.delivered[0][1])

        muted = await bot.text("/watch mute 1 2h", role=Role.ANALYST)
        assert "muted until 2026-11-28 14:00 UTC" in muted
        assert "muted until" in await bot.text("/watch list")
        assert (await engine_of(bot).ingest([make_post("3", "lockbit again today")])).alerts == 0

        assert "removed" in await bot.text("/watch remove 1", role=Role.ANALYST)
        assert "No watches in this chat yet" in await bot.text("/watch list")
    finally:
        await bot.stop()


async def test_viewers_list_but_cannot_change(tmp_path: Path) -> None:
    bot, _ = await start_monitor_bot(tmp_path, Clock())
    try:
        refused = await bot.text("/watch add lockbit", role=Role.VIEWER)
        assert "needs the analyst role" in refused
        await bot.run("/watch add lockbit", role=Role.ANALYST)
        assert "needs the analyst role" in await bot.text("/watch pause 1", role=Role.VIEWER)
        assert "lockbit" in await bot.text("/watch list", role=Role.VIEWER)
    finally:
        await bot.stop()


async def test_watches_belong_to_their_chat(tmp_path: Path) -> None:
    bot, _ = await start_monitor_bot(tmp_path, Clock())
    try:
        await bot.run("/watch add lockbit", chat_id=-1)
        assert "No watches" in await bot.text("/watch list", chat_id=-2)
        assert "no watch 1 in this chat" in await bot.text("/watch remove 1", chat_id=-2)
        assert "lockbit" in await bot.text("/watch list", chat_id=-1)
    finally:
        await bot.stop()


async def test_a_malformed_query_points_at_the_problem(tmp_path: Path) -> None:
    bot, _ = await start_monitor_bot(tmp_path, Clock())
    try:
        text = await bot.text('/watch add lockbit AND (ransom OR')
        assert "does not parse" in text
        caret = "lockbit AND (ransom OR\n" + " " * len("lockbit AND (ransom ") + "^"
        assert caret in text  # under the OR that has nothing after it
        assert "Example: `/watch add " in text
        assert "No watches" in await bot.text("/watch list")
    finally:
        await bot.stop()


async def test_watch_test_runs_over_the_last_week_of_stored_posts(tmp_path: Path) -> None:
    clock = Clock()
    bot, _ = await start_monitor_bot(tmp_path, clock)
    try:
        await engine_of(bot).ingest([
            make_post("1", "akira ransomware hits a hospital", at=clock.now - timedelta(days=1)),
            make_post("2", "akira old story", at=clock.now - timedelta(days=9)),
            make_post("3", "other news entirely", at=clock.now),
        ])
        [reply] = await bot.run("/watch test akira")
        text = render_text(reply)
        assert "would have matched 1 of 2 stored posts from the last 7 days" in text
        assert "hospital" in text and "old story" not in text
        assert reply.button_rows[0][0].command == "/watch add akira"
    finally:
        await bot.stop()


async def test_status_shows_queue_depth_and_watches(tmp_path: Path) -> None:
    bot, _ = await start_monitor_bot(tmp_path, Clock(), surface=False)
    try:
        await bot.run("/watch add lockbit")
        await engine_of(bot).ingest([make_post("1", "lockbit news"), make_post("2", "lockbit more news")])
        status = await bot.text("/status")
        assert "Monitoring" in status
        assert re.search(r"active watches\s+1\n", status) and re.search(r"alerts queued\s+2\n", status)
        assert re.search(r"polling\s+off in this process", status)
    finally:
        await bot.stop()


async def test_adding_a_watch_the_chat_has_creates_nothing(tmp_path: Path) -> None:
    bot, _ = await start_monitor_bot(tmp_path, Clock())
    try:
        assert "Watch 1 added" in await bot.text("/watch add LockBit OR alphv --sources fake --every 10m")
        again = await bot.text("/watch add  lockbit  OR ALPHV --every 10m --sources fake")  # the same, normalised
        assert "Already watching this as #1" in again and "active" in again
        other_chat = await bot.text("/watch add lockbit OR alphv --sources fake --every 10m", chat_id=-6)
        assert "Watch 2 added" in other_chat  # watches belong to their chat
        other_options = await bot.text("/watch add lockbit OR alphv --sources fake")
        assert "Watch 3 added" in other_options  # same query, other options: a different watch
        assert "Watch 4 added" in await bot.text("/watch add alphv OR lockbit OR conti")

        await bot.text("/watch pause 1")
        paused = await bot.run("/watch add lockbit OR alphv --sources fake --every 10m")
        assert "Watch 1 has this query and options and is paused" in render_text(paused[0])
        assert "/watch resume 1" in [b.command for row in paused[0].button_rows for b in row]
        assert "3 watches in this chat" in await bot.text("/watch list")  # 1, 3 and 4
    finally:
        await bot.stop()
