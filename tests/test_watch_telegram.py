"""Alerts end to end: a fake source's posts through the engine to the fake Telegram Bot API server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from bot.surfaces.telegram import TelegramSurface
from handlers import basics, watch
from handlers.monitor.engine import Monitor
from handlers.monitor.slot import MONITOR
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
        bot.services.shared.put(MONITOR, monitor := Monitor(bot.services, sources=lambda: {"fake": source}))
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


async def test_overlapping_watches_in_one_chat_send_one_message_per_post(tmp_path: Path) -> None:
    async with FakeBotAPI() as fake:
        bot = BotHarness(tmp_path, sets=[basics.commands, watch.commands], background=True,
                         admins=[f"telegram:{OWNER}"], monitor={"chat_interval_s": 0},
                         telegram={"token": fake.token, "api_url": fake.url, "poll_timeout_s": 5})
        bot.services.shared.put(MONITOR, monitor := Monitor(bot.services, sources=lambda: {"fake": FakeSource()}))
        await bot.start()
        surface = TelegramSurface(bot.services, bot.app.router)
        await surface.start()
        await surface.start_receiving()  # what the leader does
        bot.services.surfaces[surface.name] = surface
        try:
            for query in ("lockbit", "lockbit OR alphv", "#lockbit"):
                fake.send_command(f"/watch add {query}", chat_id=OWNER, user_id=OWNER)
                await fake.wait_for("sendMessage", len(fake.sent(OWNER)) + 1, chat_id=OWNER)
            now = datetime.now(UTC)  # the real clock: only recent posts are alerted
            posts = [make_post("1", "LockBit posts a new victim #lockbit", at=now),  # all three watches
                     make_post("2", "ALPHV is back", at=now),  # watch 2 only
                     make_post("3", "lockbit and alphv trade blows", at=now)]  # watches 1 and 2
            result = await monitor.ingest(posts)
            assert (result.matches, result.alerts) == (6, 3)
            await fake.wait_for("sendMessage", 6, chat_id=OWNER)
            await monitor.outbox.drain()
            alerts = [t for t in fake.texts(OWNER) if t.startswith("🔔")]
            assert len(alerts) == 3 and len(fake.sent(OWNER)) == 6  # three replies, one message per post
            first, second, third = alerts
            assert all(f"Watch {n}" in first for n in (1, 2, 3)) and "LockBit posts" in first
            assert "Watch 2" in second and "Watch 1" not in second
            assert "Watch 1" in third and "Watch 2" in third and "Watch 3" not in third
            mutes = [b["callback_data"] for row in fake.sent(OWNER)[3].params["reply_markup"]["inline_keyboard"]
                     for b in row if b["text"].startswith("Mute")]
            assert len(mutes) == 3  # each watch named can be muted on its own
        finally:
            await surface.stop()
            await bot.stop()
