"""Pieces every lookup reply shares: provider failures, "needs a key" lines, pivot buttons."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bot.reply import Reply, bold
from handlers.lookup.provider import Outcome


def failures(reply: Reply, outcomes: Mapping[str, Outcome]) -> Reply:
    """Add one line per failed provider ("RDAP: timed out") and list keyed providers lacking a key."""
    failed = [o for o in outcomes.values() if not o.ok and not o.needs_key]
    keyless = [o for o in outcomes.values() if o.needs_key]
    for outcome in failed:
        reply.para("⚠️ ", f"{outcome.provider}: {outcome.error}")
    if keyless:
        reply.para("Needs a key: ", ", ".join(o.provider for o in keyless),
                   " (see lookups.<provider>.key in the settings).")
    return reply


def listing(values: Iterable[object], limit: int = 12) -> str:
    """`a, b, c (+N more)`, or `none`."""
    items = [str(v) for v in values]
    if not items:
        return "none"
    shown = ", ".join(items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")


def heading(kind: str, value: str) -> Reply:
    """The first line of a lookup reply."""
    return Reply.text(bold(f"{kind}: "), value)
