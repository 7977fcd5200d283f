"""/sources: every monitored source, whether it needs a key, its health and its last successful poll."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, SecretStr
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from bot.command import CommandSet, Context
from bot.reply import Reply, bold
from bot.services import Services, StatusSection
from handlers.monitor.sources.base import Source
from handlers.monitor.sources.registry import SOURCE_CLASSES, available_sources
from storage.models import SourceCursor

commands = CommandSet()


@dataclass(frozen=True)
class SourceState:
    """What /sources and /status say about one source."""

    name: str
    title: str
    key: str
    health: str
    last_poll: datetime | None
    attribution: str


def _key_state(source: Source) -> str:
    if not source.configured():
        return "needs a key"
    settings = getattr(source, "settings", None)
    values = [getattr(settings, f) for f in type(settings).model_fields] if isinstance(settings, BaseModel) else []
    if any(isinstance(v, SecretStr) and v.get_secret_value() for v in values):
        return "key set"
    return "none needed"


def _health(services: Services, source: Source) -> tuple[str, datetime | None]:
    """The breaker's state in words, and when the source last answered (wall-clock UTC)."""
    breaker = services.fetcher.breakers.get(source.name)
    if breaker is None:
        return "not polled yet", None
    last_ok = None
    if breaker.last_success is not None:
        last_ok = services.now() - timedelta(seconds=max(0.0, time.monotonic() - breaker.last_success))
    return breaker.describe(), last_ok


def _last_cursor_updates(session: Session) -> dict[str, datetime]:
    rows = session.exec(  # type: ignore[call-overload]
        select(SourceCursor.source, func.max(SourceCursor.updated_at)).group_by(SourceCursor.source)
    ).all()
    return {source: when for source, when in rows if when is not None}


async def source_states(services: Services) -> list[SourceState]:
    """The state of every source section, in registry order (disabled and unavailable ones included)."""
    sources = available_sources(services)
    try:
        polled = await services.db.run(_last_cursor_updates)
    except SQLAlchemyError:
        polled = {}
    states: list[SourceState] = []
    for section in SOURCE_CLASSES:
        settings = getattr(services.settings.sources, section)
        source = next((s for s in sources.values() if getattr(s, "settings", None) is settings), None)
        if source is None:
            reason = "disabled in settings" if not settings.enabled else "not available in this build"
            states.append(SourceState(section, section, "—", reason, None, ""))
            continue
        health, answered = _health(services, source)
        last = max((t for t in (polled.get(source.name), answered) if t is not None), default=None)
        states.append(SourceState(source.name, source.title, _key_state(source), health, last, source.attribution))
    return states


def _ago(now: datetime, when: datetime | None) -> str:
    if when is None:
        return "never"
    seconds = max(0, int((now - when).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


@commands.command("sources", "List the monitored sources: keys, health and last successful poll",
                  example="/sources")
async def sources_cmd(ctx: Context) -> Reply:
    now = ctx.services.now()
    states = await source_states(ctx.services)
    reply = Reply().table(
        ["source", "key", "health", "last poll"],
        [(s.name, s.key, s.health, _ago(now, s.last_poll)) for s in states],
        title="Sources",
    )
    missing = [s.name for s in states if s.key == "needs a key"]
    if missing:
        reply.para("Needs a key (not polled until configured): ", bold(", ".join(missing)),
                   ". See the sources section of the configuration.")
    for s in states:
        if s.attribution:
            reply.para(bold(s.name), ": ", s.attribution)
    return reply


async def sources_status(services: Services) -> StatusSection | None:
    """The /status section: one line per enabled source."""
    now = services.now()
    rows = [(s.name, f"{s.health}; {s.key}; last poll {_ago(now, s.last_poll)}")
            for s in await source_states(services) if s.key != "—"]
    return ("Sources", rows) if rows else None


@commands.on_start
async def register_status(services: Services) -> None:
    """Show source health in /status."""
    services.add_status(sources_status, everyone=True)  # per-source health, no counts
