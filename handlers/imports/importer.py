"""The import engine: read a file as a stream of posts and feed them, in batches, to the pipeline."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from sqlalchemy import Table, insert, select
from sqlmodel import Session, col

from handlers.imports.csv_posts import CsvHeaderError, read_csv
from handlers.imports.jsonl import read_jsonl
from handlers.imports.record import RowError, Skipped
from handlers.imports.telegram_export import ExportError, read_export
from handlers.monitor.post import Post
from handlers.monitor.slot import MONITOR
from storage.models import StoredPost
from storage.types import utcnow

if TYPE_CHECKING:
    from bot.services import Services

FORMATS = ("jsonl", "csv", "telegram")
BATCH_SIZE = 1000
MAX_REPORTED_ERRORS = 50
DEFAULT_SOURCE = "import"
_POSTS: Table = StoredPost.__table__  # type: ignore[assignment]
_SQL_CHUNK = 400

Progress = Callable[["ImportReport"], Awaitable[None]]


class ImportFailed(ValueError):
    """The file as a whole cannot be imported (unknown format, unreadable header, not an export)."""


@dataclass
class ImportReport:
    """What an import did: posts stored, duplicates, skipped rows, and the bad rows by line."""

    format: str
    rows: int = 0
    imported: int = 0
    duplicates: int = 0
    skipped: int = 0
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)
    seconds: float = 0.0

    def error(self, err: RowError) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(err)

    @property
    def posts_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def detect_format(name: str | None, head: bytes) -> str:
    """`telegram`, `jsonl` or `csv` from the file name, else from its first bytes."""
    suffix = Path(name or "").suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if suffix == ".json" or (text.startswith(b"{") and text.split(b"\n", 1)[0].strip() == b"{"):
        return "telegram"  # a pretty-printed JSON document, as Telegram Desktop writes it
    if text.startswith(b"{"):
        return "jsonl"
    return "csv"


def _reader(fmt: str, stream: BinaryIO, source: str, now: datetime,
            mapping: Mapping[str, str] | None) -> Iterator[Post | RowError | Skipped]:
    if fmt == "jsonl":
        return read_jsonl(stream, default_source=source, now=now)
    if fmt == "csv":
        return read_csv(stream, default_source=source, now=now, mapping=mapping)
    return read_export(stream)


def _next_batch(rows: Iterator[Post | RowError | Skipped], report: ImportReport, size: int) -> list[Post] | None:
    """Up to `size` posts from the reader (errors and skips counted on the way); None at the end."""
    batch: list[Post] = []
    for row in rows:
        report.rows += 1
        if isinstance(row, Post):
            batch.append(row)
            if len(batch) >= size:
                return batch
        elif isinstance(row, RowError):
            report.error(row)
        else:
            report.skipped += 1
    return batch or None


def store_posts(session: Session, posts: list[Post]) -> int:
    """Insert posts not already stored (by source and source id); returns how many were new."""
    first: dict[tuple[str, str], Post] = {}
    for post in posts:
        first.setdefault(post.key, post)  # the first copy wins, as it does across batches
    unique = list(first.values())
    known: set[tuple[str, str]] = set()
    by_source: dict[str, list[str]] = {}
    for post in unique:
        by_source.setdefault(post.source, []).append(post.source_id)
    for source, ids in by_source.items():
        for start in range(0, len(ids), _SQL_CHUNK):
            chunk = ids[start : start + _SQL_CHUNK]
            found = session.exec(select(StoredPost.source_id).where(  # type: ignore[call-overload]
                col(StoredPost.source) == source, col(StoredPost.source_id).in_(chunk)))
            known.update((source, sid) for (sid,) in found)
    fresh = [p for p in unique if p.key not in known]
    if fresh:
        collected = utcnow()
        session.execute(insert(_POSTS), [row_values(p, collected) for p in fresh])
    return len(fresh)


def row_values(post: Post, collected_at: datetime) -> dict[str, Any]:
    """The `posts` columns of `post.to_row()`, built directly (a SQLModel instance per row costs ~8x more)."""
    return {
        "source": post.source, "source_id": post.source_id, "url": post.url,
        "author_id": post.author.id, "author_handle": post.author.handle, "author_name": post.author.name,
        "text": post.text, "title": post.title, "created_at": post.created_at, "collected_at": collected_at,
        "lang": post.lang, "reply_to": post.reply_to, "thread_id": post.thread_id,
        "content_hash": post.content_hash, "mentions": list(post.mentions), "hashtags": list(post.hashtags),
        "urls": list(post.urls), "media": list(post.media), "geo": post.geo,
        "engagement": dict(post.engagement), "raw": post.raw,
    }


async def _ingest(services: Services, batch: list[Post]) -> int:
    """Hand a batch to the monitoring pipeline (stored and matched); store directly without one."""
    monitor = services.shared.get(MONITOR)
    if monitor is not None:
        result = await monitor.ingest(batch, alert=False)
        return int(result.stored)
    return await services.db.run(lambda session: store_posts(session, batch))


async def import_file(
    services: Services,
    path_or_bytes: str | Path | bytes,
    fmt: str | None = None,
    *,
    name: str | None = None,
    source: str | None = None,
    mapping: Mapping[str, str] | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a Telegram Desktop export, JSONL or CSV file (path or bytes), streaming it in batches.

    Good rows are imported and bad ones reported with their line (or message) and field; only a
    file that cannot be read at all raises ImportFailed.
    """
    if fmt is not None and fmt not in FORMATS:
        raise ImportFailed(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    started = time.perf_counter()
    with ExitStack() as stack:
        if isinstance(path_or_bytes, bytes):
            stream: BinaryIO = io.BytesIO(path_or_bytes)
        else:
            path = Path(path_or_bytes)
            name = name or path.name
            try:
                stream = stack.enter_context(path.open("rb"))
            except OSError as exc:
                raise ImportFailed(f"cannot open {path}: {exc.strerror}") from None
        fmt = fmt or detect_format(name, stream.read(4096))
        stream.seek(0)
        report = ImportReport(format=fmt)
        rows = _reader(fmt, stream, source or DEFAULT_SOURCE, services.now(), mapping)
        while True:
            try:
                batch = await asyncio.to_thread(_next_batch, rows, report, batch_size)
            except (CsvHeaderError, ExportError) as exc:  # a header or export that cannot be read at all
                raise ImportFailed(str(exc)) from None
            if batch is None:
                break
            stored = await _ingest(services, batch)
            report.imported += stored
            report.duplicates += len(batch) - stored
            if progress is not None:
                await progress(report)
    report.seconds = time.perf_counter() - started
    return report
