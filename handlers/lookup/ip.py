"""/ip: RDAP network, ASN and organisation, reverse DNS, Shodan InternetDB, GreyNoise, AbuseIPDB."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable
from typing import Any

from bot.command import CommandError
from bot.reply import Button, Reply
from handlers.lookup import abuseipdb, dns, greynoise, internetdb, rdap
from handlers.lookup.defang import refang
from handlers.lookup.provider import LookupEnv, run_providers
from handlers.lookup.report import failures, heading, listing
from handlers.lookup.ssrf import why_blocked


def parse_ip_arg(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(refang(text).strip().strip("[]"))
    except ValueError:
        raise CommandError(f"{text!r} is not an IPv4 or IPv6 address.") from None


def local_answer(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, reason: str) -> Reply:
    """The answer for a private or reserved address: explained here, never sent to any provider."""
    reply = heading("IP", str(ip))
    reply.kv([("kind", f"{reason} address"), ("version", f"IPv{ip.version}")])
    reply.para("This address is not publicly routable, so it was not looked up anywhere: "
               "no provider has data on it and sending it out would leak internal details.")
    return reply


def network_providers(env: LookupEnv, address: str) -> dict[str, Awaitable[Any]]:
    """RDAP, ASN, reverse DNS and InternetDB for a public address: what /ip and case pivots both ask."""
    resolver = dns.make_resolver(env.settings)
    ttl = env.settings.dns_cache_ttl_s
    return {
        "RDAP": rdap.network(env, address),
        "ASN": env.cached("dns", f"asn:{address}", lambda: dns.asn(resolver, address), ttl_s=ttl),
        "Reverse DNS": env.cached("dns", f"ptr:{address}", lambda: dns.reverse(resolver, address), ttl_s=ttl),
        "Shodan InternetDB": internetdb.host(env, address),
    }


async def lookup_ip(env: LookupEnv, text: str) -> Reply:
    """The full /ip answer."""
    ip = parse_ip_arg(text)
    reason = why_blocked(ip)
    if reason:
        return local_answer(ip, reason)
    address = str(ip)
    outcomes = await run_providers({
        **network_providers(env, address),
        "GreyNoise": greynoise.community(env, address),
        "AbuseIPDB": abuseipdb.check(env, address),
    })
    reply = heading("IP", address)
    net = outcomes["RDAP"]
    if net.ok and net.value:
        n = net.value
        reply.kv([
            ("network", f"{n['name'] or '—'} ({n['handle'] or '—'})"),
            ("range", listing(n["cidrs"]) if n["cidrs"] else (n["range"] or "—")),
            ("organisation", n["org"] or "—"),
            ("country", n["country"] or "—"),
            ("abuse contact", n["abuse"] or "—"),
        ], title="Network (RDAP)")
    elif net.ok:
        reply.para("RDAP: no network record.")
    asn = outcomes["ASN"]
    if asn.ok and asn.value:
        a = asn.value
        reply.kv([("ASN", f"AS{a['asn']}"), ("AS name", a["name"] or "—"), ("prefix", a["prefix"] or "—"),
                  ("country", a["country"] or "—")], title="Routing (Team Cymru)")
    elif asn.ok:
        reply.para("ASN: not announced on the internet routing table.")
    ptr = outcomes["Reverse DNS"]
    if ptr.ok:
        reply.kv([("reverse DNS", listing(ptr.value) if ptr.value else "none")])
    shodan = outcomes["Shodan InternetDB"]
    if shodan.ok and shodan.value is None:
        reply.para("Shodan InternetDB: no data on this address.")
    elif shodan.ok:
        s = shodan.value
        reply.kv([("ports", listing(s["ports"], limit=30)), ("hostnames", listing(s["hostnames"])),
                  ("CPEs", listing(s["cpes"])), ("tags", listing(s["tags"])),
                  ("vulns", listing(s["vulns"], limit=20))], title="Shodan InternetDB")
    noise = outcomes["GreyNoise"]
    if noise.ok and noise.value is None:
        reply.para("GreyNoise: not seen scanning the internet.")
    elif noise.ok:
        g = noise.value
        reply.kv([("classification", g["classification"] or "—"), ("noise", str(g["noise"])),
                  ("benign service (RIOT)", str(g["riot"])), ("name", g["name"] or "—"),
                  ("last seen", g["last_seen"] or "—")], title="GreyNoise")
    abuse = outcomes["AbuseIPDB"]
    if abuse.ok:
        b = abuse.value
        reply.kv([("confidence of abuse", f"{b['abuseConfidenceScore']}%"), ("reports", str(b["totalReports"])),
                  ("last reported", b["lastReportedAt"] or "never"), ("usage", b["usageType"] or "—")],
                 title="AbuseIPDB (90 days)")
    failures(reply, outcomes)
    buttons = [Button(f"/domain {h}", f"/domain {h}") for h in (ptr.value or [])[:1]] if ptr.ok else []
    return reply.buttons(buttons, [Button("Add to case", f"/case pivot {address}")])
