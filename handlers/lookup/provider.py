"""What every lookup provider shares: settings, the polite fetcher, the cache, and per-provider failures."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot.services import Services, StatusSection
from config.lookups import PROVIDERS, KeyNeed, LookupsSettings, Provider, ProviderSettings
from handlers.fetch import BreakerOpen, FetchError
from handlers.lookup.cache import LookupCacheStore

log = logging.getLogger(__name__)


class ProviderError(Exception):
    """A provider answered, but not usefully: the message is shown as "<provider>: <message>"."""


class ProviderDisabled(ProviderError):
    """The operator turned the provider off: nothing is sent to it, nothing of it is read from the cache."""

    def __init__(self, name: str) -> None:
        super().__init__(f"turned off (lookups.{name}.enabled = false)")


class NeedsKey(Exception):
    """The provider needs an API key that is not configured."""

    def __init__(self, setting: str) -> None:
        super().__init__(f"needs a key (set lookups.{setting}.key)")
        self.setting = setting


@dataclass
class Outcome:
    """One provider's part of a lookup: its value, or why there is none."""

    provider: str
    value: Any = None
    error: str | None = None
    needs_key: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


class LookupEnv:
    """A lookup's view of the services: provider settings, HTTP through the fetcher, the cache."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings: LookupsSettings = services.settings.lookups
        self.fetcher = services.fetcher
        self.cache = LookupCacheStore(services.db, services.now)

    def provider(self, name: str) -> ProviderSettings:
        return getattr(self.settings, name)

    def _require_enabled(self, name: str) -> None:
        section = getattr(self.settings, name, None)  # "dns" is no provider section: never turned off
        if isinstance(section, ProviderSettings) and not section.enabled:
            raise ProviderDisabled(name)

    def key(self, name: str) -> str:
        """The provider's API key, or raise NeedsKey."""
        secret = self.provider(name).key
        if secret is None or not secret.get_secret_value():
            raise NeedsKey(name)
        return secret.get_secret_value()

    def has_key(self, name: str) -> bool:
        secret = self.provider(name).key
        return bool(secret and secret.get_secret_value())

    def url(self, name: str, path: str = "") -> str:
        """The provider's base URL joined with `path`."""
        return self.provider(name).base_url.rstrip("/") + path

    async def get(
        self,
        name: str,
        url: str,
        *,
        ok_statuses: tuple[int, ...] = (),
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        follow_redirects: bool = False,
    ) -> httpx.Response:
        """GET through the fetcher, paced by the provider's rate; non-2xx outside ok_statuses fail."""
        self._require_enabled(name)
        settings = self.provider(name)
        self.fetcher.configure(name, settings.rate_per_s)
        response = await self.fetcher.get(
            url,
            key=name,
            ok_statuses=ok_statuses,
            retries=1,
            params=params,
            headers=dict(headers or {}),
            timeout=settings.timeout_s,
            follow_redirects=follow_redirects,
        )
        if response.status_code in ok_statuses or response.is_success:
            return response
        raise ProviderError(f"HTTP {response.status_code}")

    async def get_json(self, name: str, url: str, **kwargs: Any) -> Any:
        """GET and decode JSON; a non-JSON body is a ProviderError."""
        response = await self.get(name, url, **kwargs)
        try:
            return response.json()
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deep to parse
            raise ProviderError("answered with something that is not JSON") from None

    async def cached(self, name: str, key: str, produce: Callable[[], Awaitable[Any]], ttl_s: int | None = None) -> Any:
        """`produce()`'s value for (provider, key), from the cache while fresh."""
        self._require_enabled(name)
        ttl = self.provider(name).cache_ttl_s if ttl_s is None else ttl_s
        return await self.cache.get_or_fetch(name, key.lower(), ttl, produce)


def describe_failure(exc: BaseException) -> str:
    """A short reason for the user, never a traceback."""
    if isinstance(exc, FetchError):
        return exc.reason
    if isinstance(exc, (ProviderError, NeedsKey, BreakerOpen)):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return "timed out"
    log.warning("lookup provider failed", exc_info=exc)
    return f"failed unexpectedly ({type(exc).__name__})"


async def run_providers(jobs: Mapping[str, Awaitable[Any]]) -> dict[str, Outcome]:
    """Run every provider at once; each one's failure is recorded without stopping the others."""
    names = list(jobs)
    results = await asyncio.gather(*jobs.values(), return_exceptions=True)
    outcomes: dict[str, Outcome] = {}
    for name, result in zip(names, results, strict=True):
        if isinstance(result, asyncio.CancelledError):
            raise result
        if isinstance(result, BaseException):
            outcomes[name] = Outcome(name, error=describe_failure(result), needs_key=isinstance(result, NeedsKey))
        else:
            outcomes[name] = Outcome(name, value=result)
    return outcomes


def _key_state(provider: Provider, settings: ProviderSettings) -> str:
    if settings.key is not None and settings.key.get_secret_value():
        return "key set"
    return {KeyNeed.NONE: "no key needed", KeyNeed.OPTIONAL: "no key (optional)",
            KeyNeed.REQUIRED: "needs a key"}[provider.key]


async def providers_status(services: Services) -> StatusSection:
    """The /status section (admins): every lookup provider, what it answers, its key, host and health."""
    rows = []
    for provider in PROVIDERS:
        settings: ProviderSettings = getattr(services.settings.lookups, provider.name)
        breaker = services.fetcher.breakers.get(provider.name)
        health = breaker.describe() if breaker is not None else "not asked yet"
        host = services.masked(urlsplit(settings.base_url).hostname or settings.base_url)
        rows.append((provider.title, f"{', '.join(provider.answers)}; {_key_state(provider, settings)}; "
                                     f"{host}; {health}"))
    return ("Lookup providers", rows)
