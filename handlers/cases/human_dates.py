"""Dates as people read them, in the zone a report is configured for: `28 Nov 2026, 13:00 CET`."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


class HumanDates:
    """Formats instants for reports in one time zone (named in every long form, so nothing is ambiguous)."""

    def __init__(self, zone: str = "UTC") -> None:
        self.zone = ZoneInfo(zone)
        self.name = zone

    def local(self, at: datetime) -> datetime:
        return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(self.zone)

    def abbreviation(self, at: datetime) -> str:
        """`CET`, `UTC`; `UTC+05:30` where the zone has no letters for itself."""
        local = self.local(at)
        name = local.tzname() or ""
        if name and name[0] not in "+-":
            return name
        offset = local.strftime("%z")
        return f"UTC{offset[:3]}:{offset[3:]}"

    def when(self, at: datetime) -> str:
        """`28 Nov 2026, 13:00 CET`."""
        local = self.local(at)
        return f"{local.day} {local:%b %Y, %H:%M} {self.abbreviation(at)}"

    def day(self, at: datetime) -> str:
        """`28 November 2026`."""
        local = self.local(at)
        return f"{local.day} {local:%B %Y}"

    def parse(self, text: object) -> datetime | None:
        """An ISO timestamp as stored in entity facts, or None when it is not one."""
        if not isinstance(text, str) or not text:
            return None
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
