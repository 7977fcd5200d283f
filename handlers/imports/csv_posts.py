"""CSV of posts: the JSONL columns (id, text, source, author, created_at, url, lang, reply_to…), streamed.

Other column names can be mapped: `{"id": "tweet_id", "text": "content"}` reads our `id` from
their `tweet_id` column.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import BinaryIO

from handlers.imports.record import FIELDS, RecordError, RowError, Skipped, record_to_post
from handlers.monitor.post import Post

MAX_FIELD_CHARS = 1 << 20
REQUIRED = ("id", "text")


class CsvHeaderError(ValueError):
    """The header lacks a required column: nothing in the file can be imported."""


def parse_mapping(text: str | None) -> dict[str, str]:
    """`id=tweet_id,text=content` → {"id": "tweet_id", "text": "content"}; ValueError when malformed."""
    mapping: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        ours, sep, theirs = part.partition("=")
        ours, theirs = ours.strip(), theirs.strip()
        if not sep or not theirs or ours not in FIELDS:
            raise ValueError(f"bad mapping {part.strip()!r}: use field=column with field one of {', '.join(FIELDS)}")
        mapping[ours] = theirs
    return mapping


def read_csv(stream: BinaryIO, *, default_source: str, now: datetime,
             mapping: Mapping[str, str] | None = None) -> Iterator[Post | RowError | Skipped]:
    """Each row → a Post, a RowError naming the line and field, or Skipped for an empty row."""
    csv.field_size_limit(min(sys.maxsize, MAX_FIELD_CHARS))
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")
    reader = csv.reader(text)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return
    except (csv.Error, UnicodeDecodeError) as exc:
        raise CsvHeaderError(f"line 1: unreadable header ({exc})") from None
    columns = {name: index for index, name in enumerate(header)}
    wanted = {ours: (mapping or {}).get(ours, ours) for ours in FIELDS}
    missing = [f"{ours} (column {theirs!r})" if theirs != ours else ours
               for ours, theirs in wanted.items() if ours in REQUIRED and theirs not in columns]
    if missing:
        raise CsvHeaderError(f"line 1: the header has no {' or '.join(missing)} column; "
                             f"columns found: {', '.join(header)[:200]}")
    index = {ours: columns[theirs] for ours, theirs in wanted.items() if theirs in columns}
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            yield RowError(f"line {start}", "not UTF-8; the rest of the file was not read")
            return
        except csv.Error as exc:
            yield RowError(f"line {start}", f"malformed CSV ({exc})")
            continue
        where = f"line {start}"
        if not any(cell.strip() for cell in row):
            yield Skipped(where, "empty row")
            continue
        if len(row) != len(header):
            yield RowError(where, f"{len(row)} fields where the header has {len(header)}")
            continue
        record = {ours: row[i] for ours, i in index.items()}
        try:
            yield record_to_post(record, default_source=default_source, now=now)
        except RecordError as exc:
            yield RowError(where, str(exc))
