"""`socmint export-data`, `socmint backup` and `socmint purge`: data governance from the shell."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from config.settings import ConfigError, Settings, load_settings
from storage import audit
from storage.backup import BackupError, backup_sqlite
from storage.db import Database
from storage.export import export_tables
from storage.retention import purge
from storage.types import utcnow

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
OPERATOR = "cli:0"


def _settings(prog: str, err: TextIO) -> Settings | None:
    try:
        return load_settings()
    except ConfigError as exc:
        print(f"{prog}: configuration error\n{exc}", file=err)
        return None


def _stamp() -> str:
    return utcnow().strftime("%Y%m%d-%H%M%S")


def export_main(argv: list[str], out: TextIO | None = None, err: TextIO | None = None) -> int:
    """`socmint export-data [--out DIR]`: every table as JSON Lines, secrets masked."""
    out, err = out or sys.stdout, err or sys.stderr
    parser = argparse.ArgumentParser(prog="socmint export-data",
                                     description="Export every table as JSON Lines (one file per table).")
    parser.add_argument("--out", type=Path, help="output folder (default: <data_dir>/export-<time>); must be empty")
    args = parser.parse_args(argv)
    settings = _settings("socmint export-data", err)
    if settings is None:
        return EXIT_USAGE
    target = args.out or settings.data_dir / f"export-{_stamp()}"
    if target.exists() and any(target.iterdir()):
        print(f"socmint export-data: {target} is not empty; choose another folder", file=err)
        return EXIT_USAGE
    db = Database(settings.database.url or "")
    try:
        counts = export_tables(db.engine, target, secrets=settings.secrets())
    finally:
        db.close()
    for table, n in counts.items():
        print(f"{n:>9}  {table}", file=out)
    print(f"exported {sum(counts.values())} rows from {len(counts)} tables to {target}", file=out)
    return EXIT_OK


def backup_main(argv: list[str], out: TextIO | None = None, err: TextIO | None = None) -> int:
    """`socmint backup [FILE]`: a consistent copy of the SQLite database, safe while the bot runs."""
    out, err = out or sys.stdout, err or sys.stderr
    parser = argparse.ArgumentParser(prog="socmint backup",
                                     description="Copy the SQLite database consistently, even while the bot runs.")
    parser.add_argument("file", nargs="?", type=Path,
                        help="the copy to write (default: <data_dir>/backups/socmint-<time>.db); must not exist")
    args = parser.parse_args(argv)
    settings = _settings("socmint backup", err)
    if settings is None:
        return EXIT_USAGE
    target = args.file or settings.data_dir / "backups" / f"socmint-{_stamp()}.db"
    try:
        size = backup_sqlite(settings.database.url or "", target)
    except BackupError as exc:
        print(f"socmint backup: {exc}", file=err)
        return EXIT_PROBLEMS
    print(f"backed up {size:,} bytes to {target}", file=out)
    return EXIT_OK


def purge_main(argv: list[str], out: TextIO | None = None, err: TextIO | None = None) -> int:
    """`socmint purge`: delete data older than the retention settings, once, now."""
    out, err = out or sys.stdout, err or sys.stderr
    parser = argparse.ArgumentParser(prog="socmint purge",
                                     description="Delete data older than [governance.retention] now.")
    parser.parse_args(argv)
    settings = _settings("socmint purge", err)
    if settings is None:
        return EXIT_USAGE
    db = Database(settings.database.url or "")
    try:
        db.migrate()
        retention = settings.governance.retention
        with db.session() as session:
            counts = purge(session, retention, utcnow())
            audit.record(session, user=OPERATOR, chat=OPERATOR, command="purge", args="", outcome="ok",
                         detail=", ".join(f"{k} {v}" for k, v in counts.items()))
    finally:
        db.close()
    for kind, n in counts.items():
        print(f"{n:>9}  {kind}", file=out)
    print(f"deleted {sum(counts.values())} rows past their retention", file=out)
    return EXIT_OK
