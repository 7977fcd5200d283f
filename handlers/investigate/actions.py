"""The automated steps a playbook can name (`action = "domain.dns"`), each turning one lookup into linked entities.

Every action calls the same provider functions (and caches, rate limits and breakers) as the hand-typed
lookups, through a BudgetedEnv that charges the investigation's request budget. An action returns what it
learnt about its subject (facts) and the entities it found, linked to the subject.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

from handlers.cases import entities as ent
from handlers.cases.entities import Entity, EntityError, EntityKind
from handlers.cases.links import Link, LinkKind
from handlers.investigate.budget import BudgetedEnv
from handlers.investigate.subject import account_from_url
from handlers.lookup import crtsh, dns, epss, gravatar, hibp, internetdb, kev, nvd, rdap, wayback
from handlers.lookup import greynoise as greynoise_api
from handlers.lookup.abuseipdb import check as abuseipdb_check
from handlers.lookup.cve import mentions as cve_mentions
from handlers.lookup.detect import parse_ip
from handlers.lookup.disposable import is_disposable
from handlers.lookup.mail import parse_address
from handlers.lookup.ssrf import why_blocked
from handlers.lookup.url import expand, guard_for

MAX_LISTED = 25  # entities one list (subdomains, hostnames, breaches…) contributes at most


class Skip(Exception):
    """The step does not apply to this subject (a private IP, an unmonitored platform); the message says why."""


@dataclass
class StepResult:
    """What one automated step learnt: facts about the subject, entities linked to it, remarks."""

    facts: list[tuple[str, str]] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)

    def fact(self, key: str, value: object) -> None:
        if value not in (None, "", [], {}):
            self.facts.append((key, value if isinstance(value, str) else ", ".join(map(str, value))
                               if isinstance(value, list) else str(value)))

    def link(self, src: Entity | None, kind: LinkKind, dst: Entity | None, source: str) -> None:
        if src is not None and dst is not None and src.ref != dst.ref:
            self.links.append(Link(src, kind, dst, source))

    def capped(self, values: Iterable[Any], what: str) -> list[Any]:
        items = list(values)
        if len(items) > MAX_LISTED:
            self.remarks.append(f"{len(items) - MAX_LISTED} more {what} not kept (first {MAX_LISTED}).")
        return items[:MAX_LISTED]


ActionFn = Callable[[BudgetedEnv, Entity, Mapping[str, Any]], Awaitable[StepResult]]


@dataclass(frozen=True)
class Action:
    """A built-in automated step: what it applies to, what it is called, which options it takes."""

    name: str
    kind: str
    label: str
    fn: ActionFn
    options: tuple[str, ...] = ()


ACTIONS: dict[str, Action] = {}


def action(name: str, kind: str, label: str, *, options: Iterable[str] = ()) -> Callable[[ActionFn], ActionFn]:
    """Register an action under `name` for playbooks of `kind`."""

    def register(fn: ActionFn) -> ActionFn:
        ACTIONS[name] = Action(name, kind, label, fn, tuple(options))
        return fn

    return register


def _try(make: Callable[..., Entity], *args: Any, **kwargs: Any) -> Entity | None:
    try:
        return make(*args, **kwargs)
    except EntityError:
        return None


def _org(name: str | None) -> Entity | None:
    return _try(ent.name_entity, EntityKind.ORGANISATION, name) if name else None


def _host(name: str) -> Entity | None:
    return _try(ent.ip_entity, name) if parse_ip(name) else _try(ent.domain_entity, name)


async def _dns(env: BudgetedEnv, key: str, queries: int, produce: Callable[[], Awaitable[Any]]) -> Any:
    """A DNS answer from the shared cache, charging `queries` only when the resolver is asked."""

    async def charged() -> Any:
        env.charge(queries)
        return await produce()

    return await env.cached("dns", key, charged, ttl_s=env.settings.dns_cache_ttl_s)


# email -------------------------------------------------------------------------
@action("email.split", "email", "Domain and local part (offline)")
async def email_split(env: BudgetedEnv, subject: Entity, options: Mapping[str, Any]) -> StepResult:
    address = parse_address(subject.value)
    r = StepResult()
    if address.canonical != address.normalised.lower():
        r.fact("canonical", address.canonical)
    r.fact("disposable provider", "yes" if is_disposable(address.domain) else "not on our list")
    r.link(subject, LinkKind.USES_DOMAIN, _try(ent.domain_entity, address.domain), "address")
    r.link(subject, LinkKind.RELATED_TO, _try(ent.username_entity, address.local.split("+", 1)[0]), "local part")
    return r


@action("email.mail_dns", "email", "Mail DNS (MX, SPF, DMARC)")
async def email_mail_dns(env: BudgetedEnv, subject: Entity, options: Mapping[str, Any]) -> StepResult:
    domain = parse_address(subject.value).domain
    resolver = dns.make_resolver(env.settings)
    policy = await _dns(env, f"mail:{domain}", 3, lambda: dns.mail_policy(resolver, domain))
    r = StepResult()
    r.fact("MX", policy["mx"] or "none")
    r.fact("SPF", policy["spf"] or "none")
    r.fact("DMARC", policy["dmarc"] or "none")
    for mx in policy["mx"]:
        host = mx.split()[-1]
        if host != ".":
            r.link(_try(ent.domain_entity, domain), LinkKind.MAIL_SERVER, _try(ent.domain_entity, host), "DNS")
    return r


@action("email.gravatar", "email", "Gravatar profile")
async def email_gravatar(env: BudgetedEnv, subject: Entity, options: Mapping[str, Any]) -> StepResult:
    profile = await gravatar.profile(env, parse_address(subject.value).normalised)
    r = StepResult()
    if profile is None:
        r.remarks.append("no public profile")
        return r
    r.fact("Gravatar", profile["profile_url"])
    r.link(subject, LinkKind.HAS_NAME, _try(ent.name_entity, EntityKind.PERSON, profile["display_name"] or ""),
           "Gravatar")
    r.link(subject, LinkKind.LOCATED_IN, _try(ent.name_entity, EntityKind.LOCATION, profile["location"] or ""),
           "Gravatar")
    for item in profile["accounts"]:
        url = item.get("url") or ""
        r.link(subject, LinkKind.HAS_ACCOUNT, account_from_url(url) or _try(ent.url_entity, url), "Gravatar")
    return r


@action("email.breaches", "email", "Breaches (Have I Been Pwned)")
async def email_breaches(env: BudgetedEnv, subject: Entity, options: Mapping[str, Any]) -> StepResult:
    names = await hibp.breaches(env, parse_address(subject.value).normalised)
    r = StepResult()
    if not names:
        r.remarks.append("in no known breach")
    for name in r.capped(names, "breaches"):
        r.link(subject, LinkKind.EXPOSED_IN, _org(name), "Have I Been Pwned")
    return r


# username ----------------------------------------------------------------------
@action("username.sweep", "username", "Sweep the username across sites", options=("category", "only"))
async def username_sweep(env: BudgetedEnv, subject: Entity, options: Mapping[str, Any]) -> StepResult:
    try:
        from handlers.lookup.sweep.engine import Limits, Sweeper
        from handlers.lookup.sweep.site import normalise_username
        from handlers.lookup.sweep.sitelist import default_sites, select
        from handlers.lookup.sweep.verdict import Status
    except ImportError:
        raise Skip("the username sweep is not available in this build") from None
    try:
        name = normalise_username(subject.value)
    except ValueError as exc:
        raise Skip(str(exc)) from None
    settings = env.services.settings
    only = options.get("only") or []
    sites = select(default_sites(settings).sites, category=options.get("category"),
                   only=[only] if isinstance(only, str) else list(only))
    r = StepResult()
    if len(sites) > env.budget.left:
        r.remarks.append(f"swept {env.budget.left} of {len(sites)} sites (request budget)")
        sites = sites[: env.budget.left]
    env.charge(len(sites))
    sweeper = Sweeper(env.services.http, Limits.from_settings(settings.lookups.sweep, settings.http.max_connections))
    found = unknown = 0
    async for result in sweeper.sweep(name, sites):
        if result.status is Status.FOUND:
            found += 1
            profile = account_from_url(result.url) or _try(
                ent.account_entity, result.site.name.lower(), name, url=result.url)
            r.link(subject, LinkKind.HAS_ACCOUNT, profile, f"sweep:{result.site.name}")
        unknown += result.status is Status.UNKNOWN
    r.fact("sites", f"{len(sites)} asked: {found} found, {unknown} unknown")
    return r


# account -----------------------------------------------------------------------
@action("account.handle", "account", "The handle as a username (offline)")
async def account_handle(env: BudgetedEnv, subject: Entity, options: Mapping[str, Any]) -> StepResult:
    r = StepResult()
    handle = str(subject.attrs.get("handle", "")).split("@")[0]
    r.fact("platform", subject.attrs.get("source"))
    r.fact("profile", subject.attrs.get("url"))
    r.link(_try(ent.username_entity, handle), LinkKind.HAS_ACCOUNT, subject, "handle")
    return r


def _monitored(env: BudgetedEnv, subject: Entity) -> Any:
    from handlers.monitor.sources.registry import available_sources

    platform = str(subject.attrs.get("source", ""))
    source = available_sources(env.services).get(platform)
    if source is None:
        raise Skip(f"{platform} is not one of the monitored sources")
    if not source.configured():
        raise Skip(f"the {platform} source needs a key")
    return source


@action("account.profile", "account", "Profile on the monitored source")
async def account_profile(env: BudgetedEnv, subject: Entity, options: Mapping[str, Any]) -> StepResult:
    from handlers.monitor.sources.base import NotSupported

    source = _monitored(env, subject)
    env.charge(1)
    try:
        profile = await source.profile(str(subject.attrs.get("handle", "")))
    except NotSupported as exc:
        raise Skip(str(exc)) from None
    r = StepResult()
    r.fact("name", profile.author.name)
    r.fact("bio", profile.bio[:300])
    r.fact("created", profile.created_at.date().isoformat() if profile.created_at else None)
    r.link(subject, LinkKind.HAS_NAME, _try(ent.name_entity, EntityKind.PERSON, profile.author.name or ""),
           source.name)
    for url in r.capped(profile.links, "profile links"):
        r.link(subject, LinkKind.MENTIONS, _try(ent.url_entity, url), source.name)
    return r


@action("account.posts", "account", "Recent posts on the monitored source", options=("limit",))
async def account_posts(env: BudgetedEnv, subject: Entity, options: Mapping[str, Any]) -> StepResult:
    from handlers.monitor.sources.base import NotSupported

    source = _monitored(env, subject)
    env.charge(1)
    try:
        page = await source.account_feed(str(subject.attrs.get("handle", "")), None)
    except NotSupported as exc:
        raise Skip(str(exc)) from None
    posts = sorted(page.posts, key=lambda p: p.created_at, reverse=True)[: int(options.get("limit", 20))]
    r = StepResult()
    if not posts:
        r.remarks.append("no recent posts")
        return r
    r.fact("recent posts", f"{len(posts)}, latest {posts[0].created_at.date().isoformat()}")
    for post in posts[:3]:
        r.fact("post", (post.url or "") + " " + " ".join(post.text.split())[:120])
    return r


# domain ------------------------------------------------------------------------
@action("domain.rdap", "domain", "Registration (RDAP)")
async def domain_rdap(env: BudgetedEnv, subject: Entity, options: Mapping[str, Any]) -> StepResult:
    reg = await rdap.domain(env, subject.key)
    r = StepResult()
    if reg is None:
        r.remarks.append("no registration record")
        return r
    r.fact("created", reg["created"])
    r.fact("expires", reg["expires"])
    r.link(subject, LinkKind.REGISTERED_WITH, _org(reg["registrar"]), "RDAP")
    r.link(subject, LinkKind.REGISTERED_BY, _org(reg["registrant"]), "RDAP")
    for ns in reg["nameservers"]:
        r.link(subject, LinkKind.NAME_SERVER, _try(ent.domain_entity, ns), "RDAP")
    return r


@action("domain.dns", "domain", "DNS records (A, AAAA, MX, NS, TXT)")
async def domain_dns(env: BudgetedEnv, subject: Entity, options: Mapping[str, Any]) -> StepResult:
    resolver = dns.make_resolver(env.settings)
    records = await _dns(env, f"domain:{subject.key}", len(dns.DOMAIN_TYPES),
                         lambda: dns.domain_records(resolver, subject.key))
    r = StepResult()
    r.fact("TXT", records.get("TXT") or None)
    for address in [*records.get("A", []), *records.get("AAAA", [])]:
        r.link(subject, LinkKind.RESOLVES_TO, _try(ent.ip_entity, address), "DNS")
    for mx in records.get("MX", []):
        if mx.split()[-1] != ".":
            r.link(subject, LinkKind.MAIL_SERVER, _try(ent.domain_entity, mx.split()[-1]), "DNS")
    for ns in records.get("NS", []):
        r.link(subject, LinkKind.NAME_SERVER, _try(ent.domain_entity, ns), "DNS")
    return r


@action("domain.subdomains", "domain", "Subdomains from certificates (crt.sh)")
async def domain_subdomains(env: BudgetedEnv, subject: Entity, options: Mapping[str, Any]) -> StepResult:
    certs = await crtsh.subdomains(env, subject.key)
    r = StepResult()
    if not certs["certificates"]:
        r.remarks.append("no certificates logged")
        return r
    r.fact("certificates", certs["certificates"])
    r.fact("earliest", certs["earliest"])
    for name in r.capped(certs["subdomains"], "subdomains"):
        r.link(_try(ent.domain_entity, name), LinkKind.SUBDOMAIN_OF, subject, "crt.sh")
    return r


def _wayback_facts(r: StepResult, data: dict[str, Any]) -> None:
    if not data["count"]:
        r.remarks.append("no captures")
        return
    r.fact("captures", f"{data['count']}{'+' if data['capped'] else ''}")
    r.fact("first capture", data["first"]["date"])
    r.fact("last capture", data["last"]["date"])


@action("domain.wayback", "domain", "Wayback Machine captures")
async def domain_wayback(env: BudgetedEnv, subject: Entity, options: Mapping[str, Any]) -> StepResult:
    r = StepResult()
    _wayback_facts(r, await wayback.captures(env, subject.key))
    return r


# ip ----------------------------------------------------------------------------
def _public(subject: Entity) -> str:
    ip = parse_ip(subject.key)
    reason = why_blocked(ip) if ip is not None else "not an IP"
    if reason:
        raise Skip(f"{reason} address: not sent to any provider")
    return subject.key


@action("ip.rdap", "ip", "Network (RDAP)")
async def ip_rdap(env: BudgetedEnv, subject: Entity, options: Mapping[str, Any]) -> StepResult:
    net = await rdap.network(env, _public(subject))
    r = StepResult()
    if net is None:
        r.remarks.append("no network record")
        return r
    r.fact("network", f"{net['name'] or '—'} ({net['handle'] or '—'})")
    r.fact("range", net["cidrs"] or net["range"])
    r.fact("country", net["country"])
    r.fact("abuse contact", net["abuse"])
    r.link(subject, LinkKind.BELONGS_TO, _org(net["org"]), "RDAP")
    return r


@action("ip.asn", "ip", "Routing origin (Team Cymru)")
async def ip_asn(env: BudgetedEnv, subject: Entity, options: Mapping[str, Any]) -> StepResult:
    address = _public(subject)
    resolver = dns.make_resolver(env.settings)
    found = await _dns(env, f"asn:{address}", 2, lambda: dns.asn(resolver, address))
    r = StepResult()
    if not found:
        r.remarks.append("not announced")
        return r
    r.fact("prefix", found["prefix"])
    holder = _org(f"AS{found['asn']} {found['name']}".strip())
    if holder is not None:
        holder = Entity(holder.kind, holder.value, holder.key, {"asn": found["asn"]})
    r.link(subject, LinkKind.ANNOUNCED_BY, holder, "Team Cymru")
    return r


@action("ip.reverse", "ip", "Reverse DNS")
async def ip_reverse(env: BudgetedEnv, subject: Entity, options: Mapping[str, Any]) -> StepResult:
    address = _public(subject)
    resolver = dns.make_resolver(env.settings)
    names = await _dns(env, f"ptr:{address}", 1, lambda: dns.reverse(resolver, address))
    r = StepResult()
    if not names:
        r.remarks.append("no PTR record")
    for name in names:
        r.link(subject, LinkKind.REVERSE_DNS, _try(ent.domain_entity, name), "DNS")
    return r


@action("ip.internetdb", "ip", "Open ports and hostnames (Shodan InternetDB)")
async def ip_internetdb(env: BudgetedEnv, subject: Entity, options: Mapping[str, Any]) -> StepResult:
    data = await internetdb.host(env, _public(subject))
    r = StepResult()
    if data is None:
        r.remarks.append("no data on this address")
        return r
    r.fact("ports", data["ports"])
    r.fact("tags", data["tags"])
    for name in r.capped(data["hostnames"], "hostnames"):
        r.link(_try(ent.domain_entity, name), LinkKind.RESOLVES_TO, subject, "Shodan InternetDB")
    for cve_id in r.capped(data["vulns"], "vulnerabilities"):
        r.link(subject, LinkKind.HAS_VULNERABILITY, _try(ent.cve_entity, cve_id), "Shodan InternetDB")
    return r


@action("ip.greynoise", "ip", "Internet background noise (GreyNoise)")
async def ip_greynoise(env: BudgetedEnv, subject: Entity, options: Mapping[str, Any]) -> StepResult:
    data = await greynoise_api.community(env, _public(subject))
    r = StepResult()
    if data is None:
        r.remarks.append("not seen scanning the internet")
        return r
    r.fact("classification", data["classification"])
    r.fact("GreyNoise name", data["name"])
    r.fact("last seen", data["last_seen"])
    return r


@action("ip.abuseipdb", "ip", "Abuse reports (AbuseIPDB)")
async def ip_abuseipdb(env: BudgetedEnv, subject: Entity, options: Mapping[str, Any]) -> StepResult:
    data = await abuseipdb_check(env, _public(subject))
    r = StepResult()
    r.fact("abuse confidence", f"{data['abuseConfidenceScore']}%")
    r.fact("abuse reports (90 days)", data["totalReports"])
    return r


# url ---------------------------------------------------------------------------
@action("url.host", "url", "The host the URL is on (offline)")
async def url_host(env: BudgetedEnv, subject: Entity, options: Mapping[str, Any]) -> StepResult:
    from urllib.parse import urlsplit

    r = StepResult()
    r.link(subject, LinkKind.HOSTED_ON, _host(urlsplit(subject.value).hostname or ""), "URL")
    return r


@action("url.expand", "url", "Redirect chain (through the SSRF guard)")
async def url_expand(env: BudgetedEnv, subject: Entity, options: Mapping[str, Any]) -> StepResult:
    from urllib.parse import urlsplit

    hops = guard_for(env.services).max_hops + 1
    env.charge(hops)  # the longest chain is charged in advance, the unused part given back
    try:
        response = await expand(env, subject.value)
    except Exception:
        env.budget.refund(hops - 1)
        raise
    env.budget.refund(hops - min(len(response.hops), hops))
    r = StepResult()
    r.fact("requests", f"{len(response.hops)}, final status {response.status}")
    if response.stopped:
        r.remarks.append(f"chain {response.stopped}")
    final = _try(ent.url_entity, response.url)
    if final is not None and final.key != subject.key:
        r.link(subject, LinkKind.REDIRECTS_TO, final, "redirect chain")
        r.link(final, LinkKind.HOSTED_ON, _host(urlsplit(final.value).hostname or ""), "redirect chain")
    for hop in response.hops:
        host = _host(urlsplit(hop.url).hostname or "")
        if host is not None and host.kind is EntityKind.DOMAIN:
            r.link(host, LinkKind.RESOLVES_TO, _try(ent.ip_entity, hop.ip), "redirect chain")
    return r


@action("url.wayback", "url", "Wayback Machine captures")
async def url_wayback(env: BudgetedEnv, subject: Entity, options: Mapping[str, Any]) -> StepResult:
    r = StepResult()
    _wayback_facts(r, await wayback.captures(env, subject.value))
    return r


# cve ---------------------------------------------------------------------------
@action("cve.nvd", "cve", "NVD record")
async def cve_nvd(env: BudgetedEnv, subject: Entity, options: Mapping[str, Any]) -> StepResult:
    record = await nvd.cve(env, subject.key)
    r = StepResult()
    if record is None:
        r.remarks.append("no NVD record")
        return r
    cvss = record["cvss"]
    r.fact("CVSS", f"{cvss['score']} {cvss['severity'] or ''} (v{cvss['version']})".replace("  ", " ")
           if cvss else "not scored")
    r.fact("published", record["published"])
    r.fact("CWE", record["cwes"])
    r.fact("description", (record["description"] or "")[:300])
    return r


@action("cve.kev", "cve", "Known exploited (CISA KEV)")
async def cve_kev(env: BudgetedEnv, subject: Entity, options: Mapping[str, Any]) -> StepResult:
    known = await kev.entry(env, subject.key)
    r = StepResult()
    if known is None:
        r.remarks.append("not in the KEV catalogue")
        return r
    r.fact("known exploited", f"yes, since {known['dateAdded']}")
    r.fact("ransomware use", known["knownRansomwareCampaignUse"])
    r.link(subject, LinkKind.RELATED_TO, _org(known["vendorProject"]), "CISA KEV")
    return r


@action("cve.epss", "cve", "Exploitation probability (EPSS)")
async def cve_epss(env: BudgetedEnv, subject: Entity, options: Mapping[str, Any]) -> StepResult:
    score = await epss.score(env, subject.key)
    r = StepResult()
    if score is None:
        r.remarks.append("no EPSS score")
        return r
    r.fact("EPSS", f"{score['epss']:.2%} (percentile {score['percentile']:.1%})")
    return r


@action("cve.mentions", "cve", "Mentions in collected posts (offline)")
async def cve_mentions_step(env: BudgetedEnv, subject: Entity, options: Mapping[str, Any]) -> StepResult:
    week, month = await cve_mentions(env, subject.key)
    r = StepResult()
    if not month:
        r.remarks.append("not mentioned in collected posts in 30 days")
        return r
    r.fact("mentions", f"{week} in 7 days, {month} in 30 days")
    return r


# phone -------------------------------------------------------------------------
@action("phone.parse", "phone", "Number, region, carrier, line type (offline)")
async def phone_parse(env: BudgetedEnv, subject: Entity, options: Mapping[str, Any]) -> StepResult:
    from phonenumbers import carrier, geocoder  # imported here: their data tables cost half a second of start-up

    number = phonenumbers.parse(subject.value, env.settings.default_region.upper())
    r = StepResult()
    r.fact("valid", "yes" if phonenumbers.is_valid_number(number) else "no")
    r.fact("international", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL))
    r.fact("region", phonenumbers.region_code_for_number(number))
    place = geocoder.description_for_number(number, "en")
    operator = carrier.name_for_number(number, "en")
    r.link(subject, LinkKind.LOCATED_IN, _try(ent.name_entity, EntityKind.LOCATION, place) if place else None,
           "phonenumbers")
    r.link(subject, LinkKind.CARRIED_BY, _org(operator), "phonenumbers")
    return r

