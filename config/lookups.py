"""Settings for lookup providers: one section each, with its base URL and optional key."""

from __future__ import annotations

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


def _provider(name: str, url: str, **defaults: object) -> type[ProviderSettings]:
    """A provider section whose defaults (base URL, rate...) apply even when the file sets one key."""
    fields = {"base_url": (str, url)} | {k: (type(v), v) for k, v in defaults.items()}
    return create_model(f"{name.title()}Settings", __base__=ProviderSettings, **fields)  # type: ignore[call-overload]


RdapSettings = _provider("rdap", "https://rdap.org")
CrtshSettings = _provider("crtsh", "https://crt.sh", rate_per_s=1.0)
InternetDbSettings = _provider("internetdb", "https://internetdb.shodan.io")
WaybackSettings = _provider("wayback", "https://web.archive.org", rate_per_s=0.4)
NvdSettings = _provider("nvd", "https://services.nvd.nist.gov/rest/json/cves/2.0", rate_per_s=0.16)
KevSettings = _provider("kev", "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json")
EpssSettings = _provider("epss", "https://api.first.org/data/v1/epss")
GravatarSettings = _provider("gravatar", "https://api.gravatar.com/v3", rate_per_s=0.03)
HibpSettings = _provider("hibp", "https://haveibeenpwned.com/api/v3")
GreyNoiseSettings = _provider("greynoise", "https://api.greynoise.io/v3/community")
AbuseIpDbSettings = _provider("abuseipdb", "https://api.abuseipdb.com/api/v2")


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


class LookupsSettings(BaseModel):
    """All lookup providers."""

    model_config = ConfigDict(extra="forbid")

    sweep: SweepSettings = Field(default_factory=SweepSettings)
    rdap: RdapSettings = Field(default_factory=RdapSettings)  # type: ignore[valid-type]
    crtsh: CrtshSettings = Field(default_factory=CrtshSettings)  # type: ignore[valid-type]
    internetdb: InternetDbSettings = Field(default_factory=InternetDbSettings)  # type: ignore[valid-type]
    wayback: WaybackSettings = Field(default_factory=WaybackSettings)  # type: ignore[valid-type]
    nvd: NvdSettings = Field(default_factory=NvdSettings)  # type: ignore[valid-type]
    kev: KevSettings = Field(default_factory=KevSettings)  # type: ignore[valid-type]
    epss: EpssSettings = Field(default_factory=EpssSettings)  # type: ignore[valid-type]
    gravatar: GravatarSettings = Field(default_factory=GravatarSettings)  # type: ignore[valid-type]
    hibp: HibpSettings = Field(default_factory=HibpSettings)  # type: ignore[valid-type]
    greynoise: GreyNoiseSettings = Field(default_factory=GreyNoiseSettings)  # type: ignore[valid-type]
    abuseipdb: AbuseIpDbSettings = Field(default_factory=AbuseIpDbSettings)  # type: ignore[valid-type]
    dns_resolver: str | None = Field(
        default=None, description="nameserver for DNS lookups, IP or IP:port (default: the system's)"
    )
    dns_timeout_s: float = Field(default=5, gt=0)
    dns_cache_ttl_s: int = Field(default=3600, ge=0)
    default_region: str = Field(default="US", description="phone numbers without + are read in this region")
