"""The narrow interface every chat surface implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from bot.reply import Reply


class Surface(Protocol):
    """A chat platform adapter: started and stopped by the app, used by the outbox to deliver alerts.

    Constructed as `SurfaceClass(services, router)`; incoming commands go to `router.handle(Incoming, sink)`
    and button presses to `router.press(...)`.
    """

    name: str

    @property
    def connected(self) -> bool:
        """True while the platform connection is up (shown in /status)."""

    async def start(self) -> None:
        """Connect and begin receiving; must return once running (work continues in tasks)."""

    async def stop(self) -> None:
        """Disconnect cleanly."""

    async def deliver(self, chat_id: int, reply: Reply) -> None:
        """Send `reply` to a chat unprompted (alerts, digests); raise bot.services.DeliveryError on failure."""


@runtime_checkable
class SingleReceiver(Protocol):
    """A surface that starts receiving separately from `start`, because its platform may allow only one
    receiver per bot (Telegram long polling, the Discord gateway): then only the leader receives."""

    @property
    def single_receiver(self) -> bool:
        """True when only one process may receive (polling, gateway); False for webhooks."""

    async def start_receiving(self) -> None:
        """Begin taking updates from the platform."""

    async def stop_receiving(self) -> None:
        """Stop taking updates; sending keeps working."""
