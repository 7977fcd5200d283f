"""A circuit breaker per source: stop hammering a source that keeps failing, probe it later."""

from __future__ import annotations

import time
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class BreakerOpen(Exception):
    """The breaker is open: the call was not attempted."""

    def __init__(self, name: str, retry_in: float) -> None:
        super().__init__(f"{name}: paused after repeated failures, retrying in {retry_in:.0f}s")
        self.retry_in = retry_in


class CircuitBreaker:
    """Opens after `threshold` consecutive failures; half-opens after `cooldown_s` to try once."""

    def __init__(self, name: str, *, threshold: int = 5, cooldown_s: float = 60, clock=time.monotonic) -> None:
        self.name = name
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self.last_error: str | None = None
        self.last_success: float | None = None

    @property
    def state(self) -> BreakerState:
        if self.opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self.opened_at >= self.cooldown_s:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def describe(self) -> str:
        """The state in words, for /sources and /status."""
        state = self.state
        if state is BreakerState.CLOSED:
            return "ok" if self.failures == 0 else f"ok ({self.failures} recent failure(s): {self.last_error})"
        if state is BreakerState.OPEN:
            return f"paused after {self.failures} failures ({self.last_error})"
        return f"retrying after failures ({self.last_error})"

    def check(self) -> None:
        """Raise BreakerOpen unless a call may go ahead."""
        if self.state is BreakerState.OPEN:
            assert self.opened_at is not None
            raise BreakerOpen(self.name, self.cooldown_s - (self._clock() - self.opened_at))

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self.last_success = self._clock()

    def failure(self, error: str) -> None:
        self.failures += 1
        self.last_error = error
        if self.failures >= self.threshold or self.state is BreakerState.HALF_OPEN:
            self.opened_at = self._clock()
