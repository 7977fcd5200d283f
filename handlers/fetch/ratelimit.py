"""Per-host request pacing: at most `rate` requests a second, and pauses from Retry-After."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


@dataclass
class _Slot:
    rate: float
    next_at: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class HostLimiter:
    """Spaces requests per key (a host or a source) and honours server-imposed pauses."""

    def __init__(self, clock: callable = time.monotonic) -> None:  # type: ignore[valid-type]
        self._slots: dict[str, _Slot] = {}
        self._clock = clock

    def set_rate(self, key: str, rate_per_s: float) -> None:
        slot = self._slots.get(key)
        if slot is None:
            self._slots[key] = _Slot(rate_per_s)
        else:
            slot.rate = rate_per_s

    async def acquire(self, key: str, rate_per_s: float | None = None) -> None:
        """Wait until a request to `key` is allowed, then reserve the slot."""
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = _Slot(rate_per_s or 1.0)
        async with slot.lock:
            wait = slot.next_at - self._clock()
            if wait > 0:
                await asyncio.sleep(wait)
            slot.next_at = max(slot.next_at, self._clock()) + 1.0 / slot.rate

    def pause(self, key: str, seconds: float) -> None:
        """Hold every request to `key` for `seconds` (a 429's Retry-After)."""
        slot = self._slots.setdefault(key, _Slot(1.0))
        slot.next_at = max(slot.next_at, self._clock() + seconds)

    def paused_for(self, key: str) -> float:
        slot = self._slots.get(key)
        return max(0.0, slot.next_at - self._clock()) if slot else 0.0
