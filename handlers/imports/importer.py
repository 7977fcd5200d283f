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
from typing import TYPE_CHECKING, BinaryIO

from handlers.imports.csv_posts import CsvHeaderError, read_csv
from handlers.imports.jsonl import read_jsonl
from handlers.imports.record import RowError, Skipped
from handlers.imports.telegram_export import ExportError, read_export
from handlers.monitor.matcher import Matcher
from handlers.monitor.pipeline import IngestResult, Pipeline
from handlers.monitor.post import Post
from handlers.monitor.slot import MONITOR

if TYPE_CHECKING:
    from bot.services import Services

FORMATS = ("jsonl", "csv", "telegram")
BATCH_SIZE = 1000
MAX_REPORTED_ERRORS = 50
DEFAULT_SOURCE = "import"

Progress = Callable[["ImportReport"], Awaitable[None]]


class ImportFailed(ValueError):
    """The file as a whole cannot be imported (unknown format, unreadable header, not an export)."""


@dataclass
class SkipTally:
    """Rows skipped for one reason: how many, and where the first one was."""

    count: int
    first: str


@dataclass
class ImportReport:
    """What an import did: posts stored, duplicates by why, skipped rows by reason, and the bad rows by line."""

    format: str
    rows: int = 0
    imported: int = 0
    duplicates: int = 0
    same_id: int = 0
    same_text: int = 0
    repeated: int = 0
    skipped: int = 0
    skips: dict[str, SkipTally] = field(default_factory=dict)
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)
    matched: int = 0  # match rows written for the imported posts (a post matched by two watches counts twice)
    alerts: int = 0  # alerts queued: only for posts recent enough (monitor.alert_max_age_s)
    seconds: float = 0.0

    def error(self, err: RowError) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(err)

    def skip(self, row: Skipped) -> None:
        self.skipped += 1
        tally = self.skips.get(row.reason)
        if tally is None:
            self.skips[row.reason] = SkipTally(1, row.where)
        else:
            tally.count += 1

    def ingested(self, sent: int, result: IngestResult) -> None:
        """Count what the pipeline did with `sent` posts."""
        self.imported += result.stored
        self.duplicates += sent - result.stored
        self.same_id += result.same_id
        self.same_text += result.same_text
        self.repeated += result.repeated
        self.matched += result.matches
        self.alerts += result.alerts

    def why_not_imported(self) -> list[str]:
        """Each reason rows were not imported, with a count: duplicates by kind, then skips by reason."""
        reasons = []
        if self.same_id:
            reasons.append(f"{self.same_id} already stored (same source id)")
        if self.same_text:
            reasons.append(f"{self.same_text} same text as a stored post")
        if self.repeated:
            reasons.append(f"{self.repeated} repeated in the file (same id or text)")
        for reason, tally in sorted(self.skips.items(), key=lambda item: -item[1].count):
            where = f" (first: {tally.first})" if tally.count > 1 else f" ({tally.first})"
            reasons.append(f"{tally.count} skipped: {reason}{where}")
        if self.error_count:
            first = self.errors[0]
            reasons.append(f"{self.error_count} bad: {first.message} on {first.where}"
                           + (" and the others listed below" if self.error_count > 1 else ""))
        return reasons

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
            report.skip(row)
    return batch or None


async def _ingest(services: Services, batch: list[Post]) -> IngestResult:
    """Run a batch through the monitoring pipeline, as polled posts are: stored, de-duplicated and matched
    against the active watches; only posts recent enough alert (monitor.alert_max_age_s). Without a running
    engine (a bare test) the pipeline stores and de-duplicates with no watches."""
    monitor = services.shared.get(MONITOR)
    if monitor is not None:
        return await monitor.ingest(batch)
    pipeline = Pipeline(services.db, Matcher(), services.settings.monitor, services.now)
    return await pipeline.ingest(batch, alert=False)


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
            report.ingested(len(batch), await _ingest(services, batch))
            if progress is not None:
                await progress(report)
    report.seconds = time.perf_counter() - started
    return report
