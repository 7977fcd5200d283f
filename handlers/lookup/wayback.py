"""Wayback Machine captures of a URL or host: first, last and how many (CDX API)."""

from __future__ import annotations

from typing import Any

from handlers.lookup.provider import LookupEnv, ProviderError

COUNT_CAP = 5000


def _rows(data: Any) -> list[list[str]]:
    """CDX JSON rows without the header row."""
    if data in ([], None):
        return []
    if not (isinstance(data, list) and data and isinstance(data[0], list)):
        raise ProviderError("unexpected answer")
    return [r for r in data[1:] if isinstance(r, list) and r]


def _capture(row: list[str]) -> dict[str, str]:
    timestamp, original = row[0], row[1] if len(row) > 1 else ""
    return {
        "timestamp": timestamp,
        "date": f"{timestamp[0:4]}-{timestamp[4:6]}-{timestamp[6:8]}",
        "url": f"https://web.archive.org/web/{timestamp}/{original}",
    }


async def _query(env: LookupEnv, cdx: str, params: dict[str, str]) -> Any:
    response = await env.get("wayback", cdx, params=params, ok_statuses=(403,))
    if response.status_code == 403:
        raise ProviderError("the archive does not serve this site (HTTP 403)")
    try:
        return response.json()
    except (ValueError, RecursionError):  # RecursionError: JSON nested too deep to parse
        raise ProviderError("answered with something that is not JSON") from None


async def captures(env: LookupEnv, url: str) -> dict[str, Any]:
    """First and last capture and the count (capped at COUNT_CAP) of exactly `url` (cached)."""

    async def produce() -> dict[str, Any]:
        cdx = env.url("wayback", "/cdx/search/cdx")
        params = {"url": url, "output": "json", "fl": "timestamp,original", "limit": str(COUNT_CAP)}
        rows = _rows(await _query(env, cdx, params))
        if not rows:
            return {"count": 0, "capped": False, "first": None, "last": None}
        last_row = rows[-1]
        capped = len(rows) >= COUNT_CAP
        if capped:
            latest = _rows(await _query(env, cdx, {**params, "limit": "-1"}))
            last_row = latest[-1] if latest else last_row
        return {"count": len(rows), "capped": capped, "first": _capture(rows[0]), "last": _capture(last_row)}

    return await env.cached("wayback", url, produce)
