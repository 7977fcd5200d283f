"""Rate limits on expensive commands: a sliding window per user and per chat, checked by the router."""

from __future__ import annotations

import collections
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from config.governance import RateLimitSettings


@dataclass(frozen=True)
class Refusal:
    """Why a command may not run now, and how many whole seconds until it may."""

    scope: str  # "user" or "chat"
    limit: int
    window_s: float
    retry_after_s: int


class CommandRateLimiter:
    """Counts expensive command runs per user and per chat over a sliding window (in memory)."""

    def __init__(self, settings: RateLimitSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock
        self._runs: dict[str, collections.deque[float]] = {}

    def _wait(self, key: str, limit: int, now: float) -> float:
        """Seconds until `key` may run again (0 when it may run now); forgets runs outside the window."""
        runs = self._runs.get(key)
        if runs is None:
            return 0.0
        while runs and runs[0] <= now - self.settings.window_s:
            runs.popleft()
        if not runs:
            del self._runs[key]
            return 0.0
        if len(runs) < limit:
            return 0.0
        return runs[len(runs) - limit] + self.settings.window_s - now

    def acquire(self, user: str, chat: str) -> Refusal | None:
        """Count a run for `user` in `chat`, or say why it must wait (nothing is counted then)."""
        now = self.clock()
        checks = [("user", f"user:{user}", self.settings.per_user), ("chat", f"chat:{chat}", self.settings.per_chat)]
        for scope, key, limit in checks:
            if limit <= 0:
                continue
            wait = self._wait(key, limit, now)
            if wait > 0:
                return Refusal(scope, limit, self.settings.window_s, max(1, math.ceil(wait)))
        for _, key, limit in checks:
            if limit > 0:
                self._runs.setdefault(key, collections.deque()).append(now)
        return None
