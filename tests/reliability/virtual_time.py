"""Virtual seconds for the fetcher's waits: backoff, Retry-After pauses and breaker cool-downs pass at once."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from handlers.fetch import ratelimit


class VirtualTime:
    """A monotonic clock that moves only when something sleeps on it (or the test advances it)."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []  # the fetcher's backoff waits
        self.pauses: list[float] = []  # the rate limiter's waits (pacing and Retry-After)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        """A backoff wait: recorded, the clock moved, the loop given a turn."""
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)

    async def _pause(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)

    def patch_limiter(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Make HostLimiter's pacing waits virtual (it sleeps through the `asyncio` module it imports)."""
        monkeypatch.setattr(ratelimit, "asyncio", SimpleNamespace(sleep=self._pause, Lock=asyncio.Lock))
