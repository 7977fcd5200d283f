"""Jetstream firehose benchmark: a fake websocket server replays posts at ≥ 10× the real rate into the engine.

    python -m bench.jetstream                      # 500 posts/s for 20 s, 200 watches
    python -m bench.jetstream --rate 1000 --seconds 10

Path measured: websocket frame → JSON → commit filter → Post (facets, embeds) → batch every 100 ms →
`Monitor.ingest(only_matching=True)` (match, store, match rows, outbox rows, cursor; one transaction).
About 5 % of posts match a watch. Each event's `time_us` is the server's send time, so
post-to-outbox latency = commit time − send time. Backlog = how far behind the newest frame
the consumer is, sampled each second (it must not grow from the first half of the run to the second).
Baseline, same run: the same stream read and parsed only (no matching, no storage).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from contextlib import aclosing
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session
from websockets.asyncio.server import ServerConnection, serve

from handlers import basics, watch
from handlers.fetch import CircuitBreaker
from handlers.monitor.post import Post
from handlers.monitor.sources.bluesky import firehose_posts
from handlers.monitor.sources.jetstream import Jetstream
from storage.models import Watch
from tests.harness import BotHarness

WORDS = ["the", "a", "today", "new", "photo", "lunch", "game", "vote", "city", "music", "news", "love", "art",
         "weekend", "coffee", "train", "rain", "book", "film", "release", "update", "data", "team", "launch"]
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def now_us() -> int:
    return time.time_ns() // 1000


def frame(i: int, rng: random.Random, terms: list[str]) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(6, 30))]
    if rng.random() < 0.05:
        words.insert(rng.randrange(len(words)), rng.choice(terms))
    record = {"$type": "app.bsky.feed.post", "createdAt": datetime.now(UTC).isoformat(), "langs": ["en"],
              "text": " ".join(words)}
    if i % 7 == 0:
        record["facets"] = [{"index": {"byteStart": 0, "byteEnd": 4}, "features": [
            {"$type": "app.bsky.richtext.facet#tag", "tag": "bench"}]}]
    event = {"did": f"did:plc:bench{i % 5000}", "time_us": now_us(), "kind": "commit",
             "commit": {"rev": f"r{i}", "operation": "create", "collection": "app.bsky.feed.post",
                        "rkey": f"k{i}", "record": record, "cid": f"c{i}"}}
    return json.dumps(event)


def make_handler(rate: int, seconds: float, terms: list[str]):
    """A server that sends `rate` posts a second (in 10 ms ticks), plus a like and a delete every 50."""

    async def handler(ws: ServerConnection) -> None:
        rng = random.Random(11)
        total = int(rate * seconds)
        start = time.perf_counter()
        sent = 0
        while sent < total:
            due = min(total, int((time.perf_counter() - start) * rate) + 1)
            while sent < due:
                await ws.send(frame(sent, rng, terms))
                if sent % 50 == 0:
                    await ws.send(json.dumps({"did": "did:plc:x", "time_us": now_us(), "kind": "commit",
                                              "commit": {"operation": "delete", "collection": "app.bsky.feed.post",
                                                         "rkey": f"d{sent}"}}))
                sent += 1
            await asyncio.sleep(0.01)
        await ws.send(json.dumps({"did": "did:plc:end", "time_us": now_us(), "kind": "commit", "commit": {
            "operation": "create", "collection": "app.bsky.feed.post", "rkey": "END",
            "record": {"$type": "app.bsky.feed.post", "text": "END", "createdAt": T0.isoformat()}}}))
        await ws.wait_closed()

    return handler


class LagProbe:
    """Per-second samples of how far behind the newest frame the consumer is."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._next = time.perf_counter() + 1

    def observe(self, time_us: int) -> None:
        if time.perf_counter() >= self._next:
            self._next += 1
            self.samples.append((now_us() - time_us) / 1000)

    def halves(self) -> tuple[float, float]:
        if len(self.samples) < 4:
            return (0.0, 0.0)
        mid = len(self.samples) // 2
        return statistics.fmean(self.samples[:mid]), statistics.fmean(self.samples[mid:])


