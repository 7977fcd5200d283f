"""The source registry, /sources and the /status section: keys, health, last poll, attribution."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from handlers import sources as sources_cmd
from handlers.fetch import BreakerOpen
from handlers.monitor.sources.fourchan import FourChanSource
from handlers.monitor.sources.reddit import RedditSource
from handlers.monitor.sources.registry import SOURCE_CLASSES, available_sources
from storage.models import Role
from tests.harness import BotHarness


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[BotHarness]:
    bot = BotHarness(tmp_path, sets=[sources_cmd.commands], sources={"lemmy": {"enabled": False}})
    await bot.start()
    yield bot
    await bot.stop()


async def test_registry_builds_enabled_sources_once(harness: BotHarness) -> None:
    built = available_sources(harness.services)
    assert "lemmy" not in built  # disabled in settings
    assert isinstance(built["4chan"], FourChanSource)
    assert isinstance(built["reddit"], RedditSource) and not built["reddit"].configured()
    assert {"telegram", "github"} <= set(built)
    assert available_sources(harness.services) is built
    assert all(getattr(s, "fetcher", None) is harness.services.fetcher for s in built.values())


async def test_sources_command_lists_keys_health_and_attribution(harness: BotHarness) -> None:
    text = await harness.text("/sources", role=Role.VIEWER)
    for section in SOURCE_CLASSES:
        assert section in text or section.replace("fourchan", "4chan") in text
    assert "needs a key" in text and "reddit" in text
    assert "disabled in settings" in text  # lemmy
    assert "https://www.4chan.org" in text  # 4chan's required attribution
    assert "not polled yet" in text


async def test_health_follows_the_fetcher(harness: BotHarness) -> None:
    services = harness.services
    fetcher = services.fetcher
    fetcher.client = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200, json=[])))
    await fetcher.get("https://gh.example/x", key="github")
    breaker = fetcher.breaker("4chan")
    for _ in range(breaker.threshold):  # what the fetcher records after failed requests
        breaker.failure("HTTP 500")
    with pytest.raises(BreakerOpen):
        await fetcher.get("https://a.example/po/catalog.json", key="4chan")
    states = {s.name: s for s in await sources_cmd.source_states(services)}
    assert states["github"].health == "ok" and states["github"].last_poll is not None
    assert states["4chan"].health.startswith("paused after 5 failures (HTTP 500)")
    assert states["reddit"].key == "needs a key"
    text = await harness.text("/sources", role=Role.VIEWER)
    assert "paused after 5 failures" in text and "s ago" in text


async def test_status_section_is_registered(harness: BotHarness) -> None:
    assert sources_cmd.sources_status in harness.services.status_providers
    section = await sources_cmd.sources_status(harness.services)
    assert section is not None and section[0] == "Sources"
    lines = dict(section[1])
    assert "needs a key" in str(lines["reddit"]) and "lemmy" not in lines
