"""Turn one site's answer into found / not found / unknown — with the reason, and never a guess."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from handlers.lookup.sweep.site import Observed, Site


class Status(StrEnum):
    """The three outcomes a site can end with."""

    FOUND = "found"
    NOT_FOUND = "not_found"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Verdict:
    status: Status
    reason: str


# Texts only an anti-bot interstitial carries (not the scripts such services inject into normal pages).
BLOCK_MARKERS: tuple[tuple[str, str], ...] = (
    ("<title>Just a moment...</title>", "blocked by a Cloudflare challenge"),
    ("Attention Required! | Cloudflare", "blocked by Cloudflare"),
    ("cf-browser-verification", "blocked by a Cloudflare challenge"),
    ("window._cf_chl_opt", "blocked by a Cloudflare challenge"),
    ("captcha-delivery.com", "blocked by a DataDome captcha"),
    ("px-captcha", "blocked by a PerimeterX captcha"),
    ("<title>DDoS-Guard</title>", "blocked by DDoS-Guard"),
    ("/_Incapsula_Resource", "blocked by Incapsula"),
    ("Making sure you&#39;re not a bot!", "blocked by Anubis"),
    ("Making sure you're not a bot!", "blocked by Anubis"),
    ("awswaf.com", "blocked by AWS WAF"),
    ("Checking your browser before accessing", "blocked by a browser check"),
)


def is_fault(site: Site, status: int) -> bool:
    """429 and 5xx are faults (retry, then unknown) unless the site's rules name that very status."""
    return (status == 429 or status >= 500) and status not in site.expected_statuses


def block_reason(site: Site, seen: Observed, headers: Mapping[str, str]) -> str | None:
    """Why the answer is an anti-bot page rather than the site's real answer, or None."""
    if headers.get("cf-mitigated", "").lower() == "challenge":
        return "blocked by a Cloudflare challenge"
    for marker, reason in (*site.block_markers, *BLOCK_MARKERS):
        if marker in seen.body:
            return reason if reason.startswith("blocked") else f"blocked: {reason}"
    return None


def judge(site: Site, seen: Observed, headers: Mapping[str, str]) -> Verdict:
    """Apply the site's rules to a (non-fault) response."""
    if is_fault(site, seen.status):
        what = "rate limited" if seen.status == 429 else "server error"
        return Verdict(Status.UNKNOWN, f"{what} (HTTP {seen.status})")
    blocked = block_reason(site, seen, headers)
    if blocked:
        return Verdict(Status.UNKNOWN, f"{blocked} (HTTP {seen.status})")
    found, missing = site.found.score(seen), site.missing_score(seen)
    if found > missing:
        return Verdict(Status.FOUND, f"HTTP {seen.status} matches the found rule ({site.found.describe()})")
    if missing > found:
        redirect = f" → {seen.location}" if seen.location else ""
        return Verdict(Status.NOT_FOUND, f"HTTP {seen.status}{redirect} matches the missing rule")
    if found:
        return Verdict(Status.UNKNOWN, f"HTTP {seen.status} matches both the found and the missing rule")
    return Verdict(Status.UNKNOWN, f"HTTP {seen.status} matches neither rule")
