"""Import benchmark: a generated JSONL of posts into SQLite — posts/s and peak memory (streaming).

    python -m bench.import_jsonl                 # 1,000,000 posts
    python -m bench.import_jsonl --posts 50000   # a quick run

Baselines measured in the same run: parsing alone (the JSONL reader turning lines into Posts, no
database), and the process's resident memory before the import. The import streams the file, so
its peak memory should stay near the baseline however big the file is.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.services import Services
from config.settings import Settings
from handlers.imports.importer import ImportReport, import_file
from handlers.imports.jsonl import read_jsonl
from handlers.monitor.post import Post
from storage.db import Database

SEED = 20261101
WORDS_TEXT = ("port strike ransomware leak breach exploit patch server forum channel dump records victims "
              "claims actor group today update access credentials phishing campaign malware network "
              "утечка данные взлом сервер канал база доступ 数据 泄露 攻击")
WORDS = WORDS_TEXT.split()
SOURCES = ("forum", "pastes", "telegram-export")


def peak_rss_mb() -> float:
    """The process's peak resident memory so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(path: Path, posts: int) -> int:
    """Write `posts` JSONL lines (varied fields, some epoch times, some ISO) and return the file size."""
    rng = random.Random(SEED)
    start = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    with path.open("w", encoding="utf-8") as out:
        for i in range(posts):
            words = rng.choices(WORDS, k=rng.randint(5, 40))
            if rng.random() < 0.2:
                words.append(f"#{rng.choice(WORDS)}")
            if rng.random() < 0.2:
                words.append(f"https://site{rng.randint(1, 500)}.example/p/{i}")
            when = start + i * 3.7
            record = {
                "id": f"p{i}",
                "text": " ".join(words),
                "source": SOURCES[i % len(SOURCES)],
                "author": f"user{rng.randint(1, 20000)}",
                "created_at": when if i % 2 else datetime.fromtimestamp(when, UTC).isoformat(),
                "lang": rng.choice(("en", "ru", "zh")),
            }
            if rng.random() < 0.3:
                record["url"] = f"https://forum.example/t/{i}"
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path.stat().st_size


def parse_only(path: Path) -> tuple[int, float]:
    """Baseline: posts/s of the reader alone (no database)."""
    started = time.perf_counter()
    count = 0
    with path.open("rb") as stream:
        for row in read_jsonl(stream, default_source="import", now=datetime.now(UTC)):
            count += isinstance(row, Post)
    return count, time.perf_counter() - started


async def run_import(folder: Path, path: Path, batch: int) -> tuple[ImportReport, float]:
    settings = Settings(data_dir=folder, database={"url": f"sqlite:///{folder / 'bench.db'}"})
    db = Database(settings.database.url or "")
    db.migrate()
    http = httpx.AsyncClient()
    services = Services(settings=settings, db=db, http=http, scheduler=AsyncIOScheduler(timezone=UTC))
    try:
        report = await import_file(services, path, batch_size=batch)
    finally:
        await http.aclose()
        db.close()
    return report, (folder / "bench.db").stat().st_size / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="socmint-bench-") as tmp:
        folder = Path(tmp)
        path = folder / "posts.jsonl"
        t0 = time.perf_counter()
        size = generate(path, args.posts)
        print(f"generated {args.posts:,} posts, {size / 1e6:.0f} MB JSONL in {time.perf_counter() - t0:.1f}s")
        rss_before = peak_rss_mb()
        parsed, parse_s = parse_only(path)
        print(f"baseline, parse only : {parsed / parse_s:>9,.0f} posts/s ({parse_s:.1f}s), "
              f"peak RSS {peak_rss_mb():.0f} MB")
        report, db_mb = asyncio.run(run_import(folder, path, args.batch))
        peak = peak_rss_mb()
        print(f"import into SQLite   : {report.rows / report.seconds:>9,.0f} posts/s ({report.seconds:.1f}s), "
              f"imported {report.imported:,}, errors {report.error_count}, database {db_mb:.0f} MB")
        print(f"memory               : peak RSS {peak:.0f} MB during the import vs {rss_before:.0f} MB before it; "
              f"file {size / 1e6:.0f} MB (streamed, never loaded whole)")
        print(f"storing costs        : {parse_s / report.seconds * 100:.0f}% of parse-only throughput kept")


if __name__ == "__main__":
    main()