async def consume_parse_only(url: str) -> tuple[int, float, LagProbe]:
    jet = Jetstream(url, breaker=CircuitBreaker("bench"))
    probe = LagProbe()
    count = 0
    started = time.perf_counter()
    async with aclosing(firehose_posts(jet, None)) as stream:
        async for post, cursor in stream:
            if post.text == "END":
                break
            count += 1
            probe.observe(int(cursor))
    return count, time.perf_counter() - started, probe


async def consume_engine(url: str, monitor, flush_s: float = 0.1) -> tuple[int, float, LagProbe, list[float], int]:
    jet = Jetstream(url, breaker=CircuitBreaker("bench"))
    probe = LagProbe()
    latencies: list[float] = []
    batch: list[tuple[Post, int]] = []
    count = 0
    alerts = 0
    queue: asyncio.Queue[list[tuple[Post, int]] | None] = asyncio.Queue()

    async def writer() -> None:
        nonlocal alerts
        while (item := await queue.get()) is not None:
            result = await monitor.ingest([p for p, _ in item], only_matching=True)
            done = now_us()
            alerts += result.alerts
            # every post of a batch (matched or not) is committed, with its outbox rows, in the same transaction
            latencies.extend((done - t) / 1000 for _, t in item)

    task = asyncio.create_task(writer())
    started = time.perf_counter()
    last_flush = time.perf_counter()
    async with aclosing(firehose_posts(jet, None)) as stream:
        async for post, cursor in stream:
            if post.text == "END":
                break
            count += 1
            probe.observe(int(cursor))
            batch.append((post, int(cursor)))
            if time.perf_counter() - last_flush >= flush_s:
                queue.put_nowait(batch)
                batch, last_flush = [], time.perf_counter()
    if batch:
        queue.put_nowait(batch)
    queue.put_nowait(None)
    await task
    return count, time.perf_counter() - started, probe, latencies, alerts


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(rate: int, seconds: float, watches: int) -> None:
    terms = [f"leakword{k}" for k in range(watches)]
    with tempfile.TemporaryDirectory() as tmp:
        bot = BotHarness(Path(tmp), sets=[basics.commands, watch.commands], clock=lambda: datetime.now(UTC))
        await bot.start()

        def seed(session: Session) -> None:
            for k, term in enumerate(terms):
                session.add(Watch(chat_platform="telegram", chat_id=-(k % 20) - 1, query=term,
                                  sources=["bluesky"], created_by="bench", created_at=T0))

        await bot.services.db.run(seed)
        monitor = bot.services.extras["monitor"]
        await monitor.start(background=False)
        try:
            print(f"Jetstream replay: {rate} posts/s for {seconds:.0f} s, {watches} watches, ~5 % matching")
            async with serve(make_handler(rate, seconds, terms), "127.0.0.1", 0, compression=None) as server:
                url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/subscribe"
                n, elapsed, probe = await consume_parse_only(url)
                first, second = probe.halves()
                print(f"  baseline (parse only): {n} posts in {elapsed:.1f} s = {n / elapsed:.0f} posts/s; "
                      f"lag 1st half {first:.0f} ms, 2nd half {second:.0f} ms")
                n, elapsed, probe, lat, alerts = await consume_engine(url, monitor)
                first, second = probe.halves()
                print(f"  engine (parse→match→store→outbox): {n} posts in {elapsed:.1f} s = {n / elapsed:.0f} "
                      f"posts/s; lag 1st half {first:.0f} ms, 2nd half {second:.0f} ms "
                      f"({'no backlog growth' if second <= first + 100 else 'BACKLOG GROWING'})")
                print(f"  post-to-outbox latency over {len(lat)} posts ({alerts} alerts queued): "
                      f"p50 {pct(lat, 0.5):.0f} ms, p99 {pct(lat, 0.99):.0f} ms, max {max(lat, default=0):.0f} ms "
                      f"(target p99 < 500 ms: {'met' if pct(lat, 0.99) < 500 else 'NOT met'})")
        finally:
            await bot.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--watches", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.rate, args.seconds, args.watches))
