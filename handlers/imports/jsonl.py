"""JSONL of posts: one JSON object per line, read line by line (never the whole file)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import BinaryIO

from handlers.imports.record import RecordError, RowError, Skipped, record_to_post
from handlers.monitor.post import Post

MAX_LINE_BYTES = 1 << 20  # one post per line; a longer line is reported, not loaded


def _lines(stream: BinaryIO) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes) per line; None for a line longer than MAX_LINE_BYTES (skipped to its end)."""
    number = 0
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := stream.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass
            yield number, None
            continue
        yield number, line


def read_jsonl(stream: BinaryIO, *, default_source: str, now: datetime) -> Iterator[Post | RowError | Skipped]:
    """Each line → a Post, a RowError naming the line and field, or Skipped for a blank line."""
    for number, line in _lines(stream):
        where = f"line {number}"
        if line is None:
            yield RowError(where, f"longer than {MAX_LINE_BYTES // 1024} KiB")
            continue
        if not line.strip():
            yield Skipped(where, "blank line")
            continue
        try:
            record = json.loads(line)
        except UnicodeDecodeError:
            yield RowError(where, "not UTF-8")
            continue
        except ValueError as exc:
            yield RowError(where, f"invalid JSON ({exc.args[0].split(':')[0] if exc.args else exc})")
            continue
        except RecursionError:
            yield RowError(where, "JSON nested too deeply to read")
            continue
        if not isinstance(record, dict):
            yield RowError(where, f"expected a JSON object, got {type(record).__name__}")
            continue
        try:
            yield record_to_post(record, default_source=default_source, now=now)
        except RecordError as exc:
            yield RowError(where, str(exc))
