"""The sweep: ask many sites about one username at once, and stream each site's outcome as it lands."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from config.lookups import SweepSettings
from handlers.fetch import FetchError
from handlers.fetch.polite import retry_after_seconds
from handlers.lookup.ssrf import Blocked, SsrfGuard
from handlers.lookup.sweep.site import PLACEHOLDER, NotApplicable, Observed, Probe, Site
from handlers.lookup.sweep.verdict import Status, is_fault, judge

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20


def default_guard() -> SsrfGuard:
    """The SSRF guard every probe goes through: site lists are third-party data, their URLs untrusted."""
    return SsrfGuard(max_bytes=MAX_BODY_BYTES)


@dataclass(frozen=True, slots=True)
class SiteResult:
    """One site's outcome for one username."""

    site: Site
    username: str
    url: str
    status: Status
    http_status: int | None
    elapsed_ms: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "site": self.site.name,
            "category": self.site.category,
            "url": self.url,
            "status": self.status.value,
            "http_status": self.http_status,
            "elapsed_ms": self.elapsed_ms,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Limits:
    """How hard and how long a sweep may push."""

    concurrency: int = 100
    per_host: int = 2
    site_timeout_s: float = 10.0
    deadline_s: float = 60.0

    @classmethod
    def from_settings(cls, s: SweepSettings, pool_size: int | None = None) -> Limits:
        """The configured limits; concurrency no higher than the client's connection pool.

        More requests than pooled connections queue inside httpcore, whose queue costs O(n²) CPU.
        """
        concurrency = min(s.concurrency, pool_size) if pool_size else s.concurrency
        return cls(concurrency, s.per_host, s.site_timeout_s, s.deadline_s)


class Sweeper:
    """Runs sweeps through one shared client, within a global and a per-host concurrency limit.

    Every request (each redirect hop included) goes through the SSRF guard: a site list entry that
    points at 127.0.0.1, [::1] or a private network is refused, never probed.
    """

    def __init__(self, client: httpx.AsyncClient, limits: Limits, guard: SsrfGuard | None = None) -> None:
        self.client = client
        self.limits = limits
        self.guard = guard or default_guard()

    def sweep(self, username: str, sites: Sequence[Site]) -> AsyncIterator[SiteResult]:
        """Every site's result for `username`, in the order they finish."""
        return self.sweep_pairs([(site, username) for site in sites])

    async def sweep_pairs(self, pairs: Sequence[tuple[Site, str]]) -> AsyncIterator[SiteResult]:
        """Each (site, username)'s result as it finishes; those still open at the deadline end unknown."""
        queue: asyncio.Queue[tuple[int, SiteResult]] = asyncio.Queue()
        everyone = asyncio.Semaphore(self.limits.concurrency)
        hosts: defaultdict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(self.limits.per_host))

        async def run(index: int, site: Site, username: str) -> None:
            async with hosts[site.host], everyone:
                result = await self.check(site, username)
            queue.put_nowait((index, result))

        tasks = [asyncio.create_task(run(i, site, name)) for i, (site, name) in enumerate(pairs)]
        pending = set(range(len(pairs)))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.deadline_s
        try:
            while pending:
                try:
                    async with asyncio.timeout_at(deadline):
                        index, result = await queue.get()
                except TimeoutError:
                    break
                pending.discard(index)
                yield result
        finally:
            await _cancel(tasks)
        for index in sorted(pending):
            site, username = pairs[index]
            reason = f"overall deadline of {self.limits.deadline_s:g}s reached"
            yield SiteResult(site, username, _profile_url(site, username), Status.UNKNOWN, None,
                             int(self.limits.deadline_s * 1000), reason)

    async def check(self, site: Site, username: str) -> SiteResult:
        """Ask one site about one username: one retry after a 5xx, a timeout per attempt."""
        started = time.monotonic()
        try:
            return await self._check(site, username, started)
        except Exception as exc:  # a bug must cost one site, never the sweep
            log.exception("sweep check failed", extra={"site": site.name})
            return _result(site, username, _profile_url(site, username), Status.UNKNOWN, None, started,
                           f"internal error ({type(exc).__name__})")

    async def _check(self, site: Site, username: str, started: float) -> SiteResult:
        try:
            probe = site.probe(username)
        except NotApplicable as exc:
            return _result(site, username, _profile_url(site, username), Status.UNKNOWN, None, started, str(exc))

        def done(status: Status, http_status: int | None, reason: str) -> SiteResult:
            return _result(site, username, probe.profile_url, status, http_status, started, reason)

        timeout = self.limits.site_timeout_s
        for attempt in (1, 2):
            try:
                async with asyncio.timeout(timeout):
                    seen, headers = await self._fetch(probe)
            except TimeoutError:
                return done(Status.UNKNOWN, None, f"timed out after {timeout:g}s")
            except Blocked as exc:
                return done(Status.UNKNOWN, None, f"refused by the SSRF guard: {exc.reason}")
            except FetchError as exc:
                return done(Status.UNKNOWN, None, f"connection failed ({exc.reason})")
            except httpx.HTTPError as exc:
                return done(Status.UNKNOWN, None, f"connection failed ({type(exc).__name__})")
            if attempt == 1 and seen.status >= 500 and is_fault(site, seen.status):
                wait = retry_after_seconds(httpx.Response(seen.status, headers=headers)) or 0.0
                if wait > timeout:
                    reason = f"server error (HTTP {seen.status}), asked to retry after {wait:.0f}s"
                    return done(Status.UNKNOWN, seen.status, reason)
                await asyncio.sleep(wait)
                continue
            verdict = judge(site, seen, headers)
            return done(verdict.status, seen.status, verdict.reason + (" (after one retry)" if attempt == 2 else ""))
        raise AssertionError("unreachable: the second attempt always returns")

    async def _fetch(self, probe: Probe) -> tuple[Observed, httpx.Headers]:
        """One probe through the guard (each hop checked and pinned); the body capped at MAX_BODY_BYTES."""
        response = await self.guard.fetch(self.client, probe.url, method=probe.method, headers=probe.headers,
                                          follow_redirects=probe.follow_redirects, content=probe.body)
        return Observed(response.status, response.text, response.headers.get("location")), response.headers


def _profile_url(site: Site, username: str) -> str:
    return site.profile_url.replace(PLACEHOLDER, quote(username, safe=""))


def _result(site: Site, username: str, url: str, status: Status, http_status: int | None, started: float,
            reason: str) -> SiteResult:
    return SiteResult(site, username, url, status, http_status, int((time.monotonic() - started) * 1000), reason)


async def _cancel(tasks: Iterable[asyncio.Task[None]]) -> None:
    tasks = [t for t in tasks if not t.done()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
