"""Ingest pipeline benchmark: posts/s through de-duplication, storage, matching, match rows and the outbox.

    python -m bench.pipeline                  # 20,000 posts, 1,000 watches
    python -m bench.pipeline --posts 5000     # a quick run

Runs the real engine (`Monitor.ingest`, batches of 500, one transaction each) on a temporary SQLite
file. About 5 % of posts match a watch (so each batch also writes match and outbox rows) and 10 %
are re-sent duplicates. Baseline, measured in the same run on a fresh database: storing the same
posts one ORM row and one commit at a time, with no matching at all. Target: ≥ 500 posts/s.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import Session

from handlers import basics, watch
from handlers.monitor.post import Author, Post
from handlers.monitor.slot import MONITOR
from storage.db import Database, migrate
from storage.models import Watch
from tests.harness import BotHarness

WORDS = [
    "threat", "actor", "leak", "forum", "access", "sale", "exploit", "patch", "update", "report",
    "breach", "data", "dump", "group", "campaign", "phishing", "malware", "loader", "botnet", "c2",
    "server", "domain", "password", "credential", "wallet",
]
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def synthetic(n: int, watch_terms: list[str], seed: int = 7) -> list[Post]:
    """n posts of word salad; about 5 % carry a watched term, 10 % repeat an earlier post."""
    rng = random.Random(seed)
    posts: list[Post] = []
    for i in range(n):
        if posts and rng.random() < 0.10:
            posts.append(rng.choice(posts))
            continue
        words = [rng.choice(WORDS) for _ in range(rng.randint(10, 40))]
        if rng.random() < 0.05:
            words.insert(rng.randrange(len(words)), rng.choice(watch_terms))
        posts.append(Post(source="bench", source_id=str(i), text=" ".join(words) + f" #{i}",
                          created_at=T0 + timedelta(seconds=i), author=Author(f"u{i % 500}", f"u{i % 500}"),
                          url=f"https://bench.example/{i}"))
    return posts


async def run_engine(root: Path, posts: list[Post], watches: int) -> float:
    bot = BotHarness(root, sets=[basics.commands, watch.commands], clock=lambda: T0 + timedelta(days=1))
    await bot.start()
    terms = [f"actor{k}" for k in range(watches)]

    def seed(session: Session) -> None:
        for k, term in enumerate(terms):
            session.add(Watch(chat_platform="telegram", chat_id=-(k % 20) - 1, query=f"{term} OR \"{term} leak\"",
                              created_by="bench", created_at=T0))

    await bot.services.db.run(seed)
    monitor = bot.services.shared.get(MONITOR)
    await monitor.start(background=False)
    started = time.perf_counter()
    result = await monitor.ingest(posts)
    elapsed = time.perf_counter() - started
    print(f"  engine: stored {result.stored}, duplicates {result.duplicates}, matches {result.matches}, "
          f"alerts {result.alerts}")
    await bot.stop()
    return elapsed


def run_baseline(root: Path, posts: list[Post]) -> float:
    url = f"sqlite:///{root / 'baseline.db'}"
    migrate(url)
    db = Database(url)
    started = time.perf_counter()
    seen: set[tuple[str, str]] = set()
    for post in posts:
        if post.key in seen:
            continue
        seen.add(post.key)
        with db.session() as session:
            session.add(post.to_row())
    elapsed = time.perf_counter() - started
    db.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--watches", type=int, default=1_000)
    args = parser.parse_args()
    terms = [f"actor{k}" for k in range(args.watches)]
    posts = synthetic(args.posts, terms)
    with tempfile.TemporaryDirectory() as tmp:
        engine_s = asyncio.run(run_engine(Path(tmp) / "engine", posts, args.watches))
        base_s = run_baseline(Path(tmp), posts)
    print(f"posts: {args.posts:,}, watches: {args.watches:,}")
    print(f"engine (dedupe + store + match + outbox, 500/batch): {args.posts / engine_s:,.0f} posts/s "
          f"({engine_s:.2f} s)")
    print(f"baseline (one ORM insert + commit per post, no matching): {args.posts / base_s:,.0f} posts/s "
          f"({base_s:.2f} s)")
    verdict = "met" if args.posts / engine_s >= 500 else "MISSED"
    print(f"ratio: {base_s / engine_s:.1f}x; target ≥ 500 posts/s: {verdict}")


if __name__ == "__main__":
    main()
