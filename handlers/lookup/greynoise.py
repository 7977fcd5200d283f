"""GreyNoise Community: is an IP internet background noise or a known benign service (key optional)."""

from __future__ import annotations

from typing import Any

from handlers.lookup.provider import LookupEnv, ProviderError


async def community(env: LookupEnv, ip: str) -> dict[str, Any] | None:
    """Classification of `ip`; None when GreyNoise has not seen it (404). Cached."""

    async def produce() -> dict[str, Any] | None:
        headers = {"key": env.key("greynoise")} if env.has_key("greynoise") else {}
        response = await env.get("greynoise", env.url("greynoise", f"/{ip}"), ok_statuses=(404,),
                                 headers={**headers, "Accept": "application/json"})
        if response.status_code == 404:
            return None
        try:
            data = response.json()
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deep to parse
            raise ProviderError("answered with something that is not JSON") from None
        if not isinstance(data, dict):
            raise ProviderError("unexpected answer")
        return {k: data.get(k) for k in ("noise", "riot", "classification", "name", "last_seen", "link")}

    return await env.cached("greynoise", ip, produce)
