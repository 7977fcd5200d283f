"""The time window over stored posts that /search, /watch and the analyses take: `--since` and `--until`.

Each bound is a duration back from now (`30d`, `12h`, `400d`), a date or time (`2025-01-01`,
`2025-01-01T12:00`, UTC unless it says otherwise), or `all` (no bound). Posts are placed by the time
they were posted (`created_at`), so an imported archive of any age falls in the window its dates say.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.command import Option, UsageError, parse_duration
from storage.models import StoredPost

ALL = "all"
WINDOW_HELP = "a duration back from now (30d, 12h), a date (2025-01-01) or all"
WINDOW_OPTIONS = (Option("since", f"only posts from: {WINDOW_HELP} (default: all)"),
                  Option("until", f"only posts before: {WINDOW_HELP}"))


@dataclass(frozen=True)
class Window:
    """A range of post times: `since` inclusive, `until` exclusive; None is open on that side."""

    since: datetime | None = None
    until: datetime | None = None
    label: str = "all stored posts"

    @property
    def is_all(self) -> bool:
        return self.since is None and self.until is None

    def where(self, stmt: Any) -> Any:
        """`stmt` filtered to posts created in the window."""
        if self.since is not None:
            stmt = stmt.where(StoredPost.created_at >= self.since)
        if self.until is not None:
            stmt = stmt.where(StoredPost.created_at < self.until)
        return stmt

    def contains(self, at: datetime) -> bool:
        return (self.since is None or at >= self.since) and (self.until is None or at < self.until)

    def searched(self) -> str:
        """Which posts were looked at, for a reply: `stored posts from the last 7 days`, `all stored posts`."""
        return self.label if self.is_all else f"stored posts {self.label}"

    def widen(self, command: str) -> str:
        """A sentence saying how to look further, e.g. `Widen it: /watch test lockbit --since all`."""
        if self.is_all:
            return "Nothing older is stored: import an archive with `socmint import FILE` or /import."
        return f"Widen it: {command} --since all (or --since 400d, --since 2025-01-01)."


def parse_bound(text: str, now: datetime, option: str) -> datetime | None:
    """One bound: `all` → None, a duration → that long before `now`, a date or time → that instant (UTC)."""
    value = text.strip()
    if value.lower() == ALL:
        return None
    try:
        return now - parse_duration(value)
    except OverflowError:
        raise UsageError(f"--{option} {value[:40]} is further back than any post; use --{option} all.") from None
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--{option} takes {WINDOW_HELP}, not {value[:40]!r}.") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_window(since: str | None, until: str | None, now: datetime, *,
                 default: timedelta | None = None) -> Window:
    """The window the options ask for; without `--since`, the last `default` (None: every stored post)."""
    start = parse_bound(since, now, "since") if since else (now - default if default else None)
    end = parse_bound(until, now, "until") if until else None
    if start is not None and end is not None and start >= end:
        raise UsageError("--since must be before --until, e.g. --since 2025-01-01 --until 2025-02-01.")
    return Window(start, end, _label(since, until, start, end, default))


def _label(since: str | None, until: str | None, start: datetime | None, end: datetime | None,
           default: timedelta | None) -> str:
    if start is None and end is None:
        return "all stored posts"
    if end is None and start is not None and (since is None or _is_duration(since)):
        span = parse_duration(since) if since else default
        return f"from the last {_describe(span)}" if span else f"since {_day(start)}"
    if start is None:
        return f"before {_day(end)}" if end is not None else "all stored posts"
    if end is None:
        return f"since {_day(start)}"
    return f"from {_day(start)} to {_day(end)}"


def _is_duration(text: str) -> bool:
    try:
        parse_duration(text)
    except ValueError:
        return False
    return True


def _describe(span: timedelta) -> str:
    """`7 days`, `12 hours`, `30 minutes`: the span in its largest whole unit."""
    seconds = int(span.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}" + ("s" if count != 1 else "")
    return f"{seconds} seconds"


def _day(at: datetime | None) -> str:
    if at is None:
        return "—"
    return f"{at:%Y-%m-%d}" if (at.hour, at.minute, at.second) == (0, 0, 0) else f"{at:%Y-%m-%d %H:%M} UTC"
