"""Benchmark: each analysis command over a store of synthetic posts (100,000 by default).

    python -m bench.analysis [--quick] [--posts N]

Builds a temporary SQLite store (posts spread over 30 days, 2,000 accounts, one watch matching 5 %,
one account with 300 posts), then runs every analysis command through the real router and prints
wall time and peak Python memory (tracemalloc, a second run). Baseline, measured in the same run:
reading the same posts' rows from the database, the floor any analysis pays.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select

from bot.render.text import render_text
from handlers.analysis.commands import commands
from handlers.monitor.post import Post
from handlers.monitor.sources.registry import SOURCES
from storage.models import StoredPost, Watch, WatchMatch
from tests.analysis_data import EPOCH, WORDS, persona_times, post
from tests.harness import BotHarness

NOW = EPOCH + timedelta(days=30)
INTERACTIVE = {"profile", "trends", "sentiment"}


def synthetic(n: int, seed: int = 1) -> list[Post]:
    """n posts: word salad with hashtags, mentions, replies, some IOCs and a campaign; one known account."""
    rng = random.Random(seed)
    posts = []
    for i in range(n - 300):
        at = EPOCH + timedelta(seconds=rng.randrange(30 * 86400))
        words = [rng.choice(WORDS) for _ in range(rng.randint(8, 24))]
        if i % 20 == 0:
            words.append(f"CVE-2026-{rng.randrange(1000, 1100)}")
        if i % 50 == 0:
            words.append(f"hxxp://bad{rng.randrange(100)}[.]com/x 45.9.{rng.randrange(255)}.{rng.randrange(255)}")
        mentions = [f"user{rng.randrange(2000)}" for _ in range(rng.choice((0, 0, 1, 2)))]
        posts.append(
            post(
                f"user{rng.randrange(2000)}",
                at,
                " ".join(words),
                sid=f"p{i}",
                mentions=mentions,
                hashtags=[rng.choice(WORDS)] if i % 3 == 0 else [],
                reply_to=f"p{rng.randrange(max(i, 1))}" if i % 7 == 0 else None,
            )
        )
    for i, at in enumerate(persona_times(3, 300, seed=2, days=30)):
        posts.append(
            post(
                "target",
                at,
                f"{rng.choice(WORDS)} update on CVE-2026-1001 #ops",
                sid=f"t{i}",
                source="hackernews",
                hashtags=["ops"],
            )
        )
    return posts


async def timed(bot: BotHarness, line: str, memory: bool) -> tuple[float, float]:
    """(seconds, peak MiB) of one command."""
    if memory:
        tracemalloc.start()
    started = time.perf_counter()
    replies = await bot.run(line)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 2**20 if memory else 0.0
    if memory:
        tracemalloc.stop()
    text = render_text(replies[-1]) if replies else ""
    if text.startswith("⚠️"):
        raise SystemExit(f"{line} failed: {text}")
    return elapsed, peak


async def baseline(bot: BotHarness, watch_id: int) -> dict[str, float]:
    """Seconds to read the rows each kind of analysis reads (the floor)."""

    def read(stmt):  # type: ignore[no-untyped-def]
        def work(session) -> int:  # type: ignore[no-untyped-def]
            return len(session.execute(stmt).all())

        return work

    out = {}
    matched = select(WatchMatch.post_id).where(WatchMatch.watch_id == watch_id)
    for name, stmt in {
        "watch rows": select(StoredPost).where(StoredPost.id.in_(matched)),
        "8-day rows": select(StoredPost.created_at, StoredPost.text).where(
            StoredPost.created_at >= NOW - timedelta(days=8)
        ),
    }.items():
        started = time.perf_counter()
        await bot.services.db.run(read(stmt))
        out[name] = time.perf_counter() - started
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 posts instead of 100,000")
    parser.add_argument("--posts", type=int, default=None)
    args = parser.parse_args()
    n = args.posts or (10_000 if args.quick else 100_000)
    with tempfile.TemporaryDirectory() as tmp:
        bot = BotHarness(Path(tmp), sets=[commands], clock=lambda: NOW)
        await bot.start()
        bot.services.shared.put(SOURCES, {})
        started = time.perf_counter()
        posts = synthetic(n)
        watch_id = await bot.services.db.run(lambda s: build_store(s, posts))
        print(
            f"store: {n:,} posts, watch #{watch_id} with {n // 20:,} matches, built in "
            f"{time.perf_counter() - started:.1f}s"
        )
        base = await baseline(bot, watch_id)
        for k, v in base.items():
            print(f"baseline {k:<12} {v:6.2f}s")
        lines = {
            "profile": "/profile hackernews target",
            "trends": f"/trends {watch_id} 1d",
            "trends (all posts)": "/trends 1d",
            "sentiment": f"/sentiment {watch_id}",
            "iocs": f"/iocs {watch_id}",
            "network": f"/network {watch_id}",
            "geo": f"/geo {watch_id}",
            "coord": f"/coord {watch_id}",
        }
        print(f"{'analysis':<20} {'wall s':>7} {'peak MiB':>9}  interactive<2s")
        for name, line in lines.items():
            wall, _ = await timed(bot, line, memory=False)
            _, peak = await timed(bot, line, memory=True)
            flag = ("ok" if wall < 2 else "SLOW") if name.split()[0] in INTERACTIVE else ""
            print(f"{name:<20} {wall:7.2f} {peak:9.1f}  {flag}")
        await bot.stop()


def build_store(session, posts: list[Post]) -> int:  # type: ignore[no-untyped-def]
    """Bulk-insert posts and a watch matching every 20th of them; returns the watch id."""
    table = StoredPost.__table__
    rows = [p.to_row().model_dump(exclude={"id"}) for p in posts]
    for i in range(0, len(rows), 5000):
        session.execute(insert(table), rows[i : i + 5000])
    watch = Watch(chat_platform="telegram", chat_id=-5001, query="bench", created_by="bench")
    session.add(watch)
    session.flush()
    ids = session.execute(select(StoredPost.id, StoredPost.created_at).where(StoredPost.id % 20 == 0)).all()
    session.execute(
        insert(WatchMatch.__table__),
        [{"watch_id": watch.id, "post_id": i, "terms": [], "created_at": at} for i, at in ids],
    )
    return int(watch.id or 0)


if __name__ == "__main__":
    asyncio.run(main())
