"""Retro-hunt: run watch queries over a JSONL file of posts offline, with the live matcher.

`socmint match --watches FILE --posts FILE.jsonl` prints one JSON object per match
(`{"watch": ID, "post": ID, "terms": [...]}`) as it goes, and a summary on stderr.

Rows are read as `socmint import` reads them (the same fields, the same errors for bad rows), but a row of
the usual shape goes straight to the matcher's normalised form, without building a full post: the text
(HTML entities decoded) with its links, title, source, author handle and language are all that queries look
at (the scan finds its hashtags). Any other row takes the import's own path. Start-up
imports only what matching needs.

Rows are parsed by orjson; a row it refuses, or one with a 19-digit run (orjson reads integers beyond 64
bits as floats), is parsed by `json`, so that rows read as `socmint import` reads them (NaN, big integers,
lone surrogates), with the same messages. A file
is split into chunks of whole lines matched by `--jobs` forked processes (the compiled watches shared with
them); matches and messages come out in the file's order, as from one process.
"""

from __future__ import annotations

import argparse
import gc
import html
import io
import json
import multiprocessing
import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, TextIO

import orjson

from handlers.monitor.matcher import Match, Matcher
from handlers.monitor.normalise import NormalisedPost
from handlers.monitor.query import QueryError, parse_query
from handlers.monitor.sources.html_text import find_urls

