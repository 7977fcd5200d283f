"""Settings for the monitored sources: one section each, every outbound root configurable."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator


class SourceSettings(BaseModel):
    """What every source has: a switch, a poll interval and a request rate (each one's roots are its own).

    A source registers itself once: a subclass with its defaults and `implementation` (the "module:Class" of its
    `Source`), as a field of `SourcesSettings`; the registry, /sources and /status follow from that.
    """

    model_config = ConfigDict(extra="forbid")
    implementation: ClassVar[str]

    enabled: bool = True
    interval_s: float = Field(default=300, ge=5, description="poll interval for this source's jobs")
    rate_per_s: float = Field(default=1.0, gt=0, description="requests per second to this host, at most")


class HackerNewsSettings(SourceSettings):
    implementation: ClassVar[str] = "handlers.monitor.sources.hackernews:HackerNewsSource"
    base_url: str = "https://hn.algolia.com/api/v1"
    firebase_url: str = "https://hacker-news.firebaseio.com/v0"
    rate_per_s: float = 2.0


class MastodonSettings(SourceSettings):
    implementation: ClassVar[str] = "handlers.monitor.sources.mastodon:MastodonSource"
    base_url: str = "https://mastodon.social"
    instances: list[str] = Field(default_factory=lambda: ["https://mastodon.social"])
    token: SecretStr | None = Field(default=None, description="the access token of the one configured instance")
    tokens: dict[str, SecretStr] = Field(default_factory=dict,
                                         description="instance URL → its access token (several instances)")
    rate_per_s: float = 1.0  # 300 requests / 5 min per IP
    firehose: bool = Field(default=False, description="keep the first instance's public streaming timeline open "
                           "for keyword watches instead of polling (needs that instance's token)")
    firehose_sample: float = Field(
        default=0.0, ge=0.0, le=1.0,
        description="share of the streamed posts no watch matches that are stored anyway (0: only matched posts)",
    )
    streaming_url: str = Field(default="", description="the first instance's streaming API root when served "
                               "elsewhere (urls.streaming_api of its /api/v1/instance); empty: the instance itself")

    @field_validator("instances")
    @classmethod
    def _roots(cls, v: list[str]) -> list[str]:
        return [i.rstrip("/") for i in v]

    @field_validator("token")
    @classmethod
    def _one_instance(cls, v: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if v is not None and len(info.data.get("instances") or []) > 1:
            raise ValueError("a token belongs to one instance: with several instances set tokens = "
                             '{"https://instance.example" = "..."} instead')
        return v

    @field_validator("tokens")
    @classmethod
    def _known_instances(cls, v: dict[str, SecretStr], info: ValidationInfo) -> dict[str, SecretStr]:
        roots = {k.rstrip("/"): token for k, token in v.items()}
        unknown = sorted(set(roots) - set(info.data.get("instances") or []))
        if unknown:
            raise ValueError(f"{', '.join(unknown)} is not in sources.mastodon.instances (a token is only ever "
                             "sent to its own instance)")
        return roots

    def token_for(self, instance: str) -> str | None:
        """The access token of `instance` (never another instance's)."""
        token = self.tokens.get(instance.rstrip("/"))
        if token is None and self.token is not None and self.instances == [instance.rstrip("/")]:
            token = self.token
        return token.get_secret_value() if token else None


class BlueskySettings(SourceSettings):
    implementation: ClassVar[str] = "handlers.monitor.sources.bluesky:BlueskySource"
    base_url: str = "https://public.api.bsky.app"
    jetstream_url: str = "wss://jetstream2.us-east.bsky.network/subscribe"
    pds_url: str = "https://bsky.social"
    handle: str | None = None
    app_password: SecretStr | None = None
    firehose: bool = Field(default=False, description="keep a Jetstream connection open for keyword watches")
    firehose_sample: float = Field(
        default=0.0, ge=0.0, le=1.0,
        description="share of the firehose posts no watch matches that are stored anyway (0: only matched posts)",
    )


class RssSettings(SourceSettings):
    implementation: ClassVar[str] = "handlers.monitor.sources.rss:RssSource"
    feeds: list[str] = Field(default_factory=list)
    interval_s: float = 900


class TelegramChannelSettings(SourceSettings):
    implementation: ClassVar[str] = "handlers.monitor.sources.telegram_preview:TelegramPreviewSource"
    base_url: str = "https://t.me"
    channels: list[str] = Field(default_factory=list)
    rate_per_s: float = 0.5


class LemmySettings(SourceSettings):
    implementation: ClassVar[str] = "handlers.monitor.sources.lemmy:LemmySource"
    base_url: str = "https://lemmy.world"


class GitHubSettings(SourceSettings):
    implementation: ClassVar[str] = "handlers.monitor.sources.github:GitHubSource"
    base_url: str = "https://api.github.com"
    token: SecretStr | None = None
    rate_per_s: float = 0.15  # search: 10 requests/min without a token


class FourChanSettings(SourceSettings):
    implementation: ClassVar[str] = "handlers.monitor.sources.fourchan:FourChanSource"
    base_url: str = "https://a.4cdn.org"
    web_url: str = Field(default="https://boards.4chan.org", description="root of post permalinks")
    media_url: str = Field(default="https://i.4cdn.org", description="root of attached files")
    boards: list[str] = Field(default_factory=list)
    rate_per_s: float = 1.0  # the API rules: at most 1 request/s


class RedditSettings(SourceSettings):
    implementation: ClassVar[str] = "handlers.monitor.sources.reddit:RedditSource"
    base_url: str = "https://oauth.reddit.com"
    auth_url: str = "https://www.reddit.com/api/v1/access_token"
    client_id: SecretStr | None = None
    client_secret: SecretStr | None = None
    rate_per_s: float = 1.5  # 100 QPM per OAuth client


class SourcesSettings(BaseModel):
    """All monitored sources, in the order /sources lists them."""

    model_config = ConfigDict(extra="forbid")

    hackernews: HackerNewsSettings = Field(default_factory=HackerNewsSettings)
    mastodon: MastodonSettings = Field(default_factory=MastodonSettings)
    bluesky: BlueskySettings = Field(default_factory=BlueskySettings)
    rss: RssSettings = Field(default_factory=RssSettings)
    telegram: TelegramChannelSettings = Field(default_factory=TelegramChannelSettings)
    lemmy: LemmySettings = Field(default_factory=LemmySettings)
    github: GitHubSettings = Field(default_factory=GitHubSettings)
    fourchan: FourChanSettings = Field(default_factory=FourChanSettings)
    reddit: RedditSettings = Field(default_factory=RedditSettings)

    @classmethod
    def section(cls, name: str) -> type[SourceSettings]:
        """The settings model of the source section `name`."""
        annotation = cls.model_fields[name].annotation
        if not (isinstance(annotation, type) and issubclass(annotation, SourceSettings)):
            raise TypeError(f"sources.{name} is not a source section")
        return annotation
