"""Jetstream firehose: a fake websocket server drops mid-stream, streams junk and replays at a high rate."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing, asynccontextmanager
from urllib.parse import parse_qs, urlsplit

import pytest
from websockets.asyncio.server import ServerConnection, serve

from handlers.fetch import CircuitBreaker
from handlers.monitor.matcher import Matcher
from handlers.monitor.query import parse_query
from handlers.monitor.sources.bluesky import firehose_posts
from handlers.monitor.sources.jetstream import REWIND_US, Jetstream
from tests.fakes_sources_a import fixture_bytes

LINES = fixture_bytes("bluesky", "jetstream_events.jsonl").decode().splitlines()


@asynccontextmanager
async def fake_jetstream(handler: Callable[[ServerConnection], Awaitable[None]]) -> AsyncIterator[str]:
    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/subscribe"


def client(url: str, breaker: CircuitBreaker, delays: list[float]) -> Jetstream:
    async def record(seconds: float) -> None:
        delays.append(seconds)

    return Jetstream(url, breaker=breaker, sleep=record)


def make_event(i: int, text: str) -> str:
    return json.dumps({"did": f"did:plc:u{i % 97}", "time_us": 1_793_361_600_000_000 + i, "kind": "commit",
                       "commit": {"operation": "create", "collection": "app.bsky.feed.post", "rkey": f"r{i}",
                                  "record": {"$type": "app.bsky.feed.post", "text": text,
                                             "createdAt": "2026-10-30T12:00:00Z"}}})


async def test_subscribe_url_filters_posts_and_rewinds_cursor() -> None:
    jet = Jetstream("wss://js.test/subscribe", breaker=CircuitBreaker("t"))
    assert jet.subscribe_url(None) == "wss://js.test/subscribe?wantedCollections=app.bsky.feed.post"
    assert jet.subscribe_url(10_000_000).endswith(f"&cursor={10_000_000 - REWIND_US}")


async def test_drop_mid_stream_resumes_from_last_time_us_without_duplicates() -> None:
    paths: list[str] = []

    async def handler(ws: ServerConnection) -> None:
        paths.append(ws.request.path if ws.request else "")
        if len(paths) == 1:
            for line in LINES[:5]:
                await ws.send(line)
            ws.transport.abort()  # the connection dies without a close frame
            return
        for line in LINES:  # the resumed stream replays from the rewound cursor
            await ws.send(line)
        await ws.wait_closed()

    breaker = CircuitBreaker("bluesky.jetstream")
    delays: list[float] = []
    async with fake_jetstream(handler) as url:
        jet = client(url, breaker, delays)
        got: list[tuple[str, str]] = []
        async with asyncio.timeout(5):
            async with aclosing(firehose_posts(jet, None)) as stream:
                async for post, cursor in stream:
                    got.append((post.text, cursor))
                    if len(got) == 4:
                        break
    texts = [t for t, _ in got]
    assert texts == ["Data leak at ACME confirmed", "#утечка данных 😂", "www.youtube.com/watch?v=V5lD...",
                     "no createdAt here, leak"]  # deletes, identity, account, likes, junk skipped; no repeats
    assert got[-1][1] == "1793361600000009"
    resumed = parse_qs(urlsplit(paths[1]).query)
    assert resumed["cursor"] == [str(1793361600000005 - REWIND_US)]
    assert resumed["wantedCollections"] == ["app.bsky.feed.post"]
    assert jet.stats.malformed >= 1 and jet.stats.duplicates == 2 and jet.stats.drops == 1
    assert len(delays) == 1 and breaker.failures == 0  # frames flowed again: healthy


async def test_refused_connections_back_off_and_open_the_breaker() -> None:
    jet = Jetstream("ws://127.0.0.1:9/subscribe", breaker=CircuitBreaker("bluesky.jetstream", threshold=3),
                    open_timeout_s=1)
    delays: list[float] = []

    async def record(seconds: float) -> None:
        delays.append(seconds)
        if len(delays) == 4:
            raise asyncio.CancelledError

    jet._sleep = record
    with pytest.raises(asyncio.CancelledError):
        async for _ in jet.events(None):
            pass
    assert jet.breaker.state.value == "open" and jet.breaker.last_error
    assert delays[3] > delays[0]  # exponential (with jitter ≥ half)


async def test_replay_at_high_rate_into_the_matcher() -> None:
    total = 3000
    texts = ["ransomware hits city hall" if i % 10 == 0 else f"lunch photo {i}" for i in range(total)]

    async def handler(ws: ServerConnection) -> None:
        for i, text in enumerate(texts):
            await ws.send(make_event(i, text))
            if i == 1500:
                await ws.send("{truncated")
        await ws.wait_closed()

    matcher = Matcher()
    matcher.add(1, parse_query("ransomware"))
    matched = 0
    seen = 0
    async with fake_jetstream(handler) as url:
        jet = client(url, CircuitBreaker("bluesky.jetstream"), [])
        async with asyncio.timeout(20):
            async with aclosing(firehose_posts(jet, None)) as stream:
                async for post, _cursor in stream:
                    seen += 1
                    matched += bool(matcher.match(post))
                    if seen == total:
                        break
    assert matched == total // 10
    assert jet.stats.malformed == 1
