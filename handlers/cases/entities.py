"""Typed case entities and the normalised keys that make `Evil[.]com`, `evil.com.` and `EVIL.COM` one thing.

Normalisation per kind: indicators are refanged first; domains lower-cased, trailing dot dropped and
IDN names keyed in punycode; URLs get a lower-case scheme and host, no default port and no fragment;
IPs in their canonical text form; e-mails lower-cased; phones in E.164 (phonenumbers); hashes and
usernames lower-cased; names (person, organisation, location) compared without case, accents of
compatibility forms, punctuation or repeated spaces; crypto wallets typed by currency (bitcoin legacy and
bech32 checked by checksum, Ethereum and monero by format), Ethereum and bech32 keyed lower-case.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import phonenumbers

from handlers.lookup.defang import defang_email, defang_host, defang_url, refang
from handlers.lookup.detect import CVE_RE, HASH_NAMES, HEX_RE, Kind, detect, normalise_domain
from handlers.lookup.wallets import currency_of
from handlers.lookup.wallets import normalise as normalise_wallet


class EntityKind(StrEnum):
    """What an entity is."""

    ACCOUNT = "account"
    USERNAME = "username"
    EMAIL = "email"
    PHONE = "phone"
    DOMAIN = "domain"
    IP = "ip"
    URL = "url"
    HASH = "hash"
    CVE = "cve"
    WALLET = "wallet"
    POST = "post"
    PERSON = "person"
    ORGANISATION = "organisation"
    LOCATION = "location"


INDICATOR_KINDS = frozenset(
    {EntityKind.DOMAIN, EntityKind.IP, EntityKind.URL, EntityKind.EMAIL, EntityKind.HASH, EntityKind.WALLET}
)
NAME_KINDS = frozenset({EntityKind.PERSON, EntityKind.ORGANISATION, EntityKind.LOCATION})
PREFIXES: dict[str, EntityKind] = {
    **{k.value: k for k in EntityKind},
    "org": EntityKind.ORGANISATION,
    "organization": EntityKind.ORGANISATION,
    "user": EntityKind.USERNAME,
    "place": EntityKind.LOCATION,
    **{name: EntityKind.WALLET for name in ("btc", "bitcoin", "eth", "ethereum", "xmr", "monero")},
}
_DETECTED = {
    Kind.URL: EntityKind.URL, Kind.EMAIL: EntityKind.EMAIL, Kind.IP: EntityKind.IP, Kind.CVE: EntityKind.CVE,
    Kind.HASH: EntityKind.HASH, Kind.PHONE: EntityKind.PHONE, Kind.DOMAIN: EntityKind.DOMAIN,
    Kind.USERNAME: EntityKind.USERNAME, Kind.WALLET: EntityKind.WALLET,
}
_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)
_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21}


class EntityError(ValueError):
    """The text is not a valid entity of the asked kind; the message says why."""


@dataclass(frozen=True)
class Entity:
    """A typed thing with its display `value` and its dedupe `key`; `attrs` hold extra facts."""

    kind: EntityKind
    value: str
    key: str
    attrs: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def ref(self) -> str:
        """`kind:key`, unique within a case."""
        return f"{self.kind.value}:{self.key}"


def name_key(text: str) -> str:
    """A person, organisation or place name compared loosely: NFKC, case-folded, no punctuation."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_PUNCT.sub(" ", folded).split())


def domain_entity(text: str) -> Entity:
    domain = normalise_domain(refang(text))
    if not domain:
        raise EntityError(f"{text!r} is not a domain name.")
    attrs: dict[str, Any] = {}
    try:
        shown = domain.encode("ascii").decode("idna")
    except UnicodeError:
        shown = domain
    if shown != domain:
        attrs["unicode"] = shown
    return Entity(EntityKind.DOMAIN, domain, domain, attrs)


def url_entity(text: str) -> Entity:
    url = refang(text).strip().strip("<>")
    if "://" not in url:
        url = "http://" + url
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise EntityError(f"{text!r} is not a URL.") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise EntityError(f"{text!r} is not an http(s) or ftp URL.")
    host = _url_host(parts.hostname)
    if host is None:
        raise EntityError(f"{text!r} does not name a domain or IP address.")
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    path = parts.path if parts.path not in ("", "/") else ""
    normal = urlunsplit((scheme, netloc, path, parts.query, ""))
    return Entity(EntityKind.URL, normal, normal)


def _url_host(host: str) -> str | None:
    """A URL's host as keyed: canonical IP (IPv6 in brackets) or the normalised domain; None if neither."""
    ip = _ip_or_none(host)
    if ip is None:
        return normalise_domain(host)
    return f"[{ip}]" if ip.version == 6 else str(ip)


