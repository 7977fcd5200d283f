"""Rate limits checked by the router: expensive commands per user and chat, and refusals to strangers."""

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


class RefusalLimiter:
    """Lets refusals to strangers through sparingly: a flood of their messages cannot flood the bot's sends.

    Each stranger sees at most `stranger_refusals` refusals per window, and all strangers together
    `stranger_refusals_total`; the others are silenced (no reply, no audit row) and counted, and the
    next refusal that is shown carries the count into the audit log.
    """

    MAX_TRACKED = 10_000  # strangers remembered at once; expired windows are dropped beyond that

    def __init__(self, settings: RateLimitSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock
        self.silenced_total = 0
        self._users: dict[str, list[float | int]] = {}  # user → [window start, shown, silenced since last shown]
        self._all: list[float | int] = [0.0, 0]  # [window start, shown]

    def allow(self, user: str) -> int | None:
        """None: stay silent (counted). Else show the refusal; the result is how many were silenced before it."""
        now, window = self.clock(), self.settings.stranger_window_s
        if now - self._all[0] >= window:
            self._all = [now, 0]
        state = self._users.get(user)
        if state is None or now - state[0] >= window:
            state = self._users[user] = [now, 0, state[2] if state else 0]
            self._prune(now)
        per_user, total = self.settings.stranger_refusals, self.settings.stranger_refusals_total
        if (per_user and state[1] >= per_user) or (total and self._all[1] >= total):
            state[2] += 1
            self.silenced_total += 1
            return None
        state[1] += 1
        self._all[1] += 1
        silenced, state[2] = int(state[2]), 0
        return silenced

    def _prune(self, now: float) -> None:
        if len(self._users) <= self.MAX_TRACKED:
            return
        window = self.settings.stranger_window_s
        self._users = {k: v for k, v in self._users.items() if now - v[0] < window}
