"""Polite requests: rate-limited per key, retried with backoff and jitter, Retry-After honoured."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx

from handlers.fetch.breaker import CircuitBreaker
from handlers.fetch.ratelimit import HostLimiter

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class FetchError(Exception):
    """A request that failed for good (after retries), with a short reason for the user."""

    def __init__(self, key: str, reason: str, status: int | None = None) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason
        self.status = status


def retry_after_seconds(response: httpx.Response, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta or HTTP date), or None."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (now if now is not None else datetime.now(UTC).timestamp()))


class PoliteFetcher:
    """Sends requests through the shared client with per-key pacing, retries and breakers.

    `key` names the budget a request counts against: a source name, or the host by default.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        retries: int = 3,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 60.0,
        max_retry_after_s: float = 300.0,
        sleep=asyncio.sleep,
    ) -> None:
        self.client = client
        self.limiter = HostLimiter()
        self.breakers: dict[str, CircuitBreaker] = {}
        self.retries = retries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.max_retry_after_s = max_retry_after_s
        self._sleep = sleep
        self.stats: dict[str, int] = {"requests": 0, "retries": 0, "failures": 0}

    def breaker(self, key: str) -> CircuitBreaker:
        if key not in self.breakers:
            self.breakers[key] = CircuitBreaker(key)
        return self.breakers[key]

    def configure(self, key: str, rate_per_s: float) -> None:
        self.limiter.set_rate(key, rate_per_s)

    def _backoff(self, attempt: int) -> float:
        return min(self.backoff_max_s, self.backoff_base_s * 2**attempt) * (0.5 + random.random() / 2)

    async def request(
        self,
        method: str,
        url: str,
        *,
        key: str | None = None,
        rate_per_s: float | None = None,
        ok_statuses: Iterable[int] = (),
        retries: int | None = None,
        **kwargs: object,
    ) -> httpx.Response:
        """Send with pacing and retries; returns 2xx/3xx/4xx responses, raises FetchError otherwise.

        Statuses in `ok_statuses` (e.g. 304, 404) are returned without counting as failures.
        429 and 5xx are retried; the breaker opens after repeated failures.
        """
        key = key or urlsplit(url).netloc
        breaker = self.breaker(key)
        breaker.check()
        ok = set(ok_statuses)
        attempts = self.retries if retries is None else retries
        last_reason = "no response"
        for attempt in range(attempts + 1):
            await self.limiter.acquire(key, rate_per_s)
            self.stats["requests"] += 1
            started = time.monotonic()
            try:
                response = await self.client.request(method, url, **kwargs)  # type: ignore[arg-type]
            except (UnicodeError, httpx.InvalidURL, httpx.LocalProtocolError) as exc:
                # the request itself cannot be sent (e.g. a header built from a damaged answer): no retry helps
                raise FetchError(key, f"invalid request ({type(exc).__name__})") from None
            except httpx.TimeoutException:
                last_reason = "timed out"
            except httpx.TransportError as exc:
                last_reason = f"connection failed ({type(exc).__name__})"
            else:
                if response.status_code in ok or response.status_code not in RETRY_STATUSES:
                    if response.status_code < 500:
                        breaker.success()
                    return response
                last_reason = f"HTTP {response.status_code}"
                wait = retry_after_seconds(response)
                if wait is not None:
                    if wait > self.max_retry_after_s:
                        self.limiter.pause(key, wait)
                        breaker.failure(last_reason)
                        raise FetchError(key, f"rate limited for {wait:.0f}s", response.status_code)
                    self.limiter.pause(key, wait)
                elif response.status_code == 429:
                    self.limiter.pause(key, self._backoff(attempt))
            log.info(
                "fetch retry",
                extra={"key": key, "reason": last_reason, "attempt": attempt + 1,
                       "elapsed_ms": int((time.monotonic() - started) * 1000)},
            )
            if attempt < attempts:
                self.stats["retries"] += 1
                await self._sleep(self._backoff(attempt))
        self.stats["failures"] += 1
        breaker.failure(last_reason)
        raise FetchError(key, last_reason)

    async def get(self, url: str, **kwargs: object) -> httpx.Response:
        return await self.request("GET", url, **kwargs)  # type: ignore[arg-type]

    async def post(self, url: str, **kwargs: object) -> httpx.Response:
        return await self.request("POST", url, **kwargs)  # type: ignore[arg-type]
