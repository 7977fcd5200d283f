"""The delivery worker: the only path from the alert outbox to the chats.

Rows are sent oldest first per chat through the chat's surface. A row is marked sent only after
the surface accepted it, so after a crash at most the one message in flight is sent again. A
failed delivery is retried with backoff (the platform's `retry_after` wins) and holds back the
rest of that chat so order and flood limits are kept; a permanent failure marks the row failed.
When one watch fires more than `group_threshold` times in `group_window_s`, its pending alerts
are folded into one summary row, at most one summary per `group_hold_s`. Finished rows stay until the
daily purge deletes them after `governance.retention.outbox_days`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlmodel import Session, col

from bot.reply import Reply
from bot.services import DeliveryError, Services
from config.monitor import MonitorSettings
from handlers.monitor.alert import group_payload, minutes_between, render
from storage.models import OutboxItem, OutboxState

log = logging.getLogger(__name__)

IDLE_WAIT_S = 30.0  # longest sleep when nothing is due (a new alert wakes the worker at once)
BLOCKED_WAIT_S = 5.0  # re-check this often while a chat's surface is missing or disconnected
ERROR_WAIT_S = 5.0

_PENDING = OutboxState.PENDING.value

Builder = Callable[[dict[str, Any], str, int], Awaitable[Reply]]  # payload, chat platform, chat id


@dataclass(frozen=True)
class Deferred:
    """The row was held back for grouping; nothing to send now."""


class OutboxWorker:
    """Sends pending outbox rows to their chats, in order, with retries and grouping."""

    def __init__(self, services: Services, settings: MonitorSettings) -> None:
        self.services = services
        self.settings = settings
        self._wake = asyncio.Event()
        self._round = asyncio.Lock()  # one round at a time: a drain beside the loop must not send a row twice
        self._task: asyncio.Task[None] | None = None
        self._last_sent: dict[tuple[str, int], datetime] = {}
        self.blocked: set[str] = set()  # platforms with due rows but no connected surface
        self._throttled_until: datetime | None = None  # a chat waits for chat_interval_s
        self.builders: dict[str, Builder] = {}  # payload kinds drawn by other parts (digests)
        self.given_up = 0  # rows marked failed by this worker

    # lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Run the delivery loop in the background."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop(), name="outbox")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def wake(self) -> None:
        """Tell the worker there is something new to send."""
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            try:
                sent = await self.run_once()
                wait = 0.0 if sent else await self._idle_wait()
            except Exception as exc:
                log.exception("outbox round failed")
                self.services.record_error("outbox", f"{type(exc).__name__}: {exc}")
                wait = ERROR_WAIT_S
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()

    async def _idle_wait(self) -> float:
        if self.blocked:
            return BLOCKED_WAIT_S
        now = self.services.now()
        due = await self.services.db.run(_next_due)
        times = [t for t in (due, self._throttled_until) if t is not None and t > now]
        if not times:
            return IDLE_WAIT_S if due is None else 0.05
        return min(IDLE_WAIT_S, max(0.05, (min(times) - now).total_seconds()))

    # one round -------------------------------------------------------------------------------
    async def run_once(self) -> int:
        """Try the next due row of every chat once; returns how many messages went out."""
        async with self._round:
            now = self.services.now()
            heads = await self.services.db.run(lambda s: _due_heads(s, now))
            self.blocked = set()
            self._throttled_until = None
            ready = [item for item in heads if self._ready(item, now)]
            results = await asyncio.gather(*(self._deliver(item) for item in ready))
            return sum(results)

    async def drain(self, max_rounds: int = 10_000) -> int:
        """Run rounds until nothing more can be sent now (tests and shutdown flushes); returns how many went."""
        total = 0
        for _ in range(max_rounds):
            given_up = self.given_up
            sent = await self.run_once()
            if not sent and self.given_up == given_up:
                break
            total += sent
        return total

    def _ready(self, item: OutboxItem, now: datetime) -> bool:
        surface = self.services.surfaces.get(item.chat_platform)
        if surface is None or not surface.connected:
            self.blocked.add(item.chat_platform)
            return False
        last = self._last_sent.get((item.chat_platform, item.chat_id))
        if last is None or (now - last).total_seconds() >= self.settings.chat_interval_s:
            return True
        until = last + timedelta(seconds=self.settings.chat_interval_s)
        self._throttled_until = min(until, self._throttled_until or until)
        return False

    async def _deliver(self, item: OutboxItem) -> int:
        now = self.services.now()
        step = await self.services.db.run(lambda s: _prepare(s, item.id or 0, now, self.settings))
        if step is None or isinstance(step, Deferred):
            return 0
        builder = self.builders.get(str(step.get("kind")))
        try:
            reply = await builder(step, item.chat_platform, item.chat_id) if builder else render(step)
        except Exception as exc:  # a payload that cannot be drawn will never be: stop retrying it
            log.exception("outbox row %s cannot be rendered", item.id)
            await self._mark_failed(item, f"render: {type(exc).__name__}: {exc}")
            return 0
        surface = self.services.surfaces[item.chat_platform]
        try:
            await surface.deliver(item.chat_id, reply)
        except DeliveryError as exc:
            await self._failed_attempt(item, exc, permanent=exc.permanent, retry_after=exc.retry_after)
            return 0
        except Exception as exc:
            log.exception("delivery to %s:%s raised", item.chat_platform, item.chat_id)
            self.services.record_error("outbox", f"{type(exc).__name__}: {exc}")
            await self._failed_attempt(item, exc, permanent=False, retry_after=None)
            return 0
        sent_at = self.services.now()
        self._last_sent[(item.chat_platform, item.chat_id)] = sent_at
        await self.services.db.run(lambda s: _mark_sent(s, item.id or 0, sent_at))
        self.services.metrics.alerts_sent.labels(item.chat_platform).inc()
        return 1

    async def _mark_failed(self, item: OutboxItem, error: str) -> None:
        self.given_up += 1
        self.services.metrics.alerts_failed.labels(item.chat_platform).inc()
        await self.services.db.run(lambda s: _set_failed(s, item.id or 0, error))

    async def _failed_attempt(
        self, item: OutboxItem, exc: Exception, *, permanent: bool, retry_after: float | None
    ) -> None:
        attempts = item.attempts + 1
        error = f"{type(exc).__name__}: {exc}"[:500]
        if permanent or attempts >= self.settings.max_attempts:
            log.warning("giving up on outbox row %s to %s:%s: %s", item.id, item.chat_platform, item.chat_id, error)
            await self._mark_failed(item, error)
            return
        delay = retry_after if retry_after is not None else self._backoff(attempts)
        until = self.services.now() + timedelta(seconds=delay)
        log.info("delivery to %s:%s failed (%s); retry in %.1fs", item.chat_platform, item.chat_id, error, delay)
        await self.services.db.run(lambda s: _hold_chat(s, item, attempts, error, until))

    def _backoff(self, attempts: int) -> float:
        base = min(self.settings.retry_max_s, self.settings.retry_base_s * 2 ** (attempts - 1))
        return base * random.uniform(0.8, 1.2)


# database steps (run in worker threads) ---------------------------------------------------------
def _due_heads(session: Session, now: datetime) -> list[OutboxItem]:
    """Per chat, the oldest pending row that is due."""
    heads = (
        select(func.min(OutboxItem.id))
        .where(OutboxItem.state == _PENDING, col(OutboxItem.next_attempt_at) <= now)
        .group_by(col(OutboxItem.chat_platform), col(OutboxItem.chat_id))
    )
    ids = [r[0] for r in session.execute(heads)]
    if not ids:
        return []
    rows = session.execute(select(OutboxItem).where(col(OutboxItem.id).in_(ids)).order_by(col(OutboxItem.id)))
    return list(rows.scalars())


def _next_due(session: Session) -> datetime | None:
    return session.execute(
        select(func.min(OutboxItem.next_attempt_at)).where(OutboxItem.state == _PENDING)
    ).scalar_one_or_none()


def _prepare(
    session: Session, item_id: int, now: datetime, settings: MonitorSettings
) -> dict[str, Any] | Deferred | None:
    """The payload to send for row `item_id`, grouping its watch's pending alerts when busy."""
    item = session.get(OutboxItem, item_id)
    if item is None or item.state != _PENDING:
        return None
    if item.payload.get("kind") != "alert" or item.watch_id is None:
        return item.payload
    since = now - timedelta(seconds=settings.group_window_s)
    recent = session.execute(
        select(func.count()).select_from(OutboxItem)
        .where(OutboxItem.watch_id == item.watch_id, col(OutboxItem.created_at) >= since)
    ).scalar_one()
    if recent <= settings.group_threshold:
        return item.payload
    last_sent = session.execute(
        select(func.max(OutboxItem.sent_at)).where(OutboxItem.watch_id == item.watch_id)
    ).scalar_one_or_none()
    if last_sent is not None and (now - last_sent).total_seconds() < settings.group_hold_s:
        hold = last_sent + timedelta(seconds=settings.group_hold_s)
        session.execute(
            update(OutboxItem)
            .where(OutboxItem.watch_id == item.watch_id, OutboxItem.state == _PENDING,
                   col(OutboxItem.next_attempt_at) < hold)
            .values(next_attempt_at=hold)
        )
        return Deferred()
    pending = list(session.execute(
        select(OutboxItem)
        .where(OutboxItem.watch_id == item.watch_id, OutboxItem.state == _PENDING)
        .order_by(col(OutboxItem.id))
    ).scalars())
    alerts = [p for p in pending if p.payload.get("kind") == "alert"]
    if len(alerts) < 2:
        return item.payload
    first = min(p.created_at for p in alerts)
    item.payload = group_payload(item.watch_id, item.payload["query"], [p.payload["post"] for p in alerts],
                                 minutes_between(first, now))
    session.add(item)
    for other in alerts:
        if other.id != item.id:
            other.state = OutboxState.GROUPED.value
            other.last_error = f"in summary {item.id}"
            session.add(other)
    return item.payload


def _mark_sent(session: Session, item_id: int, at: datetime) -> None:
    item = session.get(OutboxItem, item_id)
    if item is not None:
        item.state = OutboxState.SENT.value
        item.sent_at = at
        item.attempts += 1
        session.add(item)


def _set_failed(session: Session, item_id: int, error: str) -> None:
    item = session.get(OutboxItem, item_id)
    if item is not None:
        item.state = OutboxState.FAILED.value
        item.attempts += 1
        item.last_error = error[:500]
        session.add(item)


def _hold_chat(session: Session, item: OutboxItem, attempts: int, error: str, until: datetime) -> None:
    """Record the failed attempt and hold every pending row of the chat until `until`."""
    row = session.get(OutboxItem, item.id)
    if row is not None:
        row.attempts = attempts
        row.last_error = error
        session.add(row)
    session.execute(
        update(OutboxItem)
        .where(OutboxItem.chat_platform == item.chat_platform, OutboxItem.chat_id == item.chat_id,
               OutboxItem.state == _PENDING, col(OutboxItem.next_attempt_at) < until)
        .values(next_attempt_at=until)
    )
