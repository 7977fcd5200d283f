"""`socmint import FILE`: the same import as /import, from the command line, against the bot's database."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from handlers.imports.command import report_reply
from handlers.imports.csv_posts import parse_mapping
from handlers.imports.importer import FORMATS, ImportFailed, import_file


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="socmint import",
                                     description="Import posts: Telegram Desktop result.json, JSONL or CSV.")
    parser.add_argument("file", type=Path)
    parser.add_argument("--format", choices=sorted(FORMATS), help="default: detected from the name and content")
    parser.add_argument("--source", help="source name for rows that do not say (default: import)")
    parser.add_argument("--map", dest="mapping", help="CSV column mapping, e.g. id=tweet_id,text=content")
    args = parser.parse_args(argv)
    try:
        mapping = parse_mapping(args.mapping) if args.mapping else None
    except ValueError as exc:
        parser.error(str(exc))
    return asyncio.run(_run(args.file, args.format, args.source, mapping))


async def _run(path: Path, fmt: str | None, source: str | None, mapping: dict[str, str] | None) -> int:
    from bot.app import App
    from bot.cli import _settings
    from bot.render.text import render_text

    app = App(_settings())
    app.services.background = False  # match and store; alerting stays with the running bot
    await app.start()
    try:
        report = await import_file(app.services, path, fmt, source=source, mapping=mapping)
    except ImportFailed as exc:
        print(f"socmint import: {exc}", file=sys.stderr)
        return 2
    finally:
        await app.stop()
    print(render_text(report_reply(report, path.name)))
    return 0
