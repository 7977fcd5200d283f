"""Firehose benchmark: a fake Jetstream in another process replays posts into the shipped consumer and engine.

    python -m bench.jetstream                      # Bluesky scale, then X scale (see below), 10,000 watches
    python -m bench.jetstream --rate 2000 --seconds 20

Path measured, all shipped code: websocket frame → Jetstream client → event → Post (bluesky.py) →
`StreamConsumer` (stream.py: batches by age or size, one in-order writer) → `Monitor.ingest(only_matching)`
(match, store matched posts, match rows, outbox rows, cursor; one transaction per batch). About 5 % of posts
match a watch. The server runs in its own process (the other core) and stamps each post's `createdAt` with
its send time, so post → stored latency = commit time − send time.

Runs: the whole Bluesky firehose as it is (a few hundred posts/s, --rate 500 for 20 s), then an X-scale
replay: 60,000 posts/s offered for 60 s. Where the consumer falls short, the achieved rate (over the window
plus 10 s) is its ceiling;
the limiting stage is named from a parse-only run (the same client and parsing, no engine) and the CPU per
post of each stage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import statistics
import tempfile
import time
from collections.abc import Sequence
from contextlib import aclosing, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from handlers import basics, watch
from handlers.monitor.pipeline import CursorUpdate, IngestResult
from handlers.monitor.post import Post
from handlers.monitor.slot import MONITOR
from handlers.monitor.sources.bluesky import BlueskySource
from handlers.monitor.stream import StreamConsumer
from storage.models import Watch
from tests.harness import BotHarness

WORDS = ["the", "a", "today", "new", "photo", "lunch", "game", "vote", "city", "music", "news", "love", "art",
         "weekend", "coffee", "train", "rain", "book", "film", "release", "update", "data", "team", "launch",
         "just", "really", "think", "people", "good", "time", "going", "back", "first", "need", "want", "still"]
T0 = datetime(2026, 11, 1, tzinfo=UTC)
TEXTS = 5000  # distinct post texts the server cycles through
GRACE_S = 10.0  # after the offered window, how long a consumer may take to catch up before it is cut off


def texts(terms: list[str]) -> list[str]:
    rng = random.Random(11)
    out = []
    for _ in range(TEXTS):
        words = [rng.choice(WORDS) for _ in range(rng.randint(6, 30))]
        if rng.random() < 0.05:
            words.insert(rng.randrange(len(words)), rng.choice(terms))
        out.append(json.dumps(" ".join(words)))
    return out


def serve(rate: int, seconds: float, n_terms: int, port_out: Any) -> None:
    """The fake Jetstream (runs in its own process): `rate` posts a second in 5 ms ticks, then an END post."""
    from websockets.asyncio.server import ServerConnection
    from websockets.asyncio.server import serve as ws_serve

    bodies = texts([f"leakword{k}" for k in range(n_terms)])

    async def handler(ws: ServerConnection) -> None:
        total, sent, start = int(rate * seconds), 0, time.perf_counter()
        while sent < total:
            now_us = time.time_ns() // 1000
            stamp = datetime.fromtimestamp(now_us / 1e6, UTC).isoformat()
            due = min(total, int((time.perf_counter() - start) * rate) + 1)
            frames = []
            while sent < due:
                frames.append(
                    f'{{"did":"did:plc:b{sent % 5000}","time_us":{now_us},"kind":"commit","commit":{{"rev":"r{sent}",'
                    f'"operation":"create","collection":"app.bsky.feed.post","rkey":"k{sent}","cid":"c{sent}",'
                    f'"record":{{"$type":"app.bsky.feed.post","createdAt":"{stamp}","langs":["en"],'
                    f'"text":{bodies[sent % TEXTS][:-1]} {sent}"}}}}}}')  # distinct texts: no post is a duplicate
                sent += 1
            for frame in frames:
                await ws.send(frame)
            await asyncio.sleep(0.005)
        end = {"did": "did:plc:end", "time_us": time.time_ns() // 1000, "kind": "commit", "commit": {
            "operation": "create", "collection": "app.bsky.feed.post", "rkey": "END",
            "record": {"$type": "app.bsky.feed.post", "text": "END", "createdAt": T0.isoformat()}}}
        await ws.send(json.dumps(end))
        await ws.wait_closed()

    async def main() -> None:
        async with ws_serve(handler, "127.0.0.1", 0, compression=None, max_queue=None) as server:
            port_out.put(server.sockets[0].getsockname()[1])
            await asyncio.Event().wait()

    asyncio.run(main())


class Ended(Exception):
    """The server's END post was read."""


