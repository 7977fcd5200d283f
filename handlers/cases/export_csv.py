"""The CSV export: a zip of entities.csv, links.csv, posts.csv, notes.csv and events.csv (bot.csvfile cells)."""

from __future__ import annotations

import io
import zipfile

from bot.csvfile import csv_bytes as table
from handlers.cases.bundle import CaseBundle


def tables(bundle: CaseBundle) -> dict[str, bytes]:
    """Each CSV file of the export by name."""
    ids = bundle.by_id
    return {
        "entities.csv": table(
            ["id", "kind", "value", "key", "tags", "sources", "added_by", "added_at", "attrs"],
            [[e.id, e.kind, e.value, e.key, ";".join(e.tags), ";".join(e.sources), e.added_by,
              e.added_at.isoformat(), {k: v for k, v in e.attrs.items() if k != "text"}] for e in bundle.entities]),
        "links.csv": table(
            ["id", "src_id", "src", "kind", "dst_id", "dst", "source", "added_by", "added_at"],
            [[lk.id, lk.src_id, ids[lk.src_id].value, lk.kind, lk.dst_id, ids[lk.dst_id].value, lk.source,
              lk.added_by, lk.added_at.isoformat()] for lk in bundle.links]),
        "posts.csv": table(
            ["entity_id", "source", "created_at", "author", "url", "title", "text"],
            [[p.id, p.attrs.get("source"), p.attrs.get("created_at"), p.attrs.get("author_handle"),
              p.attrs.get("url"), p.attrs.get("title"), p.attrs.get("text")] for p in bundle.posts]),
        "notes.csv": table(["id", "at", "by", "text"],
                           [[n.id, n.at.isoformat(), n.by, n.text] for n in bundle.notes]),
        "events.csv": table(["id", "at", "by", "action", "detail"],
                            [[ev.id, ev.at.isoformat(), ev.by, ev.action, ev.detail] for ev in bundle.events]),
    }


def render(bundle: CaseBundle) -> bytes:
    """The zip of every table."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in tables(bundle).items():
            archive.writestr(f"case-{bundle.case.id}/{name}", data)
    return buf.getvalue()
