"""The narrow interface every chat surface implements."""

from __future__ import annotations

from typing import Protocol

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
