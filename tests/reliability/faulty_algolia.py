"""A fake Algolia HN search on 127.0.0.1 that fails in every way a real API does, in a seeded random order.

Published hits stay searchable (as on Algolia), so a page lost to a fault is served again on a later
poll; the test then checks that every published match became exactly one alert. Each request is logged
with the virtual time it arrived and the fault it got, so backoff and Retry-After can be checked.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.reliability.virtual_time import VirtualTime

# fault → weight; "ok" and "junk" answer with the real hits, everything else fails the request
WEIGHTS: dict[str, int] = {
    "ok": 50, "junk": 6, "timeout": 4, "429": 6, "429-bare": 3, "500": 6, "503": 4,
    "garbage": 5, "truncated": 5, "wrong-shape": 4, "reset": 3,
}
SUCCESS = frozenset({"ok", "junk"})
RETRY_AFTERS = (1, 3, 10, 30, 90, 400)  # 400 s is over the fetcher's 300 s ceiling: it gives up and pauses
JUNK_HITS: list[Any] = [
    {"objectID": "junk-1", "created_at_i": 2_000_000_000},  # no author: a deleted item
    {"author": "x", "created_at_i": 2_000_000_000},  # no objectID
    {"author": "x", "objectID": "junk-3", "created_at_i": "soon"},
    {"author": "x", "objectID": "junk-4"},  # no time at all
    42, None, "hit", [],
]


@dataclass
class Served:
    """One request as the fake saw it."""

    at: float  # virtual seconds
    fault: str
    retry_after: int | None = None
    numbers: list[int] = field(default_factory=list)  # post numbers in a successful answer


class FaultyAlgolia:
    """`/search_by_date` with Algolia's paging and `created_at_i>` filter, and injected faults."""

    def __init__(self, rng: random.Random, clock: VirtualTime, *, hang_s: float) -> None:
        self.rng = rng
        self.clock = clock
        self.hang_s = hang_s
        self.hits: list[dict[str, Any]] = []  # oldest first
        self.log: list[Served] = []
        self.faults = True
        self.outage_until = 0.0
        self.before_search: Callable[[], None] | None = None  # e.g. publish more posts on each request
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FaultyAlgolia:
        app = web.Application()
        app.router.add_get("/search_by_date", self._search)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    def publish(self, number: int, text: str, created_at_i: int, author: str = "poster") -> None:
        self.hits.append({
            "objectID": str(900_000 + number), "author": author, "created_at_i": created_at_i,
            "created_at": "", "title": None, "comment_text": f"<p>{text}</p>", "story_id": 1, "parent_id": 1,
            "_tags": ["comment", f"author_{author}"], "number": number,
        })

    def outage(self, seconds: float) -> None:
        """Answer 503 to everything for `seconds` of virtual time."""
        self.outage_until = self.clock() + seconds

    def injected(self) -> list[Served]:
        return [s for s in self.log if s.fault not in SUCCESS]

    def _pick(self) -> str:
        if self.clock() < self.outage_until:
            return "outage"
        if not self.faults:
            return "ok"
        return self.rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]

    def _page(self, request: web.Request) -> tuple[list[dict[str, Any]], int]:
        since = 0
        numeric = request.query.get("numericFilters", "")
        if numeric.startswith("created_at_i>"):
            since = int(numeric.removeprefix("created_at_i>"))
        per_page = int(request.query.get("hitsPerPage", "20"))
        page = int(request.query.get("page", "0"))
        newer = [h for h in reversed(self.hits) if h["created_at_i"] > since]  # newest first
        pages = max(1, -(-len(newer) // per_page))
        return newer[page * per_page : (page + 1) * per_page], pages

    async def _search(self, request: web.Request) -> web.StreamResponse:
        if self.before_search is not None:
            self.before_search()
        fault = self._pick()
        served = Served(self.clock(), fault)
        self.log.append(served)
        if fault in SUCCESS:
            hits, pages = self._page(request)
            served.numbers = [h["number"] for h in hits]
            listed = [{k: v for k, v in h.items() if k != "number"} for h in hits]
            if fault == "junk":
                listed += self.rng.sample(JUNK_HITS, 3)
            return web.json_response({"hits": listed, "nbPages": pages, "page": int(request.query.get("page", 0))})
        if fault == "timeout":
            await asyncio.sleep(self.hang_s)  # the client has given up by now
            return web.json_response({"hits": [], "nbPages": 0})
        if fault == "429":
            served.retry_after = self.rng.choice(RETRY_AFTERS)
            return web.json_response({"message": "Too many requests"}, status=429,
                                     headers={"Retry-After": str(served.retry_after)})
        if fault == "429-bare":
            return web.json_response({"message": "Too many requests"}, status=429)
        if fault in ("500", "503", "outage"):
            return web.Response(status=503 if fault != "500" else 500, text="upstream trouble")
        if fault == "garbage":
            return web.Response(status=200, body=b"<html><body>Service Unavailable</body></html>",
                                content_type="application/json")
        if fault == "truncated":
            hits, pages = self._page(request)
            body = json.dumps({"hits": [{k: v for k, v in h.items() if k != "number"} for h in hits] or
                               [{"objectID": "1", "author": "x"}], "nbPages": pages}).encode()
            return web.Response(status=200, body=body[: len(body) // 2], content_type="application/json")
        if fault == "wrong-shape":
            shape = self.rng.choice([{"hits": {"a": 1}}, [], {"error": "no"}, {"hits": None}, "ok"])
            return web.json_response(shape)
        # reset: promise a body, send a little of it, drop the connection
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.content_length = 4096
        await response.prepare(request)
        await response.write(b'{"hits": [')
        if request.transport is not None:
            request.transport.close()
        return response
