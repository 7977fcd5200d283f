"""Private files: everything the bot writes about people is readable by its own user only.

The data directory (database, WAL and SHM files, backups, exports, saved attachments, cached site
lists) is 0700 and every file in it 0600, as is the config file `socmint init` writes. Files are
created with those modes (never briefly world-readable) and existing ones are tightened.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) as 0700; an existing `path` is tightened to 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    path.chmod(PRIVATE_DIR)
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty as 0600 if it does not exist; tighten it to 0600 if it does."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE)
    os.close(fd)
    path.chmod(PRIVATE_FILE)
    return path


def tighten(path: Path) -> None:
    """Make an existing file 0600 (nothing when it does not exist)."""
    with contextlib.suppress(FileNotFoundError):
        path.chmod(PRIVATE_FILE)


def write_private(path: Path, data: bytes | str) -> Path:
    """Write `path` (replacing it) as a 0600 file."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as fh:
        fh.write(raw)
    path.chmod(PRIVATE_FILE)
    return path


def open_private(path: Path):  # type: ignore[no-untyped-def]
    """`path` opened for writing text (replacing it) as a 0600 file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    os.fchmod(fd, PRIVATE_FILE)
    return os.fdopen(fd, "w", encoding="utf-8")


@contextlib.contextmanager
def private_umask():  # type: ignore[no-untyped-def]
    """Within the block, files and folders this process creates are private (umask 077)."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)
