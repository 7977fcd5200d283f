"""Argument completers (`Arg.complete`/`Option.complete`): the values a chat surface may suggest while typing.

Each returns at most MAX_SUGGESTIONS values, exactly as the command expects them, for the chat asking
(the surface checks the chat is allowed before calling).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from handlers.monitor.scheduler import registry_sources
from handlers.monitor.slot import MONITOR
from storage import watches

if TYPE_CHECKING:
    from bot.command import ChatRef
    from bot.services import Services

MAX_SUGGESTIONS = 25


async def watch_ids(services: Services, chat: ChatRef, current: str) -> list[str]:
    """This chat's watch ids whose id starts with, or whose query contains, what was typed (newest first)."""
    typed = current.strip().lstrip("#").lower()
    if typed.startswith("watch:"):
        typed = typed[len("watch:"):]
    found = await services.db.run(lambda s: watches.for_chat(s, chat.platform, chat.id))
    picked = [w for w in reversed(found) if not typed or str(w.id).startswith(typed) or typed in w.query.lower()]
    return [str(w.id) for w in picked[:MAX_SUGGESTIONS]]


async def source_names(services: Services, chat: ChatRef, current: str) -> list[str]:
    """Source names completing the last item of a comma-separated list (`hackernews,mas` → `hackernews,mastodon`)."""
    done, _, partial = current.replace(" ", "").lower().rpartition(",")
    chosen = {name for name in done.split(",") if name}
    prefix = f"{done}," if done else ""
    return [f"{prefix}{name}" for name in _known_sources(services)
            if name.startswith(partial) and name not in chosen][:MAX_SUGGESTIONS]


def _known_sources(services: Services) -> list[str]:
    """The monitor's sources when it runs, else the configured registry."""
    monitor = services.shared.get(MONITOR)
    if monitor is not None:
        return sorted(monitor.polls.sources)
    return sorted(registry_sources(services)())
