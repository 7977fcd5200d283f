"""The whole bot served on Telegram against the fake Bot API: real python-telegram-bot, temp database."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.command import CommandSet
from bot.surfaces.telegram import TelegramSurface
from tests.fakes.telegram_api import FakeBotAPI
from tests.harness import BotHarness


@dataclass
class Telegram:
    """A running fake Bot API, the bot harness and its Telegram surface."""

    fake: FakeBotAPI
    bot: BotHarness
    surface: TelegramSurface


@contextlib.asynccontextmanager
async def telegram_bot(tmp_path: Path, sets: Iterable[CommandSet], owner: int, **settings: Any
                       ) -> AsyncIterator[Telegram]:
    """Serve `sets` on Telegram with `owner` configured as an owner (their DM needs no /allow).

    `settings` go to the harness; a `telegram` entry adds to the fake's token and API root.
    """
    async with FakeBotAPI() as fake:
        telegram = {"token": fake.token, "api_url": fake.url, "poll_timeout_s": 5, **settings.pop("telegram", {})}
        harness = BotHarness(tmp_path, sets=list(sets), admins=[f"telegram:{owner}"], telegram=telegram, **settings)
        await harness.start()
        surface = TelegramSurface(harness.services, harness.app.router)
        await surface.start()
        await surface.start_receiving()
        harness.services.surfaces[surface.name] = surface
        try:
            yield Telegram(fake, harness, surface)
        finally:
            await surface.stop()
            await harness.stop()
