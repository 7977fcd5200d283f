"""A Jetstream (Bluesky firehose) websocket client that survives drops and resumes where it left off."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import websockets
from websockets.asyncio.client import connect as ws_connect

from handlers.fetch import CircuitBreaker

log = logging.getLogger(__name__)

REWIND_US = 5_000_000  # resume a few seconds before the last event seen: instances differ slightly
RECENT_KEYS = 20_000  # commits remembered to drop the replays caused by the rewind


@dataclass
class JetstreamStats:
    """Counters for /status and the benchmark."""

    frames: int = 0
    events: int = 0
    malformed: int = 0
    skipped: int = 0
    duplicates: int = 0
    connects: int = 0
    drops: int = 0
    last_time_us: int | None = None
    last_error: str | None = None
    backoffs: list[float] = field(default_factory=list)


class Jetstream:
    """Yields commit-create events of the wanted collections; reconnects with backoff and resumes by `time_us`.

    Deletes, updates, identity and account events are skipped; frames that are not valid JSON are
    logged and skipped. Failures and recoveries are reported to `breaker` (shown in /status).
    """

    def __init__(
        self,
        url: str,
        *,
        breaker: CircuitBreaker,
        collections: Sequence[str] = ("app.bsky.feed.post",),
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 60.0,
        sleep: Callable[[float], Any] = asyncio.sleep,
        open_timeout_s: float = 15.0,
    ) -> None:
        self.url = url
        self.breaker = breaker
        self.collections = tuple(collections)
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self._sleep = sleep
        self.open_timeout_s = open_timeout_s
        self.stats = JetstreamStats()
        self._recent: deque[tuple[str, str]] = deque(maxlen=RECENT_KEYS)
        self._recent_set: set[tuple[str, str]] = set()

    def subscribe_url(self, cursor: int | None) -> str:
        """The subscribe URL with collection filters and, when resuming, a rewound cursor."""
        params: list[tuple[str, str]] = [("wantedCollections", c) for c in self.collections]
        if cursor is not None:
            params.append(("cursor", str(max(0, cursor - REWIND_US))))
        sep = "&" if "?" in self.url else "?"
        return f"{self.url}{sep}{urlencode(params)}"

    def _backoff(self, attempt: int) -> float:
        return min(self.backoff_max_s, self.backoff_base_s * 2**attempt) * (0.5 + random.random() / 2)

    def _seen(self, key: tuple[str, str]) -> bool:
        if key in self._recent_set:
            return True
        if len(self._recent) == self._recent.maxlen:
            self._recent_set.discard(self._recent[0])
        self._recent.append(key)
        self._recent_set.add(key)
        return False

    def accept(self, frame: str | bytes) -> dict[str, Any] | None:
        """The event in a frame if it is a new create in a wanted collection; None otherwise."""
        self.stats.frames += 1
        try:
            event = json.loads(frame)
            if not isinstance(event, dict):
                raise ValueError("frame is not a JSON object")
            time_us = int(event["time_us"])
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            self.stats.malformed += 1
            log.warning("malformed frame skipped", extra={"source": "bluesky.jetstream", "error": str(exc)[:200]})
            return None
        self.stats.last_time_us = max(time_us, self.stats.last_time_us or 0)
        commit = event.get("commit")
        if (event.get("kind") != "commit" or not isinstance(commit, dict) or commit.get("operation") != "create"
                or commit.get("collection") not in self.collections):
            self.stats.skipped += 1
            return None
        if self._seen((str(event.get("did")), str(commit.get("rkey")))):
            self.stats.duplicates += 1
            return None
        self.stats.events += 1
        return event

    async def events(self, cursor: int | None = None) -> AsyncIterator[dict[str, Any]]:
        """Create events forever (until cancelled), resuming after drops from the last `time_us` seen."""
        attempt = 1  # the first frame of a connection marks the source healthy
        resume = cursor
        while True:
            url = self.subscribe_url(resume)
            try:
                async with ws_connect(url, open_timeout=self.open_timeout_s, max_size=2**21,
                                      compression=None) as ws:
                    self.stats.connects += 1
                    async for frame in ws:
                        if attempt:  # frames flow again: healthy, and the next drop backs off from scratch
                            attempt = 0
                            self.breaker.success()
                        event = self.accept(frame)
                        if event is not None:
                            yield event
                    reason = "server closed the stream"
            except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as exc:
                reason = f"{type(exc).__name__}: {exc}"[:200]
            self.stats.drops += 1
            self.stats.last_error = reason
            self.breaker.failure(reason)
            resume = self.stats.last_time_us or resume
            delay = self._backoff(attempt - 1)
            self.stats.backoffs.append(delay)
            attempt += 1
            log.info("jetstream reconnecting", extra={"source": "bluesky.jetstream", "reason": reason,
                                                      "delay_s": round(delay, 2), "cursor": resume})
            await self._sleep(delay)
