"""Free text (posts, notes, summaries) with every indicator in it defanged, as reports show it.

Indicators are found by the IOC extractor and written with the lookup defang helpers (`evil[.]com`,
`a[@]evil[.]com`); every `http(s)://` or `ftp://` scheme becomes `hxxp(s)://` / `fxp://` whatever the
extractor recognised, so no link in a report's text can be followed by a click.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from handlers.analysis.iocs import extract_iocs
from handlers.lookup.defang import defang_email, defang_host

_SCHEME = re.compile(r"\b(https?|ftp)(?=(?:://|\[:\]//|\[://\]))", re.IGNORECASE)
_SCHEMES = {"http": "hxxp", "https": "hxxps", "ftp": "fxp"}
_HOST_KINDS = frozenset({"domain", "ipv4", "ipv6"})


def _hosts_and_emails(text: str) -> tuple[set[str], set[str]]:
    hosts: set[str] = set()
    emails: set[str] = set()
    for ioc in extract_iocs(text):
        kind = str(ioc.kind)
        if kind in _HOST_KINDS:
            hosts.add(ioc.value)
        elif kind == "url":
            try:
                host = urlsplit(ioc.value).hostname
            except ValueError:
                continue
            if host:
                hosts.add(host)
        elif kind == "email":
            emails.add(ioc.value)
            hosts.add(ioc.value.rpartition("@")[2])
    return hosts, emails


def _alternation(values: set[str]) -> re.Pattern[str] | None:
    if not values:
        return None
    ordered = sorted(values, key=lambda v: (-len(v), v))  # longest first: www.evil.com before evil.com
    return re.compile(r"(?<![\w-])(?:" + "|".join(map(re.escape, ordered)) + r")(?![\w-])", re.IGNORECASE)


def defang_text(text: str) -> str:
    """`see https://evil.com/x or mail a@evil.com` → `see hxxps://evil[.]com/x or mail a[@]evil[.]com`."""
    if not text:
        return text
    hosts, emails = _hosts_and_emails(text)
    out = _SCHEME.sub(lambda m: _SCHEMES[m.group(1).lower()], text)
    if pattern := _alternation(emails):
        out = pattern.sub(lambda m: defang_email(m.group(0)), out)
    if pattern := _alternation(hosts):
        out = pattern.sub(lambda m: defang_host(m.group(0)), out)
    return out
