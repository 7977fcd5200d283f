"""Settings for lookup providers: one section each, with its base URL and optional key."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, create_model


class ProviderSettings(BaseModel):
    """A lookup provider: base URL, optional key, cache TTL and request rate."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    base_url: str
    key: SecretStr | None = None
    cache_ttl_s: int = Field(default=86400, ge=0)
    rate_per_s: float = Field(default=1.0, gt=0)
    timeout_s: float = Field(default=15, gt=0)


class KeyNeed(StrEnum):
    """Whether a provider answers without an API key."""

    NONE = "none"  # keyless
    OPTIONAL = "optional"  # a key raises limits or adds detail
    REQUIRED = "required"  # no answer without one


@dataclass(frozen=True)
class Provider:
    """A lookup provider, declared once: its settings section and defaults, its name for people, what it answers.

    The settings section (`lookups.<name>`, `SOCMINT_LOOKUPS__<NAME>__BASE_URL` / `__KEY`), the /status section
    and the test fakes follow from this declaration; the lookup modules (`handlers/lookup/<name>.py`) call it.
    """

    name: str  # settings section and pacing key
    title: str  # as replies and /status name it
    base_url: str
    answers: tuple[str, ...]  # the lookups it serves: email, domain, ip, url, cve
    key: KeyNeed = KeyNeed.NONE
    rate_per_s: float = 1.0

    def settings_model(self) -> type[ProviderSettings]:
        """Its settings section, whose defaults (base URL, rate) apply even when the file sets one key."""
        fields: dict[str, Any] = {"base_url": (str, self.base_url),
                                  "rate_per_s": (float, Field(default=self.rate_per_s, gt=0))}
        return create_model(f"{self.name.title()}Settings", __base__=ProviderSettings, **fields)


PROVIDERS: tuple[Provider, ...] = (
    Provider("rdap", "RDAP", "https://rdap.org", ("domain", "ip")),
    Provider("crtsh", "crt.sh", "https://crt.sh", ("domain",)),
    Provider("internetdb", "Shodan InternetDB", "https://internetdb.shodan.io", ("ip",)),
    Provider("wayback", "Wayback", "https://web.archive.org", ("domain", "url"), rate_per_s=0.4),
    Provider("nvd", "NVD", "https://services.nvd.nist.gov/rest/json/cves/2.0", ("cve",), KeyNeed.OPTIONAL,
             rate_per_s=0.16),
    Provider("kev", "CISA KEV",
             "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json", ("cve",)),
    Provider("epss", "EPSS", "https://api.first.org/data/v1/epss", ("cve",)),
    Provider("gravatar", "Gravatar", "https://api.gravatar.com/v3", ("email",), KeyNeed.OPTIONAL, rate_per_s=0.03),
    Provider("hibp", "Have I Been Pwned", "https://haveibeenpwned.com/api/v3", ("email",), KeyNeed.REQUIRED),
    Provider("greynoise", "GreyNoise", "https://api.greynoise.io/v3/community", ("ip",), KeyNeed.OPTIONAL),
    Provider("abuseipdb", "AbuseIPDB", "https://api.abuseipdb.com/api/v2", ("ip",), KeyNeed.REQUIRED),
)


class SweepSettings(BaseModel):
    """The username sweep."""

    model_config = ConfigDict(extra="forbid")

    wmn_url: str = "https://raw.githubusercontent.com/WebBreacher/WhatsMyName/main/wmn-data.json"
    concurrency: int = Field(
        default=400, ge=1, description="requests at once (capped by http.max_connections for the bot's client)"
    )
    per_host: int = Field(default=2, ge=1)
    site_timeout_s: float = Field(default=10, gt=0)
    deadline_s: float = Field(default=60, gt=0)
    sites_file: str | None = Field(
        default=None, description="site list (WhatsMyName, Sherlock or Maigret JSON) used instead of the default"
    )


class LookupsBase(BaseModel):
    """What lookups share besides their providers: the sweep, DNS and phone numbers."""

    model_config = ConfigDict(extra="forbid")

    sweep: SweepSettings = Field(default_factory=SweepSettings)
    dns_resolver: str | None = Field(
        default=None, description="nameserver for DNS lookups, IP or IP:port (default: the system's)"
    )
    dns_timeout_s: float = Field(default=5, gt=0)
    dns_cache_ttl_s: int = Field(default=3600, ge=0)
    default_region: str = Field(default="US", description="phone numbers without + are read in this region")


# All lookup settings: the shared ones and one section per provider in PROVIDERS.
_SECTIONS = {p.name: p.settings_model() for p in PROVIDERS}
LookupsSettings = create_model(
    "LookupsSettings", __base__=LookupsBase, __doc__="All lookup settings.",
    **{name: (model, Field(default_factory=model)) for name, model in _SECTIONS.items()},
)
