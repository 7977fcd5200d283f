"""Have I Been Pwned: the names of breaches an email address appears in (key required)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from handlers.lookup.provider import LookupEnv, ProviderError


def parse(data: Any) -> list[str]:
    if not isinstance(data, list):
        raise ProviderError("unexpected answer")
    return sorted(str(b.get("Name")) for b in data if isinstance(b, dict) and b.get("Name"))


async def breaches(env: LookupEnv, address: str) -> list[str]:
    """Breach names for `address` (empty when none); NeedsKey without a key. Cached."""
    key = env.key("hibp")

    async def produce() -> list[str]:
        response = await env.get(
            "hibp", env.url("hibp", f"/breachedaccount/{quote(address, safe='@')}"),
            params={"truncateResponse": "true"}, headers={"hibp-api-key": key}, ok_statuses=(404,),
        )
        if response.status_code == 404:
            return []
        try:
            return parse(response.json())
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deep to parse
            raise ProviderError("answered with something that is not JSON") from None

    return await env.cached("hibp", address.lower(), produce)
