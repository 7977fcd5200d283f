"""The effective settings: defaults < TOML file < SOCMINT_* environment variables."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from config.governance import GovernanceSettings
from config.investigate import InvestigateSettings
from config.lookups import LookupsSettings
from config.masking import SecretMasker, url_password
from config.monitor import MonitorSettings
from config.reports import ReportsSettings
from config.sources import SourcesSettings

DEFAULT_CONFIG = Path("socmint.toml")
_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
PLATFORMS = ("telegram", "discord", "console")


class TelegramSettings(BaseModel):
    """The Telegram surface (python-telegram-bot)."""

    model_config = ConfigDict(extra="forbid")

    token: SecretStr | None = None
    api_url: str = Field(default="https://api.telegram.org", description="Bot API server root")
    webhook_url: str | None = Field(default=None, description="public URL; long polling when unset")
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    webhook_secret: SecretStr | None = Field(default=None, validate_default=True,
                                             description="required with webhook_url: Telegram sends it with every "
                                                         "update and updates without it are rejected")
    poll_timeout_s: int = Field(default=30, ge=0, le=50)

    @field_validator("api_url")
    @classmethod
    def _http_root(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/")

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_needs_secret(cls, v: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if info.data.get("webhook_url") and not (v and v.get_secret_value()):
            raise ValueError("required when telegram.webhook_url is set: without it anyone who finds the URL can "
                             "post updates as any user. Generate one: python -c \"import secrets; "
                             "print(secrets.token_urlsafe(32))\"")
        if v is not None and not _WEBHOOK_SECRET.fullmatch(v.get_secret_value()):
            raise ValueError("use 1 to 256 characters A-Z, a-z, 0-9, _ and - (what Telegram accepts)")
        return v


class DiscordSettings(BaseModel):
    """The Discord surface (discord.py)."""

    model_config = ConfigDict(extra="forbid")

    token: SecretStr | None = None
    guilds: list[int] = Field(default_factory=list, description="sync slash commands here (instant)")
    prefix: str = "!"
    api_url: str | None = Field(default=None, description="REST root override (tests, proxies)")
    gateway_url: str | None = Field(default=None, description="gateway URL override (tests)")


class DatabaseSettings(BaseModel):
    """Where data lives: any SQLAlchemy URL; SQLite under the data directory when unset."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    leader_check_s: float = Field(
        default=2, gt=0, le=60,
        description="PostgreSQL: how often followers try to become the leader and the leader checks its lock",
    )
    watch_sync_s: float = Field(
        default=1, gt=0, le=60,
        description="SQLite: how often a running bot looks for watches changed by another process",
    )


class OpsSettings(BaseModel):
    """The operator endpoints /healthz and /metrics: off unless a port is set; local unless told otherwise."""

    model_config = ConfigDict(extra="forbid")

    port: int | None = Field(default=None, ge=0, le=65535, description="serve /healthz and /metrics here (0: any)")
    listen: str = Field(default="127.0.0.1", description="address to bind; 0.0.0.0 inside a container")


class HttpSettings(BaseModel):
    """The shared outbound HTTP client."""

    model_config = ConfigDict(extra="forbid")

    contact: str = Field(default="", description="operator contact put in the User-Agent")
    timeout_s: float = Field(default=20, gt=0)
    max_connections: int = Field(default=500, ge=1)


class CommandSettings(BaseModel):
    """Command execution limits."""

    model_config = ConfigDict(extra="forbid")

    timeout_s: float = Field(default=120, gt=0)
    max_input_chars: int = Field(default=4096, ge=64)


class Settings(BaseSettings):
    """Everything configurable. Nested env vars use `__`: SOCMINT_TELEGRAM__TOKEN."""

    model_config = SettingsConfigDict(
        env_prefix="SOCMINT_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    data_dir: Path = Path("data")
    admins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    log_level: str = "INFO"
    log_format: str = Field(default="text", pattern="^(text|json)$")
    timezone: str = "UTC"
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    ops: OpsSettings = Field(default_factory=OpsSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    commands: CommandSettings = Field(default_factory=CommandSettings)
    sources: SourcesSettings = Field(default_factory=SourcesSettings)
    lookups: LookupsSettings = Field(default_factory=LookupsSettings)
    monitor: MonitorSettings = Field(default_factory=MonitorSettings)
    governance: GovernanceSettings = Field(default_factory=GovernanceSettings)
    investigate: InvestigateSettings = Field(default_factory=InvestigateSettings)
    reports: ReportsSettings = Field(default_factory=ReportsSettings)

    @field_validator("admins", mode="before")
    @classmethod
    def _split_admins(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [p.strip() for p in v.split(",") if p.strip()]
        return v

    @field_validator("admins")
    @classmethod
    def _check_admins(cls, v: list[str]) -> list[str]:
        for entry in v:
            platform, _, uid = entry.partition(":")
            if platform not in PLATFORMS or not uid.lstrip("-").isdigit():
                raise ValueError(f"{entry!r} is not platform:numeric_id (e.g. telegram:123456)")
        return v

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        v = v.upper()
        if v not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("use DEBUG, INFO, WARNING or ERROR")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(v)
        except Exception:
            raise ValueError(f"unknown time zone {v!r} (e.g. Europe/Berlin)") from None
        return v

    @model_validator(mode="after")
    def _default_db(self) -> Settings:
        if not self.database.url:
            self.database.url = f"sqlite:///{(self.data_dir / 'socmint.db').resolve()}"
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=config_path()))

    def secrets(self) -> list[str]:
        """Every configured secret value (tokens, keys, passwords inside URLs such as the database's)."""
        found: list[str] = []

        def walk(obj: Any) -> None:
            if isinstance(obj, SecretStr):
                value = obj.get_secret_value()
                if value:
                    found.append(value)
            elif isinstance(obj, str) and "@" in obj and "://" in obj:
                password = url_password(obj)
                if password:
                    found.append(password)
            elif isinstance(obj, BaseModel):
                for name in type(obj).model_fields:
                    walk(getattr(obj, name))
            elif isinstance(obj, dict):
                for value in obj.values():
                    walk(value)
            elif isinstance(obj, list | tuple):
                for value in obj:
                    walk(value)

        walk(self)
        return found

    def masker(self) -> SecretMasker:
        """A masker for every secret of these settings."""
        return SecretMasker(self.secrets())


class ConfigError(Exception):
    """Invalid configuration: the message names the key and what is wrong."""


def config_path() -> Path:
    """The config file: $SOCMINT_CONFIG, else ./socmint.toml."""
    return Path(os.environ.get("SOCMINT_CONFIG") or DEFAULT_CONFIG)


def load_settings(**overrides: Any) -> Settings:
    """Load and validate; raises ConfigError with one clear message per problem."""
    path = config_path()
    if "SOCMINT_CONFIG" in os.environ and not path.exists():
        raise ConfigError(f"SOCMINT_CONFIG: file {path} does not exist (run `socmint init {path}`)")
    if path.exists():
        try:
            tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from None


def _describe(exc: ValidationError, path: Path) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"] if p != "__root__") or "(settings)"
        env = "SOCMINT_" + "__".join(str(p).upper() for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown setting (check the spelling; `socmint init` writes every key)"
        lines.append(f"invalid setting {key} (in {path} or {env}): {msg}")
    return "\n".join(lines)
