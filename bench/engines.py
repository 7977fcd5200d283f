"""Ingest into PostgreSQL against SQLite: the same posts through the real engine, on each database engine.

    python -m bench.engines                          # 100,000 posts, 1,000 watches, one process
    python -m bench.engines --posts 20000            # a quick run
    python -m bench.engines --processes 1 2 4        # also with several ingesting processes (one database)

Each run starts from an empty database with the same watches and pushes the same posts through
`Monitor.ingest` (de-duplication, storage, IOC index, matching, match and outbox rows; batches of 500, one
transaction each), ~5 % matching a watch and ~10 % repeats, as `bench.pipeline` does. With N processes the
posts are dealt out round-robin in batches and each process ingests its share on its own connection.

PostgreSQL is a private server started for the run (tests/postgres_server.py) with durability comparable
to SQLite in WAL mode with synchronous=NORMAL: fsync on, synchronous_commit off (a power cut may lose the
last transactions, never corrupt). Baseline: SQLite in the same run. Target: PostgreSQL within 1.5x of
SQLite with one process.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlmodel import Session

from bench.pipeline import T0, synthetic
from handlers.monitor.post import Post
from handlers.monitor.slot import MONITOR
from storage.db import Database
from storage.models import Watch

BATCH = 500


def seed(url: str, watches: int) -> None:
    """A migrated, empty database with `watches` watches (the same queries as bench.pipeline)."""
    db = Database(url)
    db.migrate()

    def add(session: Session) -> None:
        for k in range(watches):
            session.add(Watch(chat_platform="telegram", chat_id=-(k % 20) - 1,
                              query=f"actor{k} OR \"actor{k} leak\"", created_by="bench", created_at=T0))

    with db.session() as session:
        add(session)
    db.close()


async def _ingest(url: str, posts: list[Post], root: Path, ready: Callable[[], object] = lambda: None
                  ) -> tuple[float, int]:
    """Start a bot (commands only) on `url`, wait for `ready`, and time one `Monitor.ingest` of `posts`."""
    from bot.app import App
    from config.settings import Settings
    from handlers import basics, watch
    from handlers.monitor.engine import Monitor

    settings = Settings(data_dir=root, database={"url": url})
    app = App(settings, sets=[basics.commands, watch.commands], clock=lambda: T0 + timedelta(days=1))
    app.services.background = False
    monitor = app.services.shared.put(MONITOR, Monitor(app.services, sources=dict))
    await app.start()
    await asyncio.to_thread(ready)  # every process started up before anyone's clock starts
    started = time.perf_counter()
    result = await monitor.ingest(posts)
    elapsed = time.perf_counter() - started
    await app.stop()
    return elapsed, result.alerts


def _worker(url: str, posts: list[Post], root: str, start: multiprocessing.synchronize.Barrier,
            out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    out.put(asyncio.run(_ingest(url, posts, Path(root), start.wait)))


def run(url: str, posts: list[Post], watches: int, processes: int, root: Path) -> tuple[float, int]:
    """Wall seconds to ingest every post with `processes` processes, and the alerts queued."""
    seed(url, watches)
    if processes == 1:
        return asyncio.run(_ingest(url, posts, root))
    shares: list[list[Post]] = [[] for _ in range(processes)]
    for n, start in enumerate(range(0, len(posts), BATCH)):
        shares[n % processes].extend(posts[start : start + BATCH])
    context = multiprocessing.get_context("spawn")
    barrier, out = context.Barrier(processes + 1), context.Queue()
    workers = [context.Process(target=_worker, args=(url, share, str(root / f"w{n}"), barrier, out))
               for n, share in enumerate(shares)]
    for worker in workers:
        worker.start()
    barrier.wait()
    started = time.perf_counter()
    results = [out.get() for _ in workers]
    elapsed = time.perf_counter() - started
    for worker in workers:
        worker.join()
    return elapsed, sum(alerts for _, alerts in results)


def main() -> None:
    from tests.postgres_server import PostgresServer, PostgresUnavailable

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--watches", type=int, default=1_000)
    parser.add_argument("--processes", type=int, nargs="+", default=[1])
    args = parser.parse_args()
    posts = synthetic(args.posts, [f"actor{k}" for k in range(args.watches)])
    try:
        server = PostgresServer.start_new(fsync="on", full_page_writes="on", synchronous_commit="off")
    except PostgresUnavailable as exc:
        raise SystemExit(f"bench.engines needs PostgreSQL: {exc}") from None
    print(f"posts: {args.posts:,}, watches: {args.watches:,}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            for processes in args.processes:
                sqlite_s, sqlite_alerts = run(f"sqlite:///{root / f'sqlite{processes}.db'}", posts, args.watches,
                                              processes, root / f"s{processes}")
                pg_s, pg_alerts = run(server.create_database(f"bench{processes}"), posts, args.watches, processes,
                                      root / f"p{processes}")
                print(f"{processes} process(es): SQLite {args.posts / sqlite_s:,.0f} posts/s ({sqlite_s:.1f} s, "
                      f"{sqlite_alerts} alerts); PostgreSQL {args.posts / pg_s:,.0f} posts/s ({pg_s:.1f} s, "
                      f"{pg_alerts} alerts); PostgreSQL takes {pg_s / sqlite_s:.2f}x SQLite's time")
                if processes == 1:
                    verdict = "met" if pg_s <= 1.5 * sqlite_s else "MISSED"
                    print(f"target: PostgreSQL within 1.5x of SQLite with one process: {verdict}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
