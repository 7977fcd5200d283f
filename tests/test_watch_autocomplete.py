"""Argument completers: this chat's watch ids and source names, directly and as Discord autocomplete."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.command import ArgKind, ChatKind, ChatRef
from bot.router import Registry
from bot.surfaces.discord import DiscordSurface, typed_choices
from handlers import basics, watch
from handlers.analysis import commands as analysis
from handlers.completers import source_names, watch_ids
from handlers.monitor.engine import Monitor
from handlers.monitor.slot import MONITOR
from tests.fakes.discord_api import FakeDiscord, fake_discord, wait_connected
from tests.fakes.monitor import Clock, FakeSource, start_monitor_bot
from tests.harness import BotHarness

CHAT = ChatRef("telegram", -5001, ChatKind.GROUP, "test chat")


async def test_watch_ids_are_this_chats_matching_the_typed_text(tmp_path: Path) -> None:
    bot, _ = await start_monitor_bot(tmp_path, Clock())
    try:
        for query in ("lockbit", "akira leak", "lockbit OR blackcat"):
            await bot.run(f"/watch add {query}")
        await bot.run("/watch add elsewhere", chat_id=-6000)
        services = bot.services
        assert await watch_ids(services, CHAT, "") == ["3", "2", "1"]  # newest first; not chat -6000's watch 4
        assert await watch_ids(services, CHAT, "2") == ["2"]
        assert await watch_ids(services, CHAT, "LOCK") == ["3", "1"]  # by query text too
        assert await watch_ids(services, CHAT, "watch:1") == ["1"]
        assert await watch_ids(services, ChatRef("telegram", -6000), "") == ["4"]
        assert await watch_ids(services, CHAT, "zzz") == []
    finally:
        await bot.stop()


async def test_source_names_complete_the_last_item_of_a_list(tmp_path: Path) -> None:
    bot = BotHarness(tmp_path, sets=[basics.commands, watch.commands])
    sources = {name: FakeSource() for name in ("hackernews", "mastodon", "reddit")}
    bot.services.shared.put(MONITOR, Monitor(bot.services, sources=lambda: sources))
    await bot.start()
    try:
        services = bot.services
        assert await source_names(services, CHAT, "") == ["hackernews", "mastodon", "reddit"]
        assert await source_names(services, CHAT, "ma") == ["mastodon"]
        assert await source_names(services, CHAT, "hackernews,") == ["hackernews,mastodon", "hackernews,reddit"]
        assert await source_names(services, CHAT, "hackernews, Re") == ["hackernews,reddit"]
        assert await source_names(services, CHAT, "x") == []
    finally:
        await bot.stop()


def test_every_watch_id_argument_completes() -> None:
    registry = Registry([watch.commands, analysis.commands])
    for name in ("watch show", "watch pause", "watch resume", "watch remove", "watch mute", "watch signals",
                 "network", "sentiment", "iocs", "geo", "trends", "coord"):
        assert registry.get(name).args[0].complete is watch_ids, name
    add = registry.get("watch add")
    assert next(o for o in add.options if o.name == "sources").complete is source_names


def test_discord_choices_are_typed_like_the_option() -> None:
    assert [(c.name, c.value) for c in typed_choices(ArgKind.INT, ["12", "x", "3"])] == [("12", 12), ("3", 3)]
    assert [c.value for c in typed_choices(ArgKind.STR, ["hackernews"])] == ["hackernews"]


# through the Discord surface --------------------------------------------------------------------
@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with fake_discord() as server:
        yield server


@pytest.fixture
async def on_discord(tmp_path: Path, fake: FakeDiscord) -> AsyncIterator[BotHarness]:
    harness = BotHarness(tmp_path, sets=[basics.commands, watch.commands],
                         discord={"token": "fake.discord.token", "api_url": fake.api_url,
                                  "gateway_url": fake.gateway_url})
    harness.services.shared.put(MONITOR, Monitor(harness.services, sources=lambda: {"fake": FakeSource()}))
    await harness.start()
    surface = DiscordSurface(harness.services, harness.app.router)
    await harness.app.add_surface(surface)
    await wait_connected(fake, surface)
    yield harness
    await harness.stop()


def focused_watch_show(typed: str) -> dict:  # type: ignore[type-arg]
    return {"id": "7", "name": "watch", "type": 1, "options": [
        {"name": "show", "type": 1, "options": [{"name": "id", "type": 4, "value": typed, "focused": True}]}]}


async def test_discord_autocomplete_offers_this_channels_watch_ids(on_discord: BotHarness, fake: FakeDiscord) -> None:
    for query in ("lockbit", "akira"):
        await on_discord.run(f"/watch add {query}", platform="discord", user_id=90, chat_id=570)
    asking = fake.interaction(570, 90, focused_watch_show(""), kind=4, guild_id=999)
    await fake.dispatch("INTERACTION_CREATE", asking)
    call = await fake.wait_for(lambda c: c.path.startswith(f"/interactions/{asking['id']}/"))
    assert call.json["type"] == 8
    assert call.json["data"]["choices"] == [{"name": "2", "value": 2}, {"name": "1", "value": 1}]

    stranger = fake.interaction(571, 91, focused_watch_show(""), kind=4, guild_id=999)
    await fake.dispatch("INTERACTION_CREATE", stranger)
    call = await fake.wait_for(lambda c: c.path.startswith(f"/interactions/{stranger['id']}/"))
    assert call.json["type"] == 8 and call.json["data"]["choices"] == []  # an unallowed channel learns nothing
