"""Telegram updates handled once across crashes: written down before they are confirmed, skipped when redelivered.

python-telegram-bot confirms an update to Telegram only after `update_queue.put` returned: polling sends
the next getUpdates with the new offset, a webhook answers 200. `InboxQueue.put` writes the update to
the inbox first (storage/inbox.py), so every update is either still Telegram's to redeliver or in our
database; one already there is a redelivery and goes no further. `InboxProcessor` runs updates
concurrently, each with its `Receipt`: the router commits it with the command's first write or before
its first message, and the processor commits it at the end for updates nothing answered. At start,
updates received but never handled (the process died first) are run again.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from sqlmodel import Session
from telegram import Bot, Update
from telegram.ext import SimpleUpdateProcessor

from bot.services import Services
from storage import inbox
from storage.inbox import Receipt

log = logging.getLogger(__name__)

PLATFORM = "telegram"
CONCURRENT_UPDATES = 256  # what python-telegram-bot's `concurrent_updates(True)` means
PRUNE_EVERY_S = 3600.0
RETRY_MAX_S = 30.0

_receipt: ContextVar[Receipt | None] = ContextVar("telegram_receipt", default=None)


def current_receipt() -> Receipt | None:
    """The receipt of the update being processed in this task."""
    return _receipt.get()


class TelegramInbox:
    """The bot's updates in the database: received once, handled once."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.bot_id: int | None = None  # set from getMe at start, before any update arrives
        self._pruned_at: float | None = None

    def receipt(self, update: Update) -> Receipt:
        assert self.bot_id is not None, "the inbox is used before the bot was initialised"
        return Receipt(PLATFORM, self.bot_id, update.update_id, self.services.now)

    async def receive(self, update: Update) -> bool:
        """Write the update down (retrying while the database fails); False for a redelivery."""
        assert self.bot_id is not None, "the inbox is used before the bot was initialised"
        bot_id, payload, delay = self.bot_id, update.to_dict(), 1.0
        while True:
            write = functools.partial(self._receive, bot_id=bot_id, update_id=update.update_id, payload=payload,
                                      now=self.services.now(), prune=self._prune_due())
            try:
                return await self.services.db.run(write)
            except Exception as exc:  # nothing is confirmed to Telegram until this succeeds
                log.error("Telegram update %s could not be written to the inbox (retrying in %.0f s): %s: %s",
                          update.update_id, delay, type(exc).__name__, exc)
                self.services.record_error(PLATFORM, f"inbox: {type(exc).__name__}: {exc}")
                await asyncio.sleep(delay)
                delay = min(RETRY_MAX_S, delay * 2)

    @staticmethod
    def _receive(session: Session, *, bot_id: int, update_id: int, payload: dict[str, Any], now: datetime,
                 prune: bool) -> bool:
        if prune:  # first, so an update id Telegram reuses after a week of silence is not taken for a repeat
            inbox.prune(session, now - inbox.KEEP)
        return inbox.receive(session, PLATFORM, bot_id, update_id, payload, now)

    def _prune_due(self) -> bool:
        now = asyncio.get_running_loop().time()
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY_S:
            return False
        self._pruned_at = now
        return True

    async def recover(self, bot: Bot) -> list[Update]:
        """The updates a previous run received but did not handle, to run again (oldest first)."""
        assert self.bot_id is not None, "the inbox is used before the bot was initialised"
        bot_id, now = self.bot_id, self.services.now()
        found = await self.services.db.run(lambda s: inbox.recover(s, PLATFORM, bot_id, now))
        if found.given_up:
            log.warning("Telegram updates %s were never handled (too old, or the process died on them %d times); "
                        "not running them again", found.given_up, inbox.MAX_RERUNS + 1)
        if found.payloads:
            log.info("running %d Telegram update(s) again that the last run received but did not handle",
                     len(found.payloads))
        return [u for u in (Update.de_json(p, bot) for p in found.payloads) if u is not None]


class InboxQueue(asyncio.Queue[object]):
    """python-telegram-bot's update queue: an update is in the inbox before it may be confirmed; repeats stop here."""

    def __init__(self, inbox: TelegramInbox) -> None:
        super().__init__()
        self.inbox = inbox

    async def put(self, item: object) -> None:
        if isinstance(item, Update) and not await self.inbox.receive(item):
            log.info("Telegram redelivered update %s, already received; skipped", item.update_id)
            return
        await super().put(item)


class InboxProcessor(SimpleUpdateProcessor):
    """Processes updates concurrently, each with its receipt, which is committed at the latest when it is done."""

    def __init__(self, inbox: TelegramInbox) -> None:
        super().__init__(CONCURRENT_UPDATES)
        self.inbox = inbox

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        receipt = self.inbox.receipt(update) if isinstance(update, Update) else None
        token = _receipt.set(receipt)
        try:
            await coroutine
        finally:
            _receipt.reset(token)
        await self.inbox.services.db.settle(receipt)  # not when cancelled: a half-run update runs again at start
