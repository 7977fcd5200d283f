"""RDAP registration data for domains and IP networks, via the rdap.org bootstrap redirect."""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

from handlers.lookup.provider import LookupEnv, ProviderError

MAX_REDIRECTS = 3
ACCEPT = {"Accept": "application/rdap+json, application/json"}


async def fetch(env: LookupEnv, kind: str, query: str) -> dict[str, Any] | None:
    """The RDAP object for `kind` (domain/ip/autnum) `query`, following redirects; None on 404."""
    url = env.url("rdap", f"/{kind}/{query}")
    for _ in range(MAX_REDIRECTS + 1):
        response = await env.get("rdap", url, ok_statuses=(301, 302, 303, 307, 308, 404), headers=ACCEPT)
        if response.status_code == 404:
            return None
        if response.is_redirect:
            url = urljoin(url, response.headers.get("location", ""))
            continue
        try:
            data = response.json()
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deep to parse
            raise ProviderError("answered with something that is not JSON") from None
        if not isinstance(data, dict):
            raise ProviderError("unexpected answer")
        return data
    raise ProviderError(f"more than {MAX_REDIRECTS} redirects")


def vcard(entity: dict[str, Any], prop: str) -> str | None:
    """The first value of a jCard property (`fn`, `org`, `email`) of an RDAP entity."""
    card = entity.get("vcardArray")
    if not (isinstance(card, list) and len(card) == 2 and isinstance(card[1], list)):
        return None
    for item in card[1]:
        if isinstance(item, list) and len(item) >= 4 and item[0] == prop:
            value = item[3]
            if isinstance(value, list):
                value = " ".join(str(v) for v in value if v)
            return str(value) or None
    return None


def entities_with_role(obj: dict[str, Any], role: str) -> list[dict[str, Any]]:
    """Entities (and their nested entities) carrying `role`."""
    found = []
    for entity in obj.get("entities") or []:
        if role in (entity.get("roles") or []):
            found.append(entity)
        found.extend(entities_with_role(entity, role))
    return found


def entity_name(entity: dict[str, Any]) -> str | None:
    return vcard(entity, "fn") or vcard(entity, "org") or entity.get("handle")


def event_date(obj: dict[str, Any], action: str) -> str | None:
    for event in obj.get("events") or []:
        if event.get("eventAction") == action:
            return str(event.get("eventDate", ""))[:10] or None
    return None


def parse_domain(data: dict[str, Any]) -> dict[str, Any]:
    """Registrar, dates, status and name servers of an RDAP domain object."""
    registrars = entities_with_role(data, "registrar")
    registrant = entities_with_role(data, "registrant")
    return {
        "name": (data.get("ldhName") or "").lower(),
        "registrar": entity_name(registrars[0]) if registrars else None,
        "registrant": (vcard(registrant[0], "org") or vcard(registrant[0], "fn")) if registrant else None,
        "created": event_date(data, "registration"),
        "expires": event_date(data, "expiration"),
        "updated": event_date(data, "last changed") or event_date(data, "last update"),
        "status": list(data.get("status") or []),
        "nameservers": sorted((ns.get("ldhName") or "").lower() for ns in data.get("nameservers") or []),
    }


def parse_network(data: dict[str, Any]) -> dict[str, Any]:
    """Name, range, country, organisation and abuse contact of an RDAP IP network object."""
    registrant = entities_with_role(data, "registrant")
    abuse = entities_with_role(data, "abuse")
    cidrs = [
        f"{c.get('v4prefix') or c.get('v6prefix')}/{c.get('length')}" for c in data.get("cidr0_cidrs") or []
    ]
    start, end = data.get("startAddress"), data.get("endAddress")
    return {
        "handle": data.get("handle"),
        "name": data.get("name"),
        "range": f"{start} – {end}" if start and end else None,
        "cidrs": cidrs,
        "country": data.get("country"),
        "type": data.get("type"),
        "org": entity_name(registrant[0]) if registrant else None,
        "abuse": vcard(abuse[0], "email") if abuse else None,
        "origin_asns": [str(a) for a in data.get("arin_originas0_originautnums") or []],
    }


async def domain(env: LookupEnv, name: str) -> dict[str, Any] | None:
    """Parsed registration data for a domain (cached)."""

    async def produce() -> dict[str, Any] | None:
        data = await fetch(env, "domain", name)
        return parse_domain(data) if data else None

    return await env.cached("rdap", f"domain:{name}", produce)


async def network(env: LookupEnv, ip: str) -> dict[str, Any] | None:
    """Parsed network data for an IP address (cached)."""

    async def produce() -> dict[str, Any] | None:
        data = await fetch(env, "ip", ip)
        return parse_network(data) if data else None

    return await env.cached("rdap", f"ip:{ip}", produce)
