"""Benchmark: the retro-hunt over stored posts (/search, /watch test, a new watch's backfill).

    python -m bench.stored_search [--posts N]

Builds a temporary SQLite store of N synthetic posts (1,000,000 by default, spread over two years) and runs
`StoredScan` over all of them for a selective query and for one matching nothing, printing posts/s, how many
posts the 20 s budget of a command covers, and peak Python memory (tracemalloc: batches, never the whole
store). Baseline, measured in the same run: reading the same columns in the same keyset batches without
matching — the floor any scan of stored posts pays.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, select
from sqlmodel import Session, SQLModel

from handlers.analysis.window import Window
from handlers.monitor import stored_scan
from handlers.monitor.pipeline import row_values
from handlers.monitor.post import Author, Post
from handlers.monitor.query import parse_query
from handlers.monitor.stored_scan import COLUMNS, StoredScan, single
from storage.models import StoredPost

WORDS = ["the", "a", "ransomware", "lockbit", "conti", "patch", "server", "leak", "data", "police", "hospital",
         "attack", "group", "news", "update", "cve", "exploit", "botnet", "phishing", "wallet", "breach", "forum",
         "dump", "access", "broker", "vpn"]
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def build(path: Path, n: int) -> None:
    engine = create_engine(f"sqlite:///{path}")
    SQLModel.metadata.create_all(engine)
    rng = random.Random(1)
    with Session(engine) as session:
        rows = []
        for i in range(n):
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 40)))
            post = Post(source=rng.choice(("rss", "telegram", "import")), source_id=str(i), text=text,
                        created_at=NOW - timedelta(seconds=rng.randrange(730 * 86400)),
                        author=Author(str(i % 5000), f"user{i % 5000}", None))
            rows.append(row_values(post, NOW))
            if len(rows) == 10_000:
                session.execute(insert(StoredPost.__table__), rows)  # type: ignore[arg-type]
                rows = []
        if rows:
            session.execute(insert(StoredPost.__table__), rows)  # type: ignore[arg-type]
        session.commit()


def baseline(session: Session) -> int:
    """Read every post's columns in the scan's keyset batches, matching nothing."""
    position = None
    read = 0
    while True:
        stmt = select(*COLUMNS)
        if position is not None:
            stmt = stmt.where(StoredPost.created_at <= position[0],
                              (StoredPost.created_at < position[0]) | (StoredPost.id < position[1]))
        rows = list(session.connection().execute(
            stmt.order_by(StoredPost.created_at.desc(), StoredPost.id.desc()).limit(stored_scan.BATCH)))
        if not rows:
            return read
        read += len(rows)
        position = (rows[-1].created_at, rows[-1].id)


def scan(session: Session, query: str) -> tuple[int, int]:
    hunt = StoredScan(single(parse_query(query)), Window(), budget_s=3600)
    matched = sum(len(found) for found in hunt.batches(session))
    return hunt.scanned, matched


def timed(fn, *args):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        _, built = timed(build, path, args.posts)
        print(f"store: {args.posts:,} posts built in {built:.0f} s")
        engine = create_engine(f"sqlite:///{path}")
        with Session(engine) as session:
            read, base_s = timed(baseline, session)
            print(f"baseline (read the columns in batches): {read:,} posts in {base_s:.2f} s = {read / base_s:,.0f}/s")
            for query in ('lockbit AND "police hospital"', "zzzz"):
                (scanned, matched), spent = timed(scan, session, query)
                rate = scanned / spent
                print(f"scan {query!r}: {scanned:,} posts, {matched:,} matches in {spent:.2f} s = {rate:,.0f}/s "
                      f"({spent / base_s:.1f}x the baseline); the {stored_scan.BUDGET_S:.0f} s budget covers "
                      f"{rate * stored_scan.BUDGET_S:,.0f} posts")
            tracemalloc.start()
            scan(session, 'lockbit AND "police hospital"')
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            print(f"peak Python memory of a full scan: {peak / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
