"""Fakes for the monitoring engine: a settable clock, a scripted source and a post factory."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from bot.command import CommandSet
from bot.reply import Paragraph, Reply
from handlers.monitor.post import Author, Post
from handlers.monitor.slot import MONITOR
from handlers.monitor.sources.base import Page, Source
from tests.harness import BotHarness, RecordingSurface

if TYPE_CHECKING:
    from handlers.monitor.engine import Monitor

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # the instant of tests that inject a `Clock`; never the real now


class Clock:
    """A clock tests move by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


def make_post(
    source_id: str, text: str, *, source: str = "fake", author: str = "alice", at: datetime = T0,
    score: int = 0, url: str | None = None, title: str | None = None,
) -> Post:
    """A post stamped at T0 by default: a test whose bot runs on the real clock passes `at` relative to now."""
    return Post(source=source, source_id=source_id, text=text, created_at=at, author=Author(author, author),
                url=url or f"https://fake.example/{source_id}", title=title,
                engagement={"points": score} if score else {})


class FakeSource(Source):
    """Serves scripted pages: each search returns posts newer than the cursor (a running index)."""

    name: ClassVar[str] = "fake"
    title: ClassVar[str] = "Fake"

    def __init__(self, posts: Sequence[Post] = ()) -> None:
        self.posts = list(posts)
        self.calls: list[tuple[tuple[str, ...], str | None]] = []
        self.fail: Exception | None = None

    async def search(self, terms: Sequence[str], cursor: str | None) -> Page:
        self.calls.append((tuple(terms), cursor))
        if self.fail is not None:
            raise self.fail
        start = int(cursor) if cursor else 0
        return Page(self.posts[start:], str(len(self.posts)))


async def start_monitor_bot(
    tmp_path: Path, clock: Clock, source: FakeSource | None = None, *, surface: bool = True,
    background: bool = False, extra_sets: Sequence[CommandSet] = (), database: dict[str, object] | None = None,
    **monitor: object,
) -> tuple[BotHarness, RecordingSurface]:
    """A started bot serving the watch commands with a fake source and a recording Telegram surface.

    Background work is off unless asked: tests drive delivery with `monitor.outbox.drain()`.
    """
    from handlers import basics, watch
    from handlers.monitor.engine import Monitor

    settings = {"chat_interval_s": 0, "poll_jitter_s": 0, **monitor}
    recorder = RecordingSurface("telegram")
    bot = BotHarness(tmp_path, sets=[basics.commands, watch.commands, *extra_sets], clock=clock, background=background,
                     surfaces=[recorder] if surface else [], monitor=settings,
                     **({"database": database} if database else {}))
    fake = source or FakeSource()
    bot.services.shared.put(MONITOR, Monitor(bot.services, sources=lambda: {fake.name: fake}))
    await bot.start()
    return bot, recorder


def engine_of(bot: BotHarness) -> Monitor:
    return bot.services.shared.get(MONITOR)


class FileSurface:
    """A chat surface that appends each alert's post text to a file (survives the process being killed)."""

    name = "telegram"

    def __init__(self, path: Path, delay: float = 0.0) -> None:
        self.path = path
        self.delay = delay

    @property
    def connected(self) -> bool:
        return True

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def deliver(self, chat_id: int, reply: Reply) -> None:
        await asyncio.sleep(self.delay)
        line = next(p.plain for p in reply.parts if isinstance(p, Paragraph) and "lockbit post" in p.plain.lower())
        with self.path.open("a", encoding="utf-8") as out:
            out.write(line.strip() + "\n")
            out.flush()
            os.fsync(out.fileno())
