"""Gravatar: the public profile behind an email address, looked up by SHA-256 of the address."""

from __future__ import annotations

import hashlib
from typing import Any

from handlers.lookup.provider import LookupEnv, ProviderError


def email_hash(address: str) -> str:
    """SHA-256 of the trimmed, lower-cased address (Gravatar's profile id)."""
    return hashlib.sha256(address.strip().lower().encode("utf-8")).hexdigest()


def parse(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ProviderError("unexpected answer")
    accounts = [
        {"service": a.get("service_label") or a.get("service_type"), "url": a.get("url")}
        for a in data.get("verified_accounts") or []
        if isinstance(a, dict)
    ]
    return {
        "display_name": data.get("display_name"),
        "profile_url": data.get("profile_url"),
        "avatar_url": data.get("avatar_url"),
        "location": data.get("location"),
        "description": data.get("description"),
        "accounts": accounts,
    }


async def profile(env: LookupEnv, address: str) -> dict[str, Any] | None:
    """The Gravatar profile, or None when the address has none (404). Cached."""
    digest = email_hash(address)

    async def produce() -> dict[str, Any] | None:
        headers = {"Authorization": f"Bearer {env.key('gravatar')}"} if env.has_key("gravatar") else {}
        response = await env.get("gravatar", env.url("gravatar", f"/profiles/{digest}"), ok_statuses=(404,),
                                 headers=headers)
        if response.status_code == 404:
            return None
        try:
            return parse(response.json())
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deep to parse
            raise ProviderError("answered with something that is not JSON") from None

    return await env.cached("gravatar", digest, produce)
