"""The JSON export: the full case in a versioned schema (`socmint.case`, version 1; fields are only added).

Values are raw (not defanged): this is data for tools. `marking` carries the TLP the case is shared under.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from handlers.cases.bundle import CaseBundle

SCHEMA = "socmint.case"
SCHEMA_VERSION = 1


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def to_dict(bundle: CaseBundle) -> dict[str, Any]:
    """The case as plain data: its marking and report settings, case, entities, links, notes, events, credits."""
    case, meta = bundle.case, bundle.meta
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "exported_at": _time(bundle.exported_at),
        "marking": {"tlp": meta.tlp.value, "label": meta.tlp.label, "meaning": meta.tlp.meaning,
                    "stix_marking_ref": meta.tlp.stix_id},
        "report": {"author": meta.author, "organisation": meta.organisation, "timezone": meta.dates.name},
        "case": {
            "id": case.id, "title": case.title, "status": case.status, "chat": bundle.chat,
            "created_by": case.created_by, "created_at": _time(case.created_at), "updated_at": _time(case.updated_at),
            "closed_by": case.closed_by, "closed_at": _time(case.closed_at), "summary": case.summary,
            "tlp": case.tlp,
        },
        "entities": [
            {"id": e.id, "kind": e.kind, "value": e.value, "key": e.key, "attrs": e.attrs, "sources": e.sources,
             "tags": e.tags, "added_by": e.added_by, "added_at": _time(e.added_at)}
            for e in bundle.entities
        ],
        "links": [
            {"id": lk.id, "src": lk.src_id, "dst": lk.dst_id, "kind": lk.kind, "source": lk.source,
             "added_by": lk.added_by, "added_at": _time(lk.added_at)}
            for lk in bundle.links
        ],
        "notes": [{"id": n.id, "text": n.text, "by": n.by, "at": _time(n.at)} for n in bundle.notes],
        "events": [{"id": ev.id, "at": _time(ev.at), "by": ev.by, "action": ev.action, "detail": ev.detail}
                   for ev in bundle.events],
        "credits": [{"source": s, "credit": c} for s, c in bundle.credits],
    }


def render(bundle: CaseBundle) -> bytes:
    return json.dumps(to_dict(bundle), ensure_ascii=False, indent=2).encode("utf-8")
