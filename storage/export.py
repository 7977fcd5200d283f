"""A full data export: every table as JSON Lines, with a manifest of row counts."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers every table)
from config.masking import SecretMasker
from storage.private import open_private, private_dir, write_private


def _plain(value: Any) -> Any:
    """A column value as JSON: times in ISO 8601, bytes in base64."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Decimal):
        return str(value)
    return value


def export_tables(engine: Engine, out_dir: Path, *, secrets: Iterable[str] = (), batch: int = 1000) -> dict[str, int]:
    """Write `<table>.jsonl` for every table present in the database; returns rows written per table.

    Configured secret values are masked in every line, should one ever have been stored.
    """
    private_dir(out_dir)
    mask = SecretMasker(secrets).mask
    present = set(inspect(engine).get_table_names())
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            if table.name not in present:
                continue
            count = 0
            key = list(table.primary_key.columns)
            query = select(table).order_by(*key).execution_options(yield_per=batch)
            with open_private(out_dir / f"{table.name}.jsonl") as fh:
                for row in conn.execute(query):
                    record = {k: _plain(v) for k, v in row._mapping.items()}
                    fh.write(mask(json.dumps(record, ensure_ascii=False, sort_keys=True)) + "\n")
                    count += 1
            counts[table.name] = count
    manifest = {"format": "socmint-export/1", "tables": counts}
    write_private(out_dir / "manifest.json", json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return counts