DEFAULT_SOURCE = "import"
MAX_LINE_BYTES = 1 << 20  # as `socmint import`: a longer line is reported, not loaded
_SOURCE = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,31}$")  # the import's rules (handlers/imports/record.py)
_LANG = re.compile(r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*$")
_SIMPLE_FIELDS = frozenset({"id", "text", "title", "source", "lang", "author", "created_at", "url",
                            "author_id", "author_name", "reply_to"})
_SCALAR_LIMITS = {"author_id": 256, "author_name": 512, "reply_to": 256}  # fields read but not matched
CHUNK_BYTES = 4 << 20  # one process's share of the file at a time
MAX_REMEMBERED = 4096  # distinct source and lang values whose check is remembered


@dataclass(frozen=True, slots=True)
class WatchLine:
    """One query read from a watches file; `watch` is the id printed in matches."""

    watch: int | str
    line: int
    query: str


def read_watches(lines: Iterator[str], err: TextIO) -> Iterator[WatchLine]:
    """Queries of a watches file: blank and `#` lines skipped; id = line number or the `id<TAB>` prefix."""
    for number, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            if len(stripped) > 1 and not stripped[1].isspace() and stripped[1] != "#":
                err.write(f"watches:{number}: skipped as a comment; to watch a hashtag first, write "
                          f"'{number}<TAB>{stripped}'\n")
            continue
        if "\t" in line:
            ident, query = line.split("\t", 1)
            ident = ident.strip()
            yield WatchLine(int(ident) if ident.isdecimal() else ident, number, query)
        else:
            yield WatchLine(number, number, line)


def load_watches(path: Path, err: TextIO) -> tuple[Matcher, dict[int, int | str], int]:
    """Parse a watches file into a matcher; returns (matcher, internal id → watch id, lines skipped)."""
    ids: dict[int, int | str] = {}
    seen: dict[int | str, int] = {}
    compiled = []
    skipped = 0
    with path.open(encoding="utf-8", errors="replace") as handle:
        for entry in read_watches(handle, err):
            problem = None
            if entry.watch == "":
                problem = "empty id before the tab"
            elif entry.watch in seen:
                problem = f"id {entry.watch} already used on line {seen[entry.watch]}"
            else:
                try:
                    query = parse_query(entry.query)
                except QueryError as exc:
                    problem = str(exc)
            if problem:
                err.write(f"watches:{entry.line}: {problem} (skipped)\n")
                skipped += 1
                continue
            seen[entry.watch] = entry.line
            ids[len(ids) + 1] = entry.watch
            compiled.append((len(ids), query, None))
    matcher = Matcher()
    matcher.add_many(compiled)
    return matcher, ids, skipped


_SOURCES: dict[str, str | None] = {}
_LANGS: dict[str, str | None] = {}


def _source(raw: str) -> str | None:
    """The source name as stored, or None when the import would refuse it (remembered: a file has few)."""
    if (known := _SOURCES.get(raw, "")) != "":
        return known
    name = raw.strip().lower()
    result = name if _SOURCE.match(name) else None
    if len(_SOURCES) < MAX_REMEMBERED:
        _SOURCES[raw] = result
    return result


def _lang(raw: str) -> str | None:
    """The language tag as stored, or None when the import would refuse it (remembered: a file has few)."""
    if (known := _LANGS.get(raw, "")) != "":
        return known
    tag = raw.strip()
    result = tag if len(raw) <= 16 and _LANG.match(tag) else None
    if len(_LANGS) < MAX_REMEMBERED:
        _LANGS[raw] = result
    return result


def _simple(record: dict[str, object]) -> NormalisedPost | None:
    """The normalised post of a row of the usual shape, or None: then the import's own path decides.

    Rows come from JSON, so every value is exactly a str, int, float, bool, None, list or dict: `type(v) is str`
    is `isinstance` without the subclass walk.
    """
    if not _SIMPLE_FIELDS.issuperset(record):
        return None
    get = record.get
    ident, text, title = get("id"), get("text"), get("title")
    kind = type(ident)
    if kind is str:
        if not ident or len(ident) > 256 or ident.isspace():  # type: ignore[arg-type, union-attr]
            return None
    elif kind is not int or len(str(ident)) > 256:
        return None
    if type(text) is not str or not text or text.isspace():
        return None
    if title is not None and not (type(title) is str and len(title.strip()) <= 1024):
        return None
    for name, limit in _SCALAR_LIMITS.items():
        if name in record and (value := record[name]) not in (None, "") and (
                type(value) not in (str, int, float) or len(str(value).strip()) > limit):
            return None
    source, lang, author = get("source") or DEFAULT_SOURCE, get("lang"), get("author")
    url, created = get("url"), get("created_at")
    if type(source) is not str or (source := _source(source)) is None:
        return None
    if lang in (None, ""):
        lang = None
    elif type(lang) is not str or (lang := _lang(lang)) is None:
        return None
    if author is not None and not (type(author) is str and len(author) <= 256):
        return None
    if url not in (None, "") and not (type(url) is str and url.strip().lower().startswith(("http://", "https://"))):
        return None
    if type(created) is str:
        stamp = created.strip()
        if created and not stamp:
            return None  # blank: the import refuses it
        if stamp and not stamp.isdigit():
            try:
                datetime.fromisoformat(stamp)
            except ValueError:
                return None
    elif created not in (None, "") and type(created) not in (int, float):
        return None
    if "&" in text:
        text = html.unescape(text)
    handle = author.strip().lstrip("@") or None if type(author) is str else None
    return NormalisedPost.of_fields(
        text, title=title or None, source=source, handle=handle, lang=lang,
        urls=find_urls(text) if "://" in text else (),  # hashtags: the scan finds every one the import's finder does
    )


_LONG_NUMBER = re.compile(rb"\d{19}")  # orjson reads an integer beyond 64 bits as a float; json keeps it exact


def _loads(line: bytes) -> object:
    """A row parsed as `socmint import` parses it (`json`), by orjson whenever it gives the same."""
    if _LONG_NUMBER.search(line) is None:
        try:
            return orjson.loads(line)
        except orjson.JSONDecodeError:
            pass
    return json.loads(line)


def _read(posts: BinaryIO, now: datetime) -> Iterator[tuple[int, object, NormalisedPost | str]]:
    """Per row: its line number, the post id as written and the normalised post, or the error message."""
    number = 0
    while line := posts.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := posts.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass
            yield number, None, f"longer than {MAX_LINE_BYTES // 1024} KiB"
            continue
        if not line.strip():
            continue
        try:
            record = _loads(line)
        except UnicodeDecodeError:
            yield number, None, "not UTF-8"
            continue
        except ValueError as exc:
            yield number, None, f"invalid JSON ({exc.args[0].split(':')[0] if exc.args else exc})"
            continue
        if not isinstance(record, dict):
            yield number, None, f"expected a JSON object, got {type(record).__name__}"
            continue
        post = _simple(record)
        if post is None:  # an unusual row: the import decides what it is
            from handlers.imports.record import RecordError, record_to_post

            try:
                full = record_to_post(record, default_source=DEFAULT_SOURCE, now=now)
            except RecordError as exc:
                yield number, None, str(exc)
                continue
            post = NormalisedPost.of(full)
        yield number, record.get("id"), post


def hunt(matcher: Matcher, ids: dict[int, int | str], posts: BinaryIO, out: TextIO, err: TextIO) -> dict[str, int]:
    """Match every post of a JSONL stream, writing matches to `out`; returns counts."""
    return hunt_lines(matcher, ids, posts, out, err, 0)


def hunt_lines(matcher: Matcher, ids: dict[int, int | str], posts: BinaryIO, out: TextIO, err: TextIO,
               first_line: int) -> dict[str, int]:
    """`hunt`, numbering the stream's lines after `first_line`."""
    counts = {"posts": 0, "bad": 0, "matches": 0, "matched_posts": 0}
    match = matcher.match_normalised
    dumps = json.dumps
    for number, post_id, post in _read(posts, datetime.now(UTC)):
        if isinstance(post, str):
            err.write(f"posts:{first_line + number}: {post} (skipped)\n")
            counts["bad"] += 1
            continue
        counts["posts"] += 1
        matches: list[Match] = match(post)
        if not matches:
            continue
        counts["matched_posts"] += 1
        counts["matches"] += len(matches)
        for found in matches:
            out.write(dumps({"watch": ids[found.watch_id], "post": post_id, "terms": list(found.terms)},
                            ensure_ascii=False) + "\n")
    out.flush()
    return counts


_SHARED: tuple[Matcher, dict[int, int | str], str] | None = None  # what forked workers inherit


def _chunks(path: Path) -> Iterator[tuple[int, int]]:
    """(start, end) byte spans of about CHUNK_BYTES each, every one whole lines."""
    size = path.stat().st_size
    start = 0
    with path.open("rb") as handle:
        while start < size:
            end = min(size, start + CHUNK_BYTES)
            if end < size:
                handle.seek(end - 1)
                while (block := handle.read(1 << 16)) and (cut := block.find(b"\n")) < 0:
                    end += len(block)
                end = end + cut if block else size
            yield start, end
            start = end


def _hunt_chunk(span: tuple[int, int]) -> tuple[dict[str, int], str, str]:
    """In a worker: counts, matches and messages of one span (line numbers relative to it)."""
    assert _SHARED is not None
    matcher, ids, path = _SHARED
    with open(path, "rb") as handle:
        handle.seek(span[0])
        data = handle.read(span[1] - span[0])
    out, err = io.StringIO(), io.StringIO()
    counts = hunt_lines(matcher, ids, io.BytesIO(data), out, err, 0)
    counts["lines"] = data.count(b"\n") + (not data.endswith(b"\n"))
    return counts, out.getvalue(), err.getvalue()


_ERROR_LINE = re.compile(r"^posts:(\d+):", re.M)


def hunt_parallel(matcher: Matcher, ids: dict[int, int | str], path: Path, jobs: int, out: TextIO,
                  err: TextIO) -> dict[str, int]:
    """`hunt` over a file by `jobs` forked processes, a chunk each at a time, output in the file's order."""
    global _SHARED
    _SHARED = (matcher, ids, str(path))
    gc.freeze()  # the compiled watches stay shared with the workers, untouched by their collector
    counts = {"posts": 0, "bad": 0, "matches": 0, "matched_posts": 0, "lines": 0}
    try:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            for part, found, messages in pool.imap(_hunt_chunk, _chunks(path)):
                offset = counts["lines"]
                out.write(found)
                err.write(_ERROR_LINE.sub(lambda m, at=offset: f"posts:{at + int(m[1])}:", messages))
                for key, value in part.items():
                    counts[key] += value
    finally:
        _SHARED = None
        gc.unfreeze()
    out.flush()
    return counts


def default_jobs() -> int:
    """The processes a hunt uses unless told: one per core this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run(watches_file: str | Path, posts_file: str | Path, out: TextIO, err: TextIO, jobs: int = 1) -> int:
    """The whole retro-hunt; returns the process exit code (0 done, 2 unusable input)."""
    started = time.perf_counter()
    try:
        matcher, ids, skipped_watches = load_watches(Path(watches_file), err)
    except OSError as exc:
        err.write(f"cannot read watches file: {exc}\n")
        return 2
    if not len(matcher):
        err.write("no valid watch queries in the watches file\n")
        return 2
    try:
        if str(posts_file) == "-":
            counts = hunt(matcher, ids, sys.stdin.buffer, out, err)
        elif jobs > 1 and Path(posts_file).stat().st_size > CHUNK_BYTES:
            counts = hunt_parallel(matcher, ids, Path(posts_file), jobs, out, err)
        else:
            with Path(posts_file).open("rb") as posts:
                counts = hunt(matcher, ids, posts, out, err)
    except OSError as exc:
        err.write(f"cannot read posts file: {exc}\n")
        return 2
    elapsed = time.perf_counter() - started
    err.write(
        f"{len(matcher)} watches ({skipped_watches} skipped), {counts['posts']} posts ({counts['bad']} skipped), "
        f"{counts['matches']} matches in {counts['matched_posts']} posts, {elapsed:.2f} s\n"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """`socmint match --watches FILE --posts FILE.jsonl` (posts `-` = stdin)."""
    parser = argparse.ArgumentParser(prog="socmint match", description="Run watch queries over a JSONL file of posts.")
    parser.add_argument("--watches", required=True, help="one query per line, or id<TAB>query; # comments")
    parser.add_argument("--posts", required=True, help="JSON Lines, one post per line with id and text ('-' = stdin)")
    parser.add_argument("--jobs", type=int, default=default_jobs(),
                        help="processes that share a file's lines (default: one per usable core)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be 1 or more")
    return run(args.watches, args.posts, sys.stdout, sys.stderr, args.jobs)
