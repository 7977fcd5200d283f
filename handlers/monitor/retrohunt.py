"""Retro-hunt: run watch queries over a JSONL file of posts offline, with the live matcher.

`socmint match --watches FILE --posts FILE.jsonl` prints one JSON object per match
(`{"watch": ID, "post": ID, "terms": [...]}`) as it goes, and a summary on stderr.

Rows are read as `socmint import` reads them (the same fields, the same errors for bad rows), but a row of
the usual shape goes straight to the matcher's normalised form, without building a full post: the text
(HTML entities decoded) with its links, title, source, author handle and language are all that queries look
at (the scan finds its hashtags). Any other row takes the import's own path. Start-up
imports only what matching needs.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, TextIO

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


def _simple(record: dict[str, object]) -> NormalisedPost | None:
    """The normalised post of a row of the usual shape, or None: then the import's own path decides."""
    ident, text, title = record.get("id"), record.get("text"), record.get("title")
    if (not isinstance(ident, str | int) or isinstance(ident, bool) or not str(ident).strip()
            or len(str(ident)) > 256 or not isinstance(text, str) or not text.strip()
            or (title is not None and not (isinstance(title, str) and len(title.strip()) <= 1024))
            or not _SIMPLE_FIELDS.issuperset(record)):
        return None
    for name, limit in _SCALAR_LIMITS.items():
        value = record.get(name)
        if value not in (None, "") and (isinstance(value, bool) or not isinstance(value, str | int | float)
                                        or len(str(value).strip()) > limit):
            return None
    source, lang, author = record.get("source") or DEFAULT_SOURCE, record.get("lang"), record.get("author")
    url, created = record.get("url"), record.get("created_at")
    if not isinstance(source, str) or not _SOURCE.match(source := source.strip().lower()):
        return None
    if lang not in (None, "") and not (isinstance(lang, str) and len(lang) <= 16 and _LANG.match(lang.strip())):
        return None
    if author is not None and not (isinstance(author, str) and len(author) <= 256):
        return None
    if url not in (None, "") and not (isinstance(url, str) and url.strip().lower().startswith(("http://", "https://"))):
        return None
    if isinstance(created, str) and created.strip() and not created.strip().isdigit():
        try:
            datetime.fromisoformat(created.strip())
        except ValueError:
            return None
    elif created not in (None, "") and (isinstance(created, bool) or not isinstance(created, int | float | str)):
        return None
    if "&" in text:
        text = html.unescape(text)
    handle = author.strip().lstrip("@") or None if isinstance(author, str) else None
    return NormalisedPost.of_fields(
        text, title=title or None, source=source, handle=handle,
        lang=lang.strip() if isinstance(lang, str) and lang.strip() else None,
        urls=find_urls(text) if "://" in text else (),  # hashtags: the scan finds every one the import's finder does
    )


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
            record = json.loads(line)
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
    counts = {"posts": 0, "bad": 0, "matches": 0, "matched_posts": 0}
    match = matcher.match_normalised
    dumps = json.dumps
    for number, post_id, post in _read(posts, datetime.now(UTC)):
        if isinstance(post, str):
            err.write(f"posts:{number}: {post} (skipped)\n")
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


def run(watches_file: str | Path, posts_file: str | Path, out: TextIO, err: TextIO) -> int:
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
    args = parser.parse_args(argv)
    return run(args.watches, args.posts, sys.stdout, sys.stderr)