def _ip_or_none(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def ip_entity(text: str) -> Entity:
    ip = _ip_or_none(refang(text))
    if ip is None:
        raise EntityError(f"{text!r} is not an IP address.")
    return Entity(EntityKind.IP, str(ip), str(ip), {"version": ip.version})


def email_entity(text: str) -> Entity:
    address = refang(text).strip().removeprefix("mailto:")
    local, at, domain_part = address.rpartition("@")
    domain = normalise_domain(domain_part)
    if not at or not local or not domain or any(c.isspace() for c in local):
        raise EntityError(f"{text!r} is not an email address.")
    value = f"{local}@{domain}"
    return Entity(EntityKind.EMAIL, value, value.lower())


def phone_entity(text: str, default_region: str = "US") -> Entity:
    try:
        number = phonenumbers.parse(text, default_region.upper())
    except phonenumbers.NumberParseException:
        raise EntityError(f"{text!r} is not a phone number.") from None
    if not phonenumbers.is_possible_number(number):
        raise EntityError(f"{text!r} is not a possible phone number.")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    region = phonenumbers.region_code_for_number(number)
    return Entity(EntityKind.PHONE, e164, e164, {"region": region} if region else {})


def hash_entity(text: str) -> Entity:
    value = text.strip().lower()
    if not HEX_RE.match(value) or len(value) not in HASH_NAMES:
        raise EntityError(f"{text!r} is not an MD5, SHA-1, SHA-256 or SHA-512 hash.")
    return Entity(EntityKind.HASH, value, value, {"algorithm": HASH_NAMES[len(value)]})


def cve_entity(text: str) -> Entity:
    value = text.strip().upper()
    if not CVE_RE.match(value):
        raise EntityError(f"{text!r} is not a CVE id (like CVE-2021-44228).")
    return Entity(EntityKind.CVE, value, value)


def wallet_entity(text: str) -> Entity:
    """A cryptocurrency address; its currency in `attrs` (`btc`, `eth`, `xmr`)."""
    address = text.strip()
    currency = currency_of(address)
    if currency is None:
        raise EntityError(f"{text!r} is not a bitcoin, Ethereum or monero address (or its checksum is wrong).")
    value = normalise_wallet(currency, address)
    return Entity(EntityKind.WALLET, value, value, {"currency": currency.value, "chain": currency.title})


def username_entity(text: str) -> Entity:
    value = unicodedata.normalize("NFKC", text.strip().lstrip("@"))
    if not value or any(c.isspace() for c in value):
        raise EntityError(f"{text!r} is not a username.")
    return Entity(EntityKind.USERNAME, value, value.casefold())


def account_entity(source: str, handle: str, *, name: str | None = None, url: str | None = None) -> Entity:
    """An account on a source (`bluesky`, `mastodon`…); the handle compares without case or `@`."""
    source = source.strip().lower()
    handle = unicodedata.normalize("NFKC", handle.strip().lstrip("@"))
    if not source or not handle:
        raise EntityError("An account needs a source and a handle, like account:bluesky:alice.example.")
    attrs = {k: v for k, v in (("source", source), ("handle", handle), ("name", name), ("url", url)) if v}
    return Entity(EntityKind.ACCOUNT, f"{source}:{handle}", f"{source}:{handle.casefold()}", attrs)


def name_entity(kind: EntityKind, text: str) -> Entity:
    value = " ".join(text.strip().strip("\"'").split())
    key = name_key(value)
    if not key:
        raise EntityError(f"A {kind.value} needs a name.")
    return Entity(kind, value, key)


def post_entity(source: str, source_id: str, attrs: dict[str, Any]) -> Entity:
    """A collected post, keyed by where it came from and its id there."""
    value = f"{source}:{source_id}"
    return Entity(EntityKind.POST, value, value, attrs)


def make(kind: EntityKind, text: str, *, default_region: str = "US") -> Entity:
    """The entity of `kind` written as `text`; EntityError when it is not valid."""
    match kind:
        case EntityKind.DOMAIN:
            return domain_entity(text)
        case EntityKind.URL:
            return url_entity(text)
        case EntityKind.IP:
            return ip_entity(text)
        case EntityKind.EMAIL:
            return email_entity(text)
        case EntityKind.PHONE:
            return phone_entity(text, default_region)
        case EntityKind.HASH:
            return hash_entity(text)
        case EntityKind.CVE:
            return cve_entity(text)
        case EntityKind.WALLET:
            return wallet_entity(text)
        case EntityKind.USERNAME:
            return username_entity(text)
        case EntityKind.ACCOUNT:
            source, sep, handle = text.partition(":")
            if not sep:
                raise EntityError("Write an account as account:<source>:<handle>, like account:bluesky:alice.")
            return account_entity(source, handle)
        case EntityKind.POST:
            raise EntityError("Add posts by their stored id: post:<id>.")
        case _:
            return name_entity(kind, text)


def parse(text: str, *, default_region: str = "US") -> Entity:
    """An entity from what an analyst typed: `kind:value`, or a bare indicator whose kind is detected."""
    text = text.strip()
    prefix, sep, rest = text.partition(":")
    kind = PREFIXES.get(prefix.strip().lower()) if sep else None
    if kind is not None:
        return make(kind, rest.strip(), default_region=default_region)
    found = detect(text)
    entity_kind = _DETECTED.get(found.kind)
    if entity_kind is None:
        raise EntityError(f"Could not tell what {text!r} is; say it with a kind, like person:{text}.")
    return make(entity_kind, found.value, default_region=default_region)


def defanged(entity: Entity) -> str:
    """The value as shown in reports: indicators defanged so nobody clicks them by accident."""
    match entity.kind:
        case EntityKind.URL:
            return defang_url(entity.value)
        case EntityKind.DOMAIN | EntityKind.IP:
            return defang_host(entity.value)
        case EntityKind.EMAIL:
            return defang_email(entity.value)
        case _:
            return entity.value
