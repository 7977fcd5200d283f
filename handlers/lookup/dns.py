"""DNS lookups (dnspython): records of a domain, mail policy (MX/SPF/DMARC), reverse DNS, ASN via Team Cymru."""

from __future__ import annotations

import asyncio
import ipaddress

import dns.asyncresolver
import dns.exception
import dns.name
import dns.resolver
import dns.reversename

from config.lookups import LookupsSettings
from handlers.lookup.provider import ProviderError

DOMAIN_TYPES = ("A", "AAAA", "MX", "NS", "TXT")
CYMRU_ORIGIN_V4 = "origin.asn.cymru.com"
CYMRU_ORIGIN_V6 = "origin6.asn.cymru.com"
CYMRU_ASN = "asn.cymru.com"


class DomainMissing(ProviderError):
    """NXDOMAIN: the name does not exist."""


def split_server(spec: str) -> tuple[str, int]:
    """`1.1.1.1`, `127.0.0.1:5353` or `[::1]:53` → (address, port)."""
    spec = spec.strip()
    if spec.startswith("["):
        host, _, port = spec[1:].partition("]")
        return host, int(port.lstrip(":") or 53)
    if spec.count(":") == 1:
        host, port = spec.split(":")
        return host, int(port)
    return spec, 53


def make_resolver(settings: LookupsSettings) -> dns.asyncresolver.Resolver:
    """A resolver using the configured nameserver, or the system's when none is set."""
    if settings.dns_resolver:
        resolver = dns.asyncresolver.Resolver(configure=False)
        host, port = split_server(settings.dns_resolver)
        resolver.nameservers = [host]
        resolver.port = port
    else:
        resolver = dns.asyncresolver.Resolver()
    resolver.lifetime = settings.dns_timeout_s
    resolver.timeout = settings.dns_timeout_s
    return resolver


def _text(rdata: object, rdtype: str) -> str:
    if rdtype == "TXT":
        return b"".join(rdata.strings).decode("utf-8", errors="replace")  # type: ignore[attr-defined]
    if rdtype == "MX":
        return f"{rdata.preference} {rdata.exchange.to_text(omit_final_dot=True)}"  # type: ignore[attr-defined]
    if rdtype in ("NS", "PTR", "CNAME"):
        return rdata.target.to_text(omit_final_dot=True)  # type: ignore[attr-defined]
    return rdata.to_text()


async def records(resolver: dns.asyncresolver.Resolver, name: str, rdtype: str) -> list[str]:
    """The records of one type as text (empty when there are none); errors as ProviderError."""
    try:
        answer = await resolver.resolve(name, rdtype, raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        raise DomainMissing(f"{name} does not exist (NXDOMAIN)") from None
    except dns.exception.Timeout:
        raise ProviderError("timed out") from None
    except dns.resolver.NoNameservers:
        raise ProviderError("no name server answered") from None
    except dns.exception.DNSException as exc:
        raise ProviderError(f"failed ({type(exc).__name__})") from None
    if answer.rrset is None:
        return []
    return sorted(_text(r, rdtype) for r in answer.rrset)


async def domain_records(resolver: dns.asyncresolver.Resolver, domain: str) -> dict[str, list[str]]:
    """A, AAAA, MX, NS and TXT of a domain."""
    answers = await asyncio.gather(*(records(resolver, domain, rdtype) for rdtype in DOMAIN_TYPES))
    return dict(zip(DOMAIN_TYPES, answers, strict=True))


async def mail_policy(resolver: dns.asyncresolver.Resolver, domain: str) -> dict[str, object]:
    """MX hosts, the SPF record and the DMARC record of a mail domain."""
    mx = await records(resolver, domain, "MX")
    txt = await records(resolver, domain, "TXT")
    try:
        dmarc_txt = await records(resolver, f"_dmarc.{domain}", "TXT")
    except DomainMissing:
        dmarc_txt = []
    spf = [t for t in txt if t.lower().startswith("v=spf1")]
    dmarc = [t for t in dmarc_txt if t.lower().startswith("v=dmarc1")]
    return {"mx": mx, "spf": spf[0] if spf else None, "dmarc": dmarc[0] if dmarc else None}


async def reverse(resolver: dns.asyncresolver.Resolver, ip: str) -> list[str]:
    """PTR names of an address (empty when there are none)."""
    try:
        return await records(resolver, dns.reversename.from_address(ip).to_text(), "PTR")
    except DomainMissing:
        return []


def cymru_origin_name(ip: str) -> str:
    """The Team Cymru origin query name for an address."""
    address = ipaddress.ip_address(ip)
    if address.version == 4:
        return ".".join(reversed(ip.split("."))) + "." + CYMRU_ORIGIN_V4
    nibbles = address.exploded.replace(":", "")
    return ".".join(reversed(nibbles)) + "." + CYMRU_ORIGIN_V6


def _fields(txt: str) -> list[str]:
    return [f.strip() for f in txt.split("|")]


async def asn(resolver: dns.asyncresolver.Resolver, ip: str) -> dict[str, str] | None:
    """Origin ASN, prefix, country and AS name via Team Cymru's DNS service; None when unrouted."""
    try:
        origin = await records(resolver, cymru_origin_name(ip), "TXT")
    except DomainMissing:
        return None
    if not origin:
        return None
    number, prefix, country, registry, *_ = [*_fields(origin[0]), "", "", "", ""]
    number = number.split()[0]  # several origins are space-separated; show the first
    result = {"asn": number, "prefix": prefix, "country": country, "registry": registry, "name": ""}
    try:
        described = await records(resolver, f"AS{number}.{CYMRU_ASN}", "TXT")
    except DomainMissing:
        described = []
    if described:
        parts = _fields(described[0])
        result["name"] = parts[-1] if len(parts) >= 5 else ""
    return result
