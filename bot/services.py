"""The services every handler can use, built once by `bot.app` and handed down in the context."""

from __future__ import annotations

import collections
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.leadership import Leadership
from bot.metrics import Metrics
from bot.ratelimit import RefusalLimiter
from bot.reply import Inline, Reply
from bot.shared import Shared
from config.masking import SecretMasker
from config.settings import Settings
from handlers.fetch import PoliteFetcher
from storage.db import Database
from storage.types import utcnow


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
    """A recent error, shown by /status (secrets already masked); `chat` is the chat it happened in, if any."""

    at: datetime
    where: str
    message: str
    chat: str | None = None


@dataclass
class Services:
    """Shared state and clients: settings, database, HTTP, scheduler, surfaces, feature state (`shared`)."""

    settings: Settings
    db: Database
    http: httpx.AsyncClient
    scheduler: AsyncIOScheduler
    started_at: datetime = field(default_factory=utcnow)
    surfaces: dict[str, Deliverer] = field(default_factory=dict)
    errors: collections.deque[ErrorRecord] = field(default_factory=lambda: collections.deque(maxlen=20))
    status_providers: list[StatusProvider] = field(default_factory=list)  # their sections: admins only
    public_status: list[StatusProvider] = field(default_factory=list)  # also shown to viewers and analysts
    shared: Shared = field(default_factory=Shared)  # feature objects by typed slot (bot/shared.py)
    clock: Callable[[], datetime] = utcnow
    background: bool = True  # False for `socmint console`: serve commands, start no pollers or schedules
    leadership: Leadership = field(default_factory=Leadership)  # leader-only work (bot/leadership.py)
    metrics: Metrics = field(default_factory=Metrics)  # what /metrics shows (bot/metrics.py)
    masker: SecretMasker = field(init=False)
    fetcher: PoliteFetcher = field(init=False)  # polite requests through `http` (pacing, retries, breakers)
    refusals: RefusalLimiter = field(init=False)  # refusals to strangers, counted for /status

    def __post_init__(self) -> None:
        self.masker = self.settings.masker()
        self.fetcher = PoliteFetcher(self.http)
        self.refusals = RefusalLimiter(self.settings.governance.rate_limits)

    def now(self) -> datetime:
        """The current UTC time (frozen in tests)."""
        return self.clock()

    def add_status(self, provider: StatusProvider, *, everyone: bool = False) -> None:
        """Show `provider`'s section in /status: to admins, or (`everyone`) to anyone in an allowed chat.

        Only sections that describe the service's health, never counts across chats, are for everyone.
        """
        if provider not in self.status_providers:
            self.status_providers.append(provider)
        if everyone and provider not in self.public_status:
            self.public_status.append(provider)

    def masked(self, text: str) -> str:
        """`text` with every secret and URL credential replaced by ***."""
        return self.masker.mask(text)

    def record_error(self, where: str, message: str, chat: str | None = None) -> None:
        """Remember an error for /status, masked before it is stored (an upstream may echo a token)."""
        self.errors.append(ErrorRecord(self.now(), self.masked(where)[:64], self.masked(message)[:300], chat))
