"""Shodan InternetDB: open ports, hostnames, CPEs, tags and known vulnerabilities of an IP (no key)."""

from __future__ import annotations

from typing import Any

from handlers.lookup.provider import LookupEnv, ProviderError

FIELDS = ("ports", "hostnames", "cpes", "tags", "vulns")


def parse(data: Any) -> dict[str, list[Any]]:
    if not isinstance(data, dict):
        raise ProviderError("unexpected answer")
    return {f: list(data.get(f) or []) for f in FIELDS}


async def host(env: LookupEnv, ip: str) -> dict[str, list[Any]] | None:
    """What InternetDB knows about `ip`; None when it has no data (HTTP 404). Cached."""

    async def produce() -> dict[str, list[Any]] | None:
        response = await env.get("internetdb", env.url("internetdb", f"/{ip}"), ok_statuses=(404,))
        if response.status_code == 404:
            return None
        try:
            return parse(response.json())
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deep to parse
            raise ProviderError("answered with something that is not JSON") from None

    return await env.cached("internetdb", ip, produce)
