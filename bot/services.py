"""The services every handler can use, built once by `bot.app` and handed down in the context."""

from __future__ import annotations

import collections
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.leadership import Leadership
from bot.metrics import Metrics
from bot.reply import Inline, Reply
from config.settings import Settings
from storage.db import Database
from storage.types import utcnow

if TYPE_CHECKING:
    from bot.router import Router


class DeliveryError(Exception):
    """A surface could not deliver now; `retry_after` is the platform's wait, `permanent` means give up."""

    def __init__(self, message: str, *, retry_after: float | None = None, permanent: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


class Deliverer(Protocol):
    """What the outbox needs from a chat surface: deliver a reply to a chat by id."""

    name: str

    @property
    def connected(self) -> bool: ...

    async def deliver(self, chat_id: int, reply: Reply) -> None:
        """Send `reply` to the chat; raise DeliveryError when it cannot be sent now."""


StatusSection = tuple[str, Sequence[tuple[str, Inline | Sequence[Inline]]]]
StatusProvider = Callable[["Services"], Awaitable[StatusSection | None]]


@dataclass(frozen=True)
class ErrorRecord:
    """A recent error, shown by /status."""

    at: datetime
    where: str
    message: str


@dataclass
class Services:
    """Shared state and clients: settings, database, HTTP, scheduler, surfaces, feature state."""

    settings: Settings
    db: Database
    http: httpx.AsyncClient
    scheduler: AsyncIOScheduler
    router: Router | None = None
    started_at: datetime = field(default_factory=utcnow)
    surfaces: dict[str, Deliverer] = field(default_factory=dict)
    errors: collections.deque[ErrorRecord] = field(default_factory=lambda: collections.deque(maxlen=20))
    status_providers: list[StatusProvider] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
    clock: Callable[[], datetime] = utcnow
    background: bool = True  # False for `socmint console`: serve commands, start no pollers or schedules
    leadership: Leadership = field(default_factory=Leadership)  # leader-only work (bot/leadership.py)
    metrics: Metrics = field(default_factory=Metrics)  # what /metrics shows (bot/metrics.py)

    def now(self) -> datetime:
        """The current UTC time (frozen in tests)."""
        return self.clock()

    def record_error(self, where: str, message: str) -> None:
        self.errors.append(ErrorRecord(self.now(), where, message[:300]))
