"""/domain: RDAP registration, DNS records, certificate-transparency subdomains, Wayback captures."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from bot.command import CommandError
from bot.reply import Button, Reply, link
from handlers.lookup import crtsh, dns, rdap, wayback
from handlers.lookup.defang import refang
from handlers.lookup.detect import normalise_domain
from handlers.lookup.provider import LookupEnv, Outcome, run_providers
from handlers.lookup.report import failures, heading, listing

MAX_SUBDOMAINS = 40


def parse_domain_arg(text: str) -> str:
    """A domain from user input (defanged, URL or bare); CommandError if it is not one."""
    text = refang(text).strip()
    if "://" in text:
        text = text.split("://", 1)[1]
    text = text.split("/", 1)[0].split("@")[-1].rsplit(":", 1)[0]
    domain = normalise_domain(text)
    if not domain:
        raise CommandError(f"{text!r} is not a domain name.")
    return domain


def wayback_section(reply: Reply, outcome: Outcome, subject: str) -> None:
    """Add the Wayback block (first/last capture and count) when the provider answered."""
    if not outcome.ok:
        return
    data: dict[str, Any] = outcome.value
    if not data["count"]:
        reply.para(f"Wayback Machine: no captures of {subject}.")
        return
    count = f"{data['count']}+" if data["capped"] else str(data["count"])
    reply.kv([
        ("captures", count),
        ("first", link(data["first"]["date"], data["first"]["url"])),
        ("last", link(data["last"]["date"], data["last"]["url"])),
    ], title=f"Wayback Machine ({subject})")


def registration_providers(env: LookupEnv, domain: str) -> dict[str, Awaitable[Any]]:
    """RDAP, DNS and crt.sh for a domain: what /domain and case pivots both ask."""
    resolver = dns.make_resolver(env.settings)
    return {
        "RDAP": rdap.domain(env, domain),
        "DNS": env.cached("dns", f"domain:{domain}", lambda: dns.domain_records(resolver, domain),
                          ttl_s=env.settings.dns_cache_ttl_s),
        "crt.sh": crtsh.subdomains(env, domain),
    }


async def lookup_domain(env: LookupEnv, text: str) -> Reply:
    """The full /domain answer."""
    domain = parse_domain_arg(text)
    outcomes = await run_providers({**registration_providers(env, domain), "Wayback": wayback.captures(env, domain)})
    reply = heading("Domain", domain)
    reg = outcomes["RDAP"]
    if reg.ok and reg.value is None:
        reply.para("RDAP: no registration record (not registered, or the registry has no RDAP service).")
    elif reg.ok:
        r = reg.value
        reply.kv([
            ("registrar", r["registrar"] or "—"),
            ("registrant", r["registrant"] or "— (redacted or not published)"),
            ("created", r["created"] or "—"),
            ("expires", r["expires"] or "—"),
            ("updated", r["updated"] or "—"),
            ("status", listing(r["status"])),
            ("name servers", listing(r["nameservers"])),
        ], title="Registration (RDAP)")
    records = outcomes["DNS"]
    if records.ok:
        reply.kv([(t, listing(v, limit=8)) for t, v in records.value.items()], title="DNS")
    certs = outcomes["crt.sh"]
    if certs.ok:
        subs = certs.value["subdomains"]
        reply.kv([
            ("certificates", str(certs.value["certificates"])),
            ("earliest", certs.value["earliest"] or "—"),
            (f"subdomains ({len(subs)})", listing(subs, limit=MAX_SUBDOMAINS)),
        ], title="Certificate transparency (crt.sh)")
    wayback_section(reply, outcomes["Wayback"], domain)
    failures(reply, outcomes)
    buttons = []
    if records.ok and records.value.get("A"):
        first_ip = records.value["A"][0]
        buttons.append(Button(f"/ip {first_ip}", f"/ip {first_ip}"))
    buttons.append(Button("/url https://" + domain, "/url https://" + domain))
    return reply.buttons(buttons, [Button("Add to case", f"/case pivot {domain}")])
