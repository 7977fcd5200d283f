"""AbuseIPDB: abuse confidence score and report count of an IP (key required)."""

from __future__ import annotations

from typing import Any

from handlers.lookup.provider import LookupEnv, ProviderError

FIELDS = ("abuseConfidenceScore", "totalReports", "lastReportedAt", "usageType", "isp", "domain", "countryCode")


async def check(env: LookupEnv, ip: str) -> dict[str, Any]:
    """AbuseIPDB's summary of `ip` over the last 90 days; NeedsKey without a key. Cached."""
    key = env.key("abuseipdb")

    async def produce() -> dict[str, Any]:
        data = await env.get_json(
            "abuseipdb", env.url("abuseipdb", "/check"),
            params={"ipAddress": ip, "maxAgeInDays": "90"},
            headers={"Key": key, "Accept": "application/json"},
        )
        body = data.get("data") if isinstance(data, dict) else None
        if not isinstance(body, dict):
            raise ProviderError("unexpected answer")
        return {k: body.get(k) for k in FIELDS}

    return await env.cached("abuseipdb", ip, produce)
