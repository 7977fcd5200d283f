"""What a lookup query is: URL, email, IP, CVE, hash, wallet, phone, domain or username (defanged input too)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import StrEnum

from handlers.lookup.defang import refang
from handlers.lookup.wallets import currency_of


class Kind(StrEnum):
    URL = "url"
    EMAIL = "email"
    IP = "ip"
    CVE = "cve"
    HASH = "hash"
    WALLET = "wallet"
    PHONE = "phone"
    DOMAIN = "domain"
    USERNAME = "username"
    UNKNOWN = "unknown"


HASH_NAMES = {32: "MD5", 40: "SHA-1", 64: "SHA-256", 128: "SHA-512"}

CVE_RE = re.compile(r"^CVE-(\d{4})-(\d{4,})$", re.IGNORECASE)
EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@([A-Za-z0-9-]+\.)+[A-Za-z0-9-]{2,}$")
DOMAIN_RE = re.compile(r"^(?=.{1,253}$)(?:(?!-)[a-z0-9-]{1,63}(?<!-)\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")
HEX_RE = re.compile(r"^[0-9a-f]+$", re.IGNORECASE)
PHONE_RE = re.compile(r"^\+?[\d\s().-]{6,}$")
USERNAME_RE = re.compile(r"^@?[\w.-]{1,64}$")
URL_RE = re.compile(r"^(https?|ftp)://\S+$", re.IGNORECASE)


@dataclass(frozen=True)
class Detected:
    """The query's kind and its normalised (refanged) value; `defanged` if it was written defanged."""

    kind: Kind
    value: str
    defanged: bool = False
    detail: str = ""  # e.g. the hash algorithm, the wallet's currency


def normalise_domain(text: str) -> str | None:
    """The domain in lower-case IDNA form, or None if it is not a plausible domain name."""
    text = text.strip().rstrip(".").lower()
    try:
        ascii_name = text.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    return ascii_name if DOMAIN_RE.match(ascii_name) else None


def parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address if `text` is an IPv4/IPv6 literal (brackets allowed), else None."""
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def detect(query: str) -> Detected:
    """Classify a free-text query; the first matching rule wins, most specific first."""
    raw = query.strip()
    text = refang(raw)
    defanged = text != raw
    if CVE_RE.match(text):
        return Detected(Kind.CVE, text.upper(), defanged)
    if URL_RE.match(text):
        return Detected(Kind.URL, text, defanged)
    if EMAIL_RE.match(text):
        return Detected(Kind.EMAIL, text, defanged)
    ip = parse_ip(text)
    if ip is not None:
        return Detected(Kind.IP, str(ip), defanged)
    if HEX_RE.match(text) and len(text) in HASH_NAMES:
        return Detected(Kind.HASH, text.lower(), defanged, HASH_NAMES[len(text)])
    if currency := currency_of(text):
        return Detected(Kind.WALLET, text, defanged, currency.value)
    if PHONE_RE.match(text) and sum(c.isdigit() for c in text) >= 7:
        return Detected(Kind.PHONE, text, defanged)
    domain = normalise_domain(text)
    if domain:
        return Detected(Kind.DOMAIN, domain, defanged)
    if USERNAME_RE.match(text):
        return Detected(Kind.USERNAME, text.lstrip("@"), defanged)
    return Detected(Kind.UNKNOWN, text, defanged)
