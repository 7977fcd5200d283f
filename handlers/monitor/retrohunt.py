"""Retro-hunt: run watch queries over a JSONL file of posts offline, with the live matcher.

`socmint match --watches FILE --posts FILE.jsonl` prints one JSON object per match
(`{"watch": ID, "post": ID, "terms": [...]}`) as it goes, and a summary on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, TextIO

from handlers.imports.jsonl import read_jsonl
from handlers.imports.record import RowError
from handlers.monitor.matcher import Matcher
from handlers.monitor.post import Post
from handlers.monitor.query import QueryError, parse_query

DEFAULT_SOURCE = "import"


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


def _post_id(post: Post) -> object:
    """The post's id as written in the file."""
    return post.raw.get("id", post.source_id) if post.raw else post.source_id


def hunt(matcher: Matcher, ids: dict[int, int | str], posts: BinaryIO, out: TextIO, err: TextIO) -> dict[str, int]:
    """Match every post of a JSONL stream, writing matches to `out`; returns counts."""
    counts = {"posts": 0, "bad": 0, "matches": 0, "matched_posts": 0}
    for item in read_jsonl(posts, default_source=DEFAULT_SOURCE, now=datetime.now(UTC)):
        if isinstance(item, RowError):
            err.write(f"posts:{item.where.removeprefix('line ')}: {item.message} (skipped)\n")
            counts["bad"] += 1
            continue
        if not isinstance(item, Post):
            continue
        counts["posts"] += 1
        matches = matcher.match(item)
        if not matches:
            continue
        counts["matched_posts"] += 1
        counts["matches"] += len(matches)
        post_id = _post_id(item)
        for match in matches:
            out.write(json.dumps({"watch": ids[match.watch_id], "post": post_id, "terms": list(match.terms)},
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
