"""Every HTTP client the app opens is closed when it stops: its own, the Telegram library's, the lookups'."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.surfaces.telegram import TelegramSurface
from config.lookups import PROVIDERS
from storage.models import Role
from tests.fakes.telegram_api import FakeBotAPI
from tests.harness import BotHarness

DEAD = "http://127.0.0.1:9"  # the discard port: nothing answers, so every lookup fails at once, offline


def track_clients(monkeypatch: pytest.MonkeyPatch) -> list[httpx.AsyncClient]:
    """Every httpx.AsyncClient made from now on, in order."""
    opened: list[httpx.AsyncClient] = []
    original = httpx.AsyncClient.__init__

    def tracking(self: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        opened.append(self)

    monkeypatch.setattr(httpx.AsyncClient, "__init__", tracking)
    return opened


async def test_start_work_and_stop_leave_no_client_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened = track_clients(monkeypatch)
    lookups = {p.name: {"base_url": f"{DEAD}/{p.name}", "timeout_s": 2} for p in PROVIDERS}
    async with FakeBotAPI() as fake:
        harness = BotHarness(tmp_path, admins=["telegram:1"], lookups=lookups,
                             telegram={"token": fake.token, "api_url": fake.url, "poll_timeout_s": 1})
        await harness.start()
        await harness.app.add_surface(TelegramSurface(harness.services, harness.app.router))
        cve = await harness.text("/cve CVE-2021-44228", role=Role.ANALYST)
        status = await harness.text("/status", role=Role.ADMIN)
        assert "NVD" in cve and "CISA KEV" in status
        await harness.stop()
    assert len(opened) >= 2, "the app's client and the Telegram library's"
    assert [c for c in opened if not c.is_closed] == []


async def test_the_lookups_use_the_app_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    harness = BotHarness(tmp_path, lookups={p.name: {"base_url": f"{DEAD}/{p.name}"} for p in PROVIDERS})
    await harness.start()
    opened = track_clients(monkeypatch)
    try:
        await harness.text("/cve CVE-2021-44228", role=Role.ANALYST)
        assert harness.services.fetcher.client is harness.services.http
    finally:
        await harness.stop()
    assert opened == []  # no lookup made a client of its own
