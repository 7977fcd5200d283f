"""CISA Known Exploited Vulnerabilities: is a CVE exploited in the wild (the whole catalogue, cached)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.shared import Slot
from handlers.lookup.provider import LookupEnv, ProviderError

FIELDS = ("vulnerabilityName", "vendorProject", "product", "dateAdded", "dueDate", "knownRansomwareCampaignUse",
          "requiredAction")
MEMORY: Slot[tuple[datetime, dict[str, Any]]] = Slot("lookup.kev")  # (fresh until, indexed catalogue)


def index(catalogue: Any) -> dict[str, Any]:
    """The catalogue reduced to {CVE id: the fields we show}, with its version."""
    if not isinstance(catalogue, dict) or not isinstance(catalogue.get("vulnerabilities"), list):
        raise ProviderError("unexpected catalogue format")
    entries = {
        str(v["cveID"]).upper(): {f: v.get(f) for f in FIELDS}
        for v in catalogue["vulnerabilities"]
        if isinstance(v, dict) and v.get("cveID")
    }
    return {"version": catalogue.get("catalogVersion"), "entries": entries}


async def catalogue(env: LookupEnv) -> dict[str, Any]:
    """The indexed catalogue: from memory, else the database cache, else downloaded."""
    now = env.services.now()
    held = env.services.shared.get(MEMORY)
    if held is not None and held[0] > now:
        return held[1]

    async def produce() -> dict[str, Any]:
        return index(await env.get_json("kev", env.url("kev")))

    indexed = await env.cached("kev", "catalogue", produce)
    ttl = timedelta(seconds=env.provider("kev").cache_ttl_s)
    env.services.shared.put(MEMORY, (now + ttl, indexed))
    return indexed


async def entry(env: LookupEnv, cve_id: str) -> dict[str, Any] | None:
    """The KEV entry for `cve_id`, or None when it is not in the catalogue."""
    return (await catalogue(env))["entries"].get(cve_id)
