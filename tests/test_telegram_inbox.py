"""Telegram updates through the inbox: redeliveries skipped, updates a dead process left behind run once at start."""

from __future__ import annotations

import asyncio
import socket
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import select
from telegram import Update

from bot.surfaces.telegram import TelegramSurface
from handlers.catalog import command_sets
from storage import inbox
from storage.models import AuditEntry, InboxUpdate
from tests.fakes.telegram_api import FakeBotAPI, message_update
from tests.fakes.telegram_bot import telegram_bot
from tests.harness import BotHarness

OWNER = 1
BOT_ID = 123456789  # the fake's bot (the token's numeric prefix)


async def _rows(harness: BotHarness) -> dict[int, InboxUpdate]:
    return await harness.services.db.run(
        lambda s: {r.update_id: r for r in s.execute(select(InboxUpdate)).scalars()})


async def _audited(harness: BotHarness, command: str) -> int:
    return len(await harness.services.db.run(
        lambda s: s.execute(select(AuditEntry).where(AuditEntry.command == command)).all()))


async def test_a_redelivered_update_is_not_run_again(tmp_path: Path) -> None:
    async with telegram_bot(tmp_path, command_sets(), OWNER) as tg:
        update_id = tg.fake.send_command("/whoami", chat_id=OWNER, user_id=OWNER)
        await tg.fake.wait_for("sendMessage", chat_id=OWNER)
        first = next(c for c in tg.fake.calls_to("getUpdates") for u in c.result or () if u["update_id"] == update_id)
        redelivered = Update.de_json(first.result[0], tg.surface.bot)
        assert redelivered is not None and redelivered.update_id == update_id
        await tg.surface.app.update_queue.put(redelivered)  # what a redelivery after a crash goes through
        assert tg.surface.app.update_queue.empty()
        tg.fake.send_command("/help", chat_id=OWNER, user_id=OWNER)
        await tg.fake.wait_for("sendMessage", 2, chat_id=OWNER)
        assert len(tg.fake.sent(OWNER)) == 2 and await _audited(tg.bot, "whoami") == 1
        assert (await _rows(tg.bot))[update_id].handled_at is not None


async def test_an_update_that_is_not_a_command_is_marked_handled(tmp_path: Path) -> None:
    async with telegram_bot(tmp_path, command_sets(), OWNER) as tg:
        chatter = tg.fake.send_command("just chatting", chat_id=-100, user_id=OWNER, chat_type="supergroup")
        tg.fake.send_command("/whoami", chat_id=OWNER, user_id=OWNER)
        await tg.fake.wait_for("sendMessage", chat_id=OWNER)
        for _ in range(100):
            if (row := (await _rows(tg.bot)).get(chatter)) is not None and row.handled_at is not None:
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the chatter update was never marked handled")


async def test_updates_left_unhandled_by_a_dead_process_run_once_at_start(tmp_path: Path) -> None:
    async with FakeBotAPI() as fake:
        harness = BotHarness(tmp_path, sets=command_sets(), admins=[f"telegram:{OWNER}"],
                             telegram={"token": fake.token, "api_url": fake.url, "poll_timeout_s": 5})
        await harness.start()
        now = harness.services.now()
        left = {"update_id": 40, **message_update("/whoami", chat_id=OWNER, user_id=OWNER)}
        crashed = {"update_id": 41, **message_update("/help", chat_id=OWNER, user_id=OWNER)}
        stale = {"update_id": 42, **message_update("/status", chat_id=OWNER, user_id=OWNER)}

        def seed(session) -> None:  # type: ignore[no-untyped-def]
            for payload, received, reruns in [(left, now, 0), (crashed, now, inbox.MAX_RERUNS),
                                              (stale, now - timedelta(hours=30), 0)]:
                session.add(InboxUpdate(platform="telegram", bot_id=BOT_ID, update_id=payload["update_id"],
                                        payload=payload, received_at=received, reruns=reruns))

        await harness.services.db.run(seed)
        surface = TelegramSurface(harness.services, harness.app.router)
        try:
            await surface.start()
            await surface.start_receiving()  # what the leader does
            [answer] = await fake.wait_for("sendMessage", chat_id=OWNER)
            assert "Who am I" in fake.visible(answer)
            fake.send_command("/whoami", chat_id=OWNER, user_id=OWNER)  # answered after the recovered ones
            await fake.wait_for("sendMessage", 2, chat_id=OWNER)
            assert len(fake.sent(OWNER)) == 2  # the one already run again twice and the stale one stay put
            assert not any("Commands" in t or "Status" in t for t in fake.texts(OWNER))
            rows = await _rows(harness)
            assert all(rows[i].handled_at is not None for i in (40, 41, 42)) and rows[40].reruns == 1
        finally:
            await surface.stop()
            await harness.stop()


async def test_a_webhook_retry_of_the_same_update_is_answered_once(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hook = f"http://127.0.0.1:{port}/tg-hook"
    async with FakeBotAPI() as fake:
        harness = BotHarness(tmp_path, sets=command_sets(), admins=[f"telegram:{OWNER}"],
                             telegram={"token": fake.token, "api_url": fake.url, "webhook_url": hook,
                                       "webhook_port": port, "webhook_secret": "hook-secret-123"})
        await harness.start()
        surface = TelegramSurface(harness.services, harness.app.router)
        await surface.start()
        try:
            update = {"update_id": 7, **message_update("/whoami", chat_id=OWNER, user_id=OWNER)}
            headers = {"X-Telegram-Bot-Api-Secret-Token": "hook-secret-123"}
            async with httpx.AsyncClient() as client:
                answers = [await client.post(hook, json=update, headers=headers) for _ in range(3)]
            assert [a.status_code for a in answers] == [200, 200, 200]
            await fake.wait_for("sendMessage", chat_id=OWNER)
            async with httpx.AsyncClient() as client:  # a later update, answered after the retries were dropped
                later = {"update_id": 8, **message_update("/help", chat_id=OWNER, user_id=OWNER)}
                assert (await client.post(hook, json=later, headers=headers)).status_code == 200
            await fake.wait_for("sendMessage", 2, chat_id=OWNER)
            assert len(fake.sent(OWNER)) == 2 and await _audited(harness, "whoami") == 1
        finally:
            await surface.stop()
            await harness.stop()