class Measured:
    """The engine as the consumer sees it, timing each batch from each post's send time to its commit."""

    def __init__(self, monitor: Any) -> None:
        self.monitor = monitor
        self.latencies: list[float] = []
        self.per_second: dict[int, int] = {}
        self.ingest_cpu = 0.0
        self.stored = 0
        self.started = time.perf_counter()

    async def ingest(self, posts: Sequence[Post], *, cursor: CursorUpdate | None = None, **kw: Any) -> IngestResult:
        real = [p for p in posts if p.text != "END"]
        began = time.thread_time()
        result = await self.monitor.ingest(real, cursor=cursor, **kw)
        self.ingest_cpu += time.thread_time() - began  # the loop's share; the database thread's is added below
        done = datetime.now(UTC)
        self.latencies.extend((done - p.created_at).total_seconds() * 1000 for p in real)
        second = int(time.perf_counter() - self.started)
        self.per_second[second] = self.per_second.get(second, 0) + len(real)
        self.stored += result.stored
        if len(real) < len(posts):
            raise Ended
        return result


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def parse_only(source: BlueskySource, window: float) -> tuple[int, float, float]:
    """Posts read and parsed by the same client, no engine: (posts, wall s, CPU s)."""
    count, wall, cpu = 0, time.perf_counter(), time.process_time()
    deadline = wall + window
    async with aclosing(source.stream(None)) as stream:
        async for post, _ in stream:
            if post.text == "END" or time.perf_counter() > deadline:
                break
            count += 1
    return count, time.perf_counter() - wall, time.process_time() - cpu


async def run(rate: int, seconds: float, n_watches: int) -> None:
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        servers = []
        ports = []
        for _ in range(2):  # one server per run: parse-only, then the engine
            queue = ctx.Queue()
            proc = ctx.Process(target=serve, args=(rate, seconds, n_watches, queue), daemon=True)
            proc.start()
            servers.append(proc)
            ports.append(queue.get(timeout=60))
        try:
            await measure(Path(tmp), rate, seconds, n_watches, ports)
        finally:
            for proc in servers:
                proc.terminate()


async def measure(tmp: Path, rate: int, seconds: float, n_watches: int, ports: list[int]) -> None:
    bot = BotHarness(tmp, sets=[basics.commands, watch.commands], clock=lambda: datetime.now(UTC),
                     sources={"bluesky": {"jetstream_url": f"ws://127.0.0.1:{ports[0]}/subscribe"}})
    await bot.start()
    try:
        row = Watch(chat_platform="telegram", chat_id=-1, query="x", sources=["bluesky"], created_by="bench",
                    created_at=T0).model_dump()
        rows = [{**row, "id": k + 1, "query": f"leakword{k}", "chat_id": -(k % 20) - 1} for k in range(n_watches)]
        await bot.services.db.run(lambda s: s.execute(insert(Watch), rows))
        monitor = bot.services.shared.get(MONITOR)
        await monitor.start(background=False)
        from handlers.monitor.sources.registry import available_sources

        source = available_sources(bot.services)["bluesky"]
        assert isinstance(source, BlueskySource)
        print(f"\nJetstream replay: {rate:,} posts/s offered for {seconds:.0f} s, {n_watches:,} watches, "
              f"~5 % matching")
        n, wall, cpu = await parse_only(source, seconds + GRACE_S)
        print(f"  parse only (client + Post, no engine): {n:,} posts, {n / wall:,.0f} posts/s, "
              f"{cpu / max(n, 1) * 1e6:.0f} µs CPU/post (ceiling {max(n, 1) / cpu:,.0f} posts/s on one core)")
        source.settings.jetstream_url = f"ws://127.0.0.1:{ports[1]}/subscribe"
        engine = Measured(monitor)
        consumer = StreamConsumer(source, engine)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        with suppress(Ended, TimeoutError):  # a consumer that cannot keep up is measured over the window
            await asyncio.wait_for(consumer.run(), seconds + GRACE_S)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        lat = engine.latencies
        done = len(lat)
        seconds_seen = sorted(engine.per_second)
        half = len(seconds_seen) // 2
        first = statistics.fmean([x for x in lat[: done // 2]] or [0])
        second = statistics.fmean([x for x in lat[done // 2 :]] or [0])
        peak = max(engine.per_second.values(), default=0)
        print(f"  engine (shipped consumer → match → store matched): {done:,} posts in {wall:.1f} s = "
              f"{done / wall:,.0f} posts/s (peak second {peak:,}); {engine.stored:,} stored; "
              f"{consumer.stats.batches:,} batches, longest wait for a batch {consumer.stats.max_wait_s * 1000:.0f} ms")
        print(f"  CPU (this process, every thread): {cpu / max(done, 1) * 1e6:.0f} µs/post → one-core ceiling "
              f"{max(done, 1) / cpu:,.0f} posts/s")
        print(f"  post → stored latency: p50 {pct(lat, 0.5):,.0f} ms, p99 {pct(lat, 0.99):,.0f} ms, "
              f"max {max(lat, default=0):,.0f} ms; mean 1st half {first:,.0f} ms, 2nd half {second:,.0f} ms "
              f"({'keeping up' if second <= first + 250 else 'FALLING BEHIND: backlog grows'})"
              f" over {len(seconds_seen)} s (half at {half} s)")
    finally:
        await bot.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, help="posts per second offered (default: both standard runs)")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--watches", type=int, default=10_000)
    args = parser.parse_args()
    runs = [(args.rate, args.seconds)] if args.rate else [(500, 20.0), (60_000, 60.0)]
    for rate, seconds in runs:
        asyncio.run(run(rate, seconds, args.watches))


if __name__ == "__main__":
    main()
