"""IOC exports for the rest of the CTI toolchain: CSV and a STIX 2.1 bundle."""

from __future__ import annotations

from collections.abc import Sequence

import stix2

from bot.csvfile import csv_bytes
from handlers.analysis.ioc_index import Sighting
from handlers.analysis.iocs import IOCKind

_PATTERN = {
    IOCKind.URL: "url:value",
    IOCKind.DOMAIN: "domain-name:value",
    IOCKind.IPV4: "ipv4-addr:value",
    IOCKind.IPV6: "ipv6-addr:value",
    IOCKind.EMAIL: "email-addr:value",
    IOCKind.MD5: "file:hashes.MD5",
    IOCKind.SHA1: "file:hashes.'SHA-1'",
    IOCKind.SHA256: "file:hashes.'SHA-256'",
    IOCKind.SHA512: "file:hashes.'SHA-512'",
    IOCKind.BTC: "x-cryptocurrency-wallet:value",
    IOCKind.ETH: "x-cryptocurrency-wallet:value",
    IOCKind.XMR: "x-cryptocurrency-wallet:value",
}


def to_csv(sightings: Sequence[Sighting]) -> bytes:
    """kind, value, posts, first_seen, last_seen, example_url — one row per indicator."""
    return csv_bytes(
        ["kind", "value", "posts", "first_seen", "last_seen", "example_url"],
        ([s.ioc.kind.value, s.ioc.value, s.posts, s.first.isoformat() if s.first else "",
          s.last.isoformat() if s.last else "", s.example_url or ""] for s in sightings))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def to_stix(sightings: Sequence[Sighting], label: str) -> bytes:
    """A STIX 2.1 bundle: an Indicator per observable, a Vulnerability per CVE."""
    objects: list[object] = []
    for s in sightings:
        first = s.first
        if s.ioc.kind is IOCKind.CVE:
            objects.append(
                stix2.Vulnerability(
                    name=s.ioc.value,
                    external_references=[{"source_name": "cve", "external_id": s.ioc.value}],
                    description=f"Mentioned in {s.posts} posts of {label}.",
                )
            )
            continue
        objects.append(
            stix2.Indicator(
                name=f"{s.ioc.kind.value} {s.ioc.value}"[:250],
                description=f"Seen in {s.posts} posts of {label}; extracted automatically, not vetted.",
                pattern=f"[{_PATTERN[s.ioc.kind]} = '{_escape(s.ioc.value)}']",
                pattern_type="stix",
                valid_from=first,
                indicator_types=["unknown"],
                labels=[s.ioc.kind.value],
            )
        )
    if not objects:
        return stix2.Bundle(allow_custom=True).serialize(pretty=True).encode()
    return stix2.Bundle(objects=objects, allow_custom=True).serialize(pretty=True).encode()
