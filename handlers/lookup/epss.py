"""FIRST EPSS: the probability a CVE is exploited in the next 30 days, and its percentile."""

from __future__ import annotations

from typing import Any

from handlers.lookup.provider import LookupEnv, ProviderError


def parse(payload: Any, cve_id: str) -> dict[str, Any] | None:
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise ProviderError("unexpected answer")
    for row in payload["data"]:
        if str(row.get("cve", "")).upper() == cve_id:
            try:
                return {"epss": float(row["epss"]), "percentile": float(row["percentile"]), "date": row.get("date")}
            except (KeyError, TypeError, ValueError):
                raise ProviderError("unexpected answer") from None
    return None


async def score(env: LookupEnv, cve_id: str) -> dict[str, Any] | None:
    """EPSS score of `cve_id`; None when EPSS has no score for it. Cached."""

    async def produce() -> dict[str, Any] | None:
        return parse(await env.get_json("epss", env.url("epss"), params={"cve": cve_id}), cve_id)

    return await env.cached("epss", cve_id, produce)
