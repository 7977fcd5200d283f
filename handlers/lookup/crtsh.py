"""Certificate-transparency subdomains of a domain, from crt.sh's JSON output."""

from __future__ import annotations

from typing import Any

from handlers.lookup.provider import LookupEnv, ProviderError


def query_url(env: LookupEnv, domain: str) -> str:
    """The crt.sh JSON query for every name under `domain` (`%` sent as `%25`, as crt.sh needs)."""
    return env.url("crtsh", f"/?q=%25.{domain}&output=json&deduplicate=Y")


def parse(rows: Any, domain: str) -> dict[str, Any]:
    """Distinct names under `domain` (wildcards folded), how many certificates, and the earliest one."""
    if not isinstance(rows, list):
        raise ProviderError("unexpected answer")
    names: set[str] = set()
    earliest: str | None = None
    for row in rows:
        if not isinstance(row, dict):
            continue
        for value in [*(row.get("name_value") or "").splitlines(), row.get("common_name") or ""]:
            name = value.strip().lower().removeprefix("*.")
            if name == domain or name.endswith("." + domain):
                names.add(name)
        not_before = row.get("not_before")
        if isinstance(not_before, str) and (earliest is None or not_before < earliest):
            earliest = not_before
    return {"subdomains": sorted(names - {domain}), "certificates": len(rows),
            "earliest": earliest[:10] if earliest else None}


async def subdomains(env: LookupEnv, domain: str) -> dict[str, Any]:
    """Parsed crt.sh results for `domain` (cached)."""

    async def produce() -> dict[str, Any]:
        return parse(await env.get_json("crtsh", query_url(env, domain)), domain)

    return await env.cached("crtsh", domain, produce)
