"""A consistent copy of a SQLite database while the bot keeps writing to it (sqlite3's online backup API)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from storage.private import PRIVATE_DIR, private_file


class BackupError(Exception):
    """The backup cannot be made; the message says why and what to do instead."""


def sqlite_path(url: str) -> Path:
    """The database file of a SQLite URL; BackupError for other databases or in-memory ones."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise BackupError(f"the database is {parsed.get_backend_name()}, not SQLite: back it up with its own "
                          "tools (PostgreSQL: pg_dump -Fc, or your provider's snapshots)")
    if not parsed.database or parsed.database == ":memory:":
        raise BackupError("the database is in memory; there is nothing to back up")
    return Path(parsed.database)


def backup_sqlite(url: str, target: Path, *, pages_per_step: int = 1024) -> int:
    """Copy the database at `url` to `target` (which must not exist) page by page; returns its size in bytes.

    The backup API copies a consistent snapshot even while other connections write (it restarts
    steps when the source changes), and the copy is written to a temporary name first, so a
    half-written file never carries the final name.
    """
    source_path = sqlite_path(url)
    if not source_path.exists():
        raise BackupError(f"{source_path} does not exist")
    if target.exists():
        raise BackupError(f"{target} exists; choose another name")
    target.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    private_file(partial)  # the copy holds everything the database does: 0600 from its first byte
    source = sqlite3.connect(source_path, timeout=30)
    try:
        dest = sqlite3.connect(partial)
        try:
            source.backup(dest, pages=pages_per_step)
            check = dest.execute("PRAGMA integrity_check").fetchone()
            if not check or check[0] != "ok":
                raise BackupError(f"the copy failed its integrity check: {check}")
            dest.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            dest.close()
    finally:
        source.close()
    partial.rename(target)
    return target.stat().st_size
