"""Alerts end to end: a fake source's posts through the engine to the fake Telegram Bot API server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from bot.surfaces.telegram import TelegramSurface
from handlers import basics, watch
from handlers.monitor.engine import Monitor
from storage import watches
from tests.fakes.monitor import FakeSource, make_post
from tests.fakes.telegram_api import FakeBotAPI
from tests.harness import BotHarness

OWNER = 1
HOSTILE = 'LockBit <b>owned</b> & <a href="javascript:x">this</a> @everyone'


async def test_alerts_reach_telegram_once_through_a_rate_limit(tmp_path: Path) -> None:
    async with FakeBotAPI() as fake:
        bot = BotHarness(tmp_path, sets=[basics.commands, watch.commands], background=True,
                         admins=[f"telegram:{OWNER}"], monitor={"chat_interval_s": 0},
                         telegram={"token": fake.token, "api_url": fake.url, "poll_timeout_s": 5})
        source = FakeSource()
        bot.services.extras["monitor"] = monitor = Monitor(bot.services, sources=lambda: {"fake": source})
        await bot.start()
        surface = TelegramSurface(bot.services, bot.app.router)
        await surface.start()
        await surface.start_receiving()
        bot.services.surfaces[surface.name] = surface
        try:
            fake.send_command("/watch add lockbit", chat_id=OWNER, user_id=OWNER)
            [added] = await fake.wait_for("sendMessage", chat_id=OWNER)
            assert "Watch 1" in fake.visible(added)

            fake.fail_rate_limit("sendMessage", retry_after=1)
            now = datetime.now(UTC)  # this bot runs on the real clock: only recent posts are alerted
            result = await monitor.ingest([make_post("1", HOSTILE, author="mallory", at=now),
                                           make_post("2", "nothing relevant in this one", at=now)])
            assert result.alerts == 1
            calls = await fake.wait_for("sendMessage", 2, chat_id=OWNER)  # the /watch reply and the alert
            alert = calls[-1]
            assert 'LockBit <b>owned</b> & <a href="javascript:x">this</a> @everyone' in fake.visible(alert)
            assert "<b>LockBit</b>" in alert.params["text"]  # the matched term is highlighted, the rest inert
            assert [c.status for c in fake.calls_to("sendMessage", ok_only=False)][-2:] == [429, 200]
            for _ in range(500):  # the background worker marks the alert sent just after the Bot API accepted it
                if not (await bot.services.db.run(watches.outbox_counts)).get("pending"):
                    break
                await asyncio.sleep(0.01)
            await monitor.ingest([make_post("1", HOSTILE, author="mallory", at=now)])  # polled again
            assert await monitor.outbox.drain() == 0
            assert len(fake.sent(OWNER)) == 2
        finally:
            await surface.stop()
            await bot.stop()
