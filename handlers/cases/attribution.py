"""Where a case's facts came from, and the credit each source asks for (shown in every report)."""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from handlers.lookup import nvd
from handlers.monitor.sources.registry import SOURCE_CLASSES

PROVIDERS: dict[str, str] = {
    "RDAP": "Registration data from the registries' RDAP services (bootstrap via rdap.org).",
    "DNS": "DNS answers from the bot's configured resolver.",
    "crt.sh": "Certificate-transparency search by crt.sh (Sectigo).",
    "Team Cymru": "IP-to-ASN mapping by Team Cymru's IP to ASN service.",
    "Shodan InternetDB": "Open ports, hostnames and vulnerabilities from Shodan InternetDB.",
    "Gravatar": "Public profile data from Gravatar (Automattic).",
    "Have I Been Pwned": "Breach data from Have I Been Pwned (haveibeenpwned.com), CC BY 4.0.",
    "NVD": nvd.ATTRIBUTION,
    "CISA KEV": "CISA Known Exploited Vulnerabilities catalog.",
    "EPSS": "Exploit Prediction Scoring System (EPSS) scores by FIRST.org.",
    "phonenumbers": "Phone metadata from libphonenumber (offline).",
    "redirect chain": "Redirects followed by this bot through its SSRF guard.",
    "analyst": "Added by the case's analysts.",
}
LOOKUPS: dict[str, tuple[str, ...]] = {
    "lookup:domain": ("RDAP", "DNS", "crt.sh"),
    "lookup:ip": ("RDAP", "Team Cymru", "DNS", "Shodan InternetDB"),
    "lookup:email": ("Gravatar", "Have I Been Pwned"),
    "lookup:url": ("redirect chain",),
    "lookup:phone": ("phonenumbers",),
    "lookup:cve": ("NVD", "CISA KEV", "EPSS"),
}


def _post_source(name: str) -> tuple[str, str]:
    """A collecting source's title and attribution, from its class (the name itself when unknown)."""
    for path in SOURCE_CLASSES.values():
        module_name, _, class_name = path.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError):
            continue
        if getattr(cls, "name", None) == name:
            return cls.title, cls.attribution or f"Public posts collected from {cls.title}."
    return name, f"Posts from {name} (collected or imported)."


def attributions(sources: Iterable[str]) -> list[tuple[str, str]]:
    """(source, credit) for every distinct source named on a case's entities and links, in a stable order."""
    credits: dict[str, str] = {}
    for source in sorted(set(sources)):
        if source.startswith("post:"):
            title, text = _post_source(source.removeprefix("post:"))
            credits[title] = text
            continue
        for provider in LOOKUPS.get(source, (source,)):
            credits[provider] = PROVIDERS.get(provider, provider)
    return sorted(credits.items(), key=lambda item: item[0].lower())
