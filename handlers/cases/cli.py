"""`socmint case list` and `socmint case export ID --format html|pdf|md|json|csv|stix|gexf [--out FILE]`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import BinaryIO, TextIO

from config.settings import ConfigError, Settings, load_settings
from handlers.cases.bundle import load
from handlers.cases.export import FORMATS, export, filename
from handlers.cases.export_pdf import PdfUnavailable
from storage import cases as store
from storage.db import Database
from storage.models import Case
from storage.private import write_private
from storage.types import utcnow

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="socmint case", description="Work with cases outside the chat.")
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("list", help="every case of every chat")
    p = sub.add_parser("export", help="write a case to a file")
    p.add_argument("id", type=int, help="case id")
    p.add_argument("--format", choices=tuple(FORMATS), default="html",
                   help="; ".join(f"{k}: {f.description}" for k, f in FORMATS.items()))
    p.add_argument("--out", help="output file (default: case-<id>-<title>.<ext> here; - for stdout)")
    return parser


def _open_db() -> tuple[Database, Settings]:
    settings = load_settings()
    db = Database(settings.database.url or "")
    db.migrate()
    return db, settings


def main(argv: list[str], out: TextIO | None = None, binary_out: BinaryIO | None = None) -> int:
    """Run `socmint case …`; returns the exit status."""
    args = _parser().parse_args(argv)
    out = out or sys.stdout
    try:
        db, settings = _open_db()
    except ConfigError as exc:
        print(f"socmint case: configuration error\n{exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.action == "list":
            return _list(db, out)
        return _export(db, settings, args, out, binary_out)
    finally:
        db.close()


def _list(db: Database, out: TextIO) -> int:
    with db.session() as session:
        cases = store.every(session)
        counts = store.entity_counts(session, [c.id or 0 for c in cases])
    for c in cases:
        print(f"{c.id:>5}  {c.status:<6}  {c.chat_platform}:{c.chat_id}  {counts.get(c.id or 0, 0):>4} entities  "
              f"{c.title}", file=out)
    if not cases:
        print("no cases", file=out)
    return EXIT_OK


def _export(db: Database, settings: Settings, args: argparse.Namespace, out: TextIO,
            binary_out: BinaryIO | None) -> int:
    with db.session() as session:
        case = session.get(Case, args.id)
        if case is None:
            print(f"socmint case export: there is no case {args.id}", file=sys.stderr)
            return EXIT_PROBLEMS
        bundle = load(session, case, utcnow(), settings)
    try:
        data = asyncio.run(export(bundle, args.format))
    except PdfUnavailable as exc:
        print(f"socmint case export: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    if args.out == "-":
        (binary_out or sys.stdout.buffer).write(data)
        return EXIT_OK
    path = Path(args.out or filename(bundle, args.format))
    write_private(path, data)
    print(f"wrote {path} ({len(data)} bytes, case {case.id}: {len(bundle.entities)} entities, "
          f"{len(bundle.links)} links)", file=out)
    return EXIT_OK
