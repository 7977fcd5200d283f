"""Test doubles for the HN/Mastodon/Bluesky/RSS source tests: a scripted fake API and a fast fetcher."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from handlers.fetch import PoliteFetcher

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "sources"
SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"

Responder = httpx.Response | Callable[[httpx.Request], httpx.Response]


def fixture_bytes(source: str, name: str) -> bytes:
    return (FIXTURES / source / name).read_bytes()


def fixture_json(source: str, name: str) -> Any:
    return json.loads(fixture_bytes(source, name))


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(data).encode(), headers={"content-type": "application/json",
                                                                               **(headers or {})})


class FakeApi:
    """Answers by URL path with scripted responses (the last one repeats) and records every request."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Responder]] = {}
        self.requests: list[httpx.Request] = []

    def route(self, path: str, *responses: Responder) -> None:
        self.routes[path] = list(responses)

    def calls(self, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == path]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self.routes.get(request.url.path)
        if not queue:
            return httpx.Response(404, json={"error": "not found"})
        responder = queue.pop(0) if len(queue) > 1 else queue[0]
        return responder(request) if callable(responder) else responder


class SleepRecorder:
    """Stands in for asyncio.sleep in the fetcher: records the backoff delays without waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def make_fetcher(api: FakeApi, retries: int = 2) -> tuple[PoliteFetcher, SleepRecorder]:
    """A PoliteFetcher over the fake API whose retry sleeps are recorded, not slept."""
    sleeper = SleepRecorder()
    client = httpx.AsyncClient(transport=httpx.MockTransport(api))
    return PoliteFetcher(client, retries=retries, sleep=sleeper), sleeper
