"""Pivots: run the lookups on a case entity and turn what they return into linked entities (like transforms).

Each pivot calls the same provider functions (and caches) as the lookup commands; a provider that fails
is reported and the others still add what they found.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import phonenumbers

from bot.command import CommandError
from handlers.cases import entities as ent
from handlers.cases.entities import Entity, EntityError, EntityKind
from handlers.cases.findings import Findings, host_link
from handlers.cases.links import LinkKind
from handlers.lookup import epss, gravatar, hibp, kev, nvd
from handlers.lookup.detect import parse_ip
from handlers.lookup.domain import registration_providers
from handlers.lookup.ip import network_providers
from handlers.lookup.mail import parse_address
from handlers.lookup.provider import LookupEnv, Outcome, run_providers
from handlers.lookup.ssrf import why_blocked
from handlers.lookup.url import expand

MAX_PER_LIST = 25
PIVOTABLE = frozenset({EntityKind.DOMAIN, EntityKind.IP, EntityKind.EMAIL, EntityKind.URL, EntityKind.PHONE,
                       EntityKind.CVE})


async def pivot(env: LookupEnv, subject: Entity) -> Findings:
    """Look `subject` up and return the subject (with new facts) plus everything found, linked to it."""
    match subject.kind:
        case EntityKind.DOMAIN:
            return await _domain(env, subject)
        case EntityKind.IP:
            return await _ip(env, subject)
        case EntityKind.EMAIL:
            return await _email(env, subject)
        case EntityKind.URL:
            return await _url(env, subject)
        case EntityKind.PHONE:
            return _phone(subject, env.settings.default_region)
        case EntityKind.CVE:
            return await _cve(env, subject)
    raise CommandError(f"There is no lookup to pivot on from a {subject.kind.value}; pivots exist for "
                       + ", ".join(sorted(k.value for k in PIVOTABLE)) + ".")


def _start(subject: Entity, source: str, outcomes: dict[str, Outcome]) -> Findings:
    findings = Findings(source)
    findings.failures = {name: o.error or "" for name, o in outcomes.items() if not o.ok}
    findings.add(subject)
    return findings


def _capped(findings: Findings, values: Iterable[Any], what: str) -> list[Any]:
    items = list(values)
    if len(items) > MAX_PER_LIST:
        findings.remarks.append(f"{len(items) - MAX_PER_LIST} more {what} not added (first {MAX_PER_LIST} kept).")
    return items[:MAX_PER_LIST]


def _try(make: Any, *args: Any) -> Entity | None:
    try:
        return make(*args)
    except EntityError:
        return None


def _with_attrs(subject: Entity, attrs: dict[str, Any]) -> Entity:
    facts = {k: v for k, v in attrs.items() if v not in (None, "", [], {})}
    return Entity(subject.kind, subject.value, subject.key, {**subject.attrs, **facts})


async def _domain(env: LookupEnv, subject: Entity) -> Findings:
    outcomes = await run_providers(registration_providers(env, subject.key))
    reg = outcomes["RDAP"].value if outcomes["RDAP"].ok else None
    if reg:
        subject = _with_attrs(subject, {"created": reg["created"], "expires": reg["expires"],
                                        "status": reg["status"]})
    f = _start(subject, "lookup:domain", outcomes)
    if reg:
        for field_name, kind in (("registrar", LinkKind.REGISTERED_WITH), ("registrant", LinkKind.REGISTERED_BY)):
            if reg[field_name] and (org := _try(ent.name_entity, EntityKind.ORGANISATION, reg[field_name])):
                f.link(subject, kind, org, "RDAP")
        for ns in reg["nameservers"]:
            if ns and (server := _try(ent.domain_entity, ns)):
                f.link(subject, LinkKind.NAME_SERVER, server, "RDAP")
    if outcomes["DNS"].ok:
        records: dict[str, list[str]] = outcomes["DNS"].value
        for address in [*records.get("A", []), *records.get("AAAA", [])]:
            if ip := _try(ent.ip_entity, address):
                f.link(subject, LinkKind.RESOLVES_TO, ip, "DNS")
        for mx in records.get("MX", []):
            host = mx.split()[-1]
            if host != "." and (server := _try(ent.domain_entity, host)):
                f.link(subject, LinkKind.MAIL_SERVER, server, "DNS")
    if outcomes["crt.sh"].ok:
        for name in _capped(f, outcomes["crt.sh"].value["subdomains"], "subdomains"):
            if sub := _try(ent.domain_entity, name):
                f.link(sub, LinkKind.SUBDOMAIN_OF, subject, "crt.sh")
    return f


async def _ip(env: LookupEnv, subject: Entity) -> Findings:
    address = subject.key
    ip = parse_ip(address)
    reason = why_blocked(ip) if ip is not None else "not an IP"
    if reason:
        f = Findings("lookup:ip", [subject])
        f.remarks.append(f"{address} is a {reason} address: not looked up anywhere.")
        return f
    outcomes = await run_providers(network_providers(env, address))
    shodan = outcomes["Shodan InternetDB"].value if outcomes["Shodan InternetDB"].ok else None
    net = outcomes["RDAP"].value if outcomes["RDAP"].ok else None
    if shodan or net:
        subject = _with_attrs(subject, {"ports": (shodan or {}).get("ports"), "network": (net or {}).get("name"),
                                        "country": (net or {}).get("country")})
    f = _start(subject, "lookup:ip", outcomes)
    if net and net["org"] and (org := _try(ent.name_entity, EntityKind.ORGANISATION, net["org"])):
        f.link(subject, LinkKind.BELONGS_TO, org, "RDAP")
    asn = outcomes["ASN"].value if outcomes["ASN"].ok else None
    if asn:
        label = f"AS{asn['asn']} {asn['name']}".strip()
        if holder := _try(ent.name_entity, EntityKind.ORGANISATION, label):
            f.link(subject, LinkKind.ANNOUNCED_BY, Entity(holder.kind, holder.value, holder.key,
                                                          {"asn": asn["asn"]}), "Team Cymru")
    for name in (outcomes["Reverse DNS"].value or []) if outcomes["Reverse DNS"].ok else []:
        if host := _try(ent.domain_entity, name):
            f.link(subject, LinkKind.REVERSE_DNS, host, "DNS")
    if shodan:
        for name in _capped(f, shodan["hostnames"], "hostnames"):
            if host := _try(ent.domain_entity, name):
                f.link(host, LinkKind.RESOLVES_TO, subject, "Shodan InternetDB")
        for cve_id in _capped(f, shodan["vulns"], "vulnerabilities"):
            if vuln := _try(ent.cve_entity, cve_id):
                f.link(subject, LinkKind.HAS_VULNERABILITY, vuln, "Shodan InternetDB")
    return f


async def _email(env: LookupEnv, subject: Entity) -> Findings:
    address = parse_address(subject.value)
    outcomes = await run_providers({
        "Gravatar": gravatar.profile(env, address.normalised),
        "Have I Been Pwned": hibp.breaches(env, address.normalised),
    })
    f = _start(subject, "lookup:email", outcomes)
    if domain := _try(ent.domain_entity, address.domain):
        f.link(subject, LinkKind.USES_DOMAIN, domain)
    profile = outcomes["Gravatar"].value if outcomes["Gravatar"].ok else None
    if profile:
        if profile["display_name"] and (person := _try(ent.name_entity, EntityKind.PERSON, profile["display_name"])):
            f.link(subject, LinkKind.HAS_NAME, person, "Gravatar")
        if profile["location"] and (place := _try(ent.name_entity, EntityKind.LOCATION, profile["location"])):
            f.link(subject, LinkKind.LOCATED_IN, place, "Gravatar")
        for account in profile["accounts"]:
            if account.get("url") and (page := _try(ent.url_entity, account["url"])):
                f.link(subject, LinkKind.HAS_ACCOUNT, Entity(page.kind, page.value, page.key,
                                                             {"service": account.get("service")}), "Gravatar")
    if outcomes["Have I Been Pwned"].ok:
        for breach in _capped(f, outcomes["Have I Been Pwned"].value, "breaches"):
            if org := _try(ent.name_entity, EntityKind.ORGANISATION, breach):
                f.link(subject, LinkKind.EXPOSED_IN, org, "Have I Been Pwned")
    return f


async def _url(env: LookupEnv, subject: Entity) -> Findings:
    outcomes = await run_providers({"Redirects": expand(env, subject.value)})
    f = _start(subject, "lookup:url", outcomes)
    host_link(f, subject)
    if outcomes["Redirects"].ok:
        final = outcomes["Redirects"].value.url
        target = _try(ent.url_entity, final)
        if target is not None and target.key != subject.key:
            f.link(subject, LinkKind.REDIRECTS_TO, target, "redirect chain")
            host_link(f, target, "redirect chain")
    return f


def _phone(subject: Entity, default_region: str) -> Findings:
    f = Findings("lookup:phone", [subject])
    number = phonenumbers.parse(subject.value, default_region.upper())
    from phonenumbers import carrier, geocoder  # imported here: their data tables slow start-up

    place = geocoder.description_for_number(number, "en")
    if place and (location := _try(ent.name_entity, EntityKind.LOCATION, place)):
        f.link(subject, LinkKind.LOCATED_IN, location, "phonenumbers")
    operator = carrier.name_for_number(number, "en")
    if operator and (org := _try(ent.name_entity, EntityKind.ORGANISATION, operator)):
        f.link(subject, LinkKind.CARRIED_BY, org, "phonenumbers")
    return f


async def _cve(env: LookupEnv, subject: Entity) -> Findings:
    cve_id = subject.key
    outcomes = await run_providers({"NVD": nvd.cve(env, cve_id), "CISA KEV": kev.entry(env, cve_id),
                                    "EPSS": epss.score(env, cve_id)})
    record = outcomes["NVD"].value if outcomes["NVD"].ok else None
    known = outcomes["CISA KEV"].value if outcomes["CISA KEV"].ok else None
    score = outcomes["EPSS"].value if outcomes["EPSS"].ok else None
    facts: dict[str, Any] = {}
    if record:
        facts["description"] = (record["description"] or "")[:500]
        if record["cvss"]:
            facts["cvss"] = record["cvss"]["score"]
    if outcomes["CISA KEV"].ok:
        facts["known_exploited"] = known is not None
    if score:
        facts["epss"] = score["epss"]
    return _start(_with_attrs(subject, facts), "lookup:cve", outcomes)
