"""Retro-hunt over stored posts: /search, /watch test and /watch show with a window, /watch matches, and a new
watch matched over everything stored before it (resumably, without alerts)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from handlers import search
from handlers.monitor import backfill, stored_scan
from storage.models import Role, Watch, WatchMatch
from tests.fakes.monitor import Clock, engine_of, make_post, start_monitor_bot


async def start_bot(tmp_path: Path, clock: Clock, *, surface: bool = True,  # type: ignore[no-untyped-def]
                    db_url: str | None = None):
    """A monitoring bot that also serves /search (on SQLite, or the database at `db_url`)."""
    return await start_monitor_bot(tmp_path, clock, surface=surface, extra_sets=[search.commands],
                                   database={"url": db_url} if db_url else None)


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def _archive(bot, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    """A year-old archive (two sources) and one recent post, stored as history: no watch yet."""
    old = clock.now - timedelta(days=400)
    posts = [make_post(f"a{i}", f"lockbit affiliate post number {i} see https://evil.com/x{i}",
                       at=old + timedelta(hours=i), author=f"user{i % 3}") for i in range(23)]
    posts += [make_post("t1", "lockbit chatter on telegram", source="telegram", at=old),
              make_post("r1", "lockbit in the news today", source="rss", at=clock.now - timedelta(hours=1)),
              make_post("n1", "nothing of interest here", at=old),
              make_post("z1", "lockbit from long ago", at=clock.now - timedelta(days=800))]
    await engine_of(bot).ingest(posts, alert=False)


async def test_search_pages_newest_first_with_windows_and_sources(tmp_path: Path, clock: Clock, db_url: str) -> None:
    bot, _ = await start_bot(tmp_path, clock, surface=False, db_url=db_url)
    try:
        await _archive(bot, clock)
        first = await bot.text("/search lockbit", role=Role.ANALYST)
        assert "26 matching all stored posts" in first
        assert first.index("lockbit in the news today") < first.index("number 22")  # newest first
        assert "hxxps://evil[.]com/x22" in first and "https://evil.com" not in first  # defanged snippet
        assert "More: `/search lockbit --page 2`" in first
        third = await bot.text("/search lockbit --page 3", role=Role.ANALYST)
        assert "21. " in third and "number 0 " in third and "More:" not in third
        past = await bot.text("/search lockbit --page 9", role=Role.ANALYST)
        assert "past the last hit (page 3)" in past
        recent = await bot.text("/search lockbit --since 30d", role=Role.ANALYST)
        assert "1 matching stored posts from the last 30 days" in recent
        only = await bot.text("/search lockbit --source telegram,rss --until 30d", role=Role.ANALYST)
        assert "1 matching stored posts before" in only and "chatter on telegram" in only
        none = await bot.text("/search conti --since 7d", role=Role.ANALYST)
        assert "No stored post matches" in none and "--since all" in none
        bad = await bot.text("/search lockbit --since yesteryear", role=Role.ANALYST)
        assert "--since takes a duration back from now" in bad
        assert "--page counts from 1 to 10000" in await bot.text("/search lockbit --page 0", role=Role.ANALYST)
        assert "--page counts from 1 to 10000" in await bot.text("/search lockbit --page 10001", role=Role.ANALYST)
        assert "further back than any post" in await bot.text("/search lockbit --since 99999999999d",
                                                              role=Role.ANALYST)
        assert "--page counts from 1" in await bot.text("/watch matches 1 --page -3")
        broken = await bot.text("/search lockbit AND (", role=Role.ANALYST)
        assert "does not parse" in broken
    finally:
        await bot.stop()


async def test_a_window_too_large_for_the_time_limit_says_so(tmp_path: Path, clock: Clock,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    bot, _ = await start_bot(tmp_path, clock, surface=False)
    try:
        await _archive(bot, clock)
        monkeypatch.setattr(stored_scan, "BATCH", 4)
        monkeypatch.setattr(stored_scan, "BUDGET_S", 0.0)  # one batch, then the time is up
        text = await bot.text("/search conti", role=Role.ANALYST)
        assert "at least 0" in text and "too large to scan within the time limit" in text
        assert "Narrow it, e.g. /search conti --since" in text
        tested = await bot.text("/watch test lockbit --since all", role=Role.ANALYST)
        assert "would have matched 4 of 4" in tested and "too large to scan" in tested
    finally:
        await bot.stop()


async def test_watch_test_and_show_take_a_window(tmp_path: Path, clock: Clock) -> None:
    bot, _ = await start_bot(tmp_path, clock, surface=False)
    try:
        await _archive(bot, clock)
        week = await bot.text("/watch test lockbit", role=Role.ANALYST)
        assert "matched 1 of 1 stored posts from the last 7 days" in week and "--since all" not in week
        year = await bot.text("/watch test lockbit --since 400d", role=Role.ANALYST)
        assert "matched 25 of 26 stored posts from the last 400 days" in year
        everything = await bot.text("/watch test lockbit --since all", role=Role.ANALYST)
        assert "matched 26 of 27 all stored posts" in everything

        await bot.run("/watch add lockbit", role=Role.ANALYST)
        shown = await bot.text("/watch show 1")
        assert "26 stored in all" in shown and "every stored post" in shown
        assert "in the news today" in shown and "number 22" not in shown  # the default week
        older = await bot.text("/watch show 1 --since 401d")
        assert "number 22" in older
    finally:
        await bot.stop()


async def test_a_new_watch_matches_everything_stored_without_alerting(tmp_path: Path, clock: Clock,
                                                                     db_url: str) -> None:
    bot, surface = await start_bot(tmp_path, clock, db_url=db_url)
    try:
        await _archive(bot, clock)
        added = await bot.text("/watch add lockbit", role=Role.ANALYST)
        assert "It matches 26 stored posts already stored (27 read)" in added
        assert await engine_of(bot).outbox.drain() == 0 and not surface.delivered  # history pages no one
        listed = await bot.text("/watch matches 1")
        assert "26 matches among all stored posts, page 1 of 3" in listed
        assert listed.index("in the news today") < listed.index("number 22")
        assert "1. " in listed and "10. " in listed and "11. " not in listed
        page3 = await bot.text("/watch matches 1 --page 3")
        assert "21. " in page3 and "number 0 " in page3
        windowed = await bot.text("/watch matches 1 --since 30d")
        assert "1 match among stored posts from the last 30 days" in windowed
        # matches of history are dated by their posts: the last day's count is not a spike of 25
        counts = await bot.services.db.run(lambda s: s.execute(select(WatchMatch.created_at)).scalars().all())
        assert sum(1 for at in counts if at > clock.now - timedelta(days=1)) == 1
        # a post arriving now is matched live, once
        await engine_of(bot).ingest([make_post("live", "lockbit posts a new victim", at=clock.now)])
        assert "27 matches among" in await bot.text("/watch matches 1")
        assert "no watch 9 in this chat" in (await bot.text("/watch matches 9")).lower()
    finally:
        await bot.stop()


async def test_a_long_retro_hunt_goes_on_in_the_background_and_after_a_restart(
        tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    bot, _ = await start_bot(tmp_path, clock, surface=False)
    try:
        await _archive(bot, clock)
        monkeypatch.setattr(stored_scan, "BATCH", 5)
        monkeypatch.setattr(backfill, "INLINE_BUDGET_S", 0.0)
        monkeypatch.setattr(backfill, "continue_in_background", lambda services, watch: None)  # "the process stops"
        added = await bot.text("/watch add lockbit", role=Role.ANALYST)
        assert "so far, reading stored posts back to" in added
        assert "goes on when the bot runs" in await bot.text("/watch show 1")
        monkeypatch.undo()
        monkeypatch.setattr(stored_scan, "BATCH", 5)
        await backfill.resume_unfinished(bot.services)  # what a restarted bot does at start
        for task in list(backfill._running.values()):
            await task
        assert "every stored post" in await bot.text("/watch show 1")
        assert "26 matches among" in await bot.text("/watch matches 1")
        await bot.run("/watch remove 1", role=Role.ANALYST)
        assert await bot.services.db.run(lambda s: s.get(Watch, 1)) is None
        assert await backfill.state(bot.services, 1) == "not started"
    finally:
        await bot.stop()
