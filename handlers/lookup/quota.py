"""Per-user lookup rate limit: at most N lookups a minute for each user, kept in memory."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

WINDOW_S = 60.0


class UserQuota:
    """A sliding one-minute window of lookup starts per user key."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._starts: dict[str, deque[float]] = {}

    def take(self, user: str) -> float:
        """Record a lookup for `user`; 0 if allowed, else the seconds until one is allowed (not recorded)."""
        now = self._clock()
        starts = self._starts.setdefault(user, deque())
        while starts and now - starts[0] >= WINDOW_S:
            starts.popleft()
        if len(starts) >= self.per_minute:
            return WINDOW_S - (now - starts[0])
        starts.append(now)
        return 0.0
