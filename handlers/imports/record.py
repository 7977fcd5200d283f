"""One imported record (a JSONL object or a CSV row) → a normalised Post, with field-level errors."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from handlers.monitor.post import Author, Post
from handlers.monitor.sources.html_text import plain_text
from handlers.monitor.sources.payload import from_iso

FIELDS = ("id", "text", "source", "author", "author_id", "author_name", "created_at", "url", "lang",
          "reply_to", "title")
SOURCE_RE = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,31}$")
LANG_RE = re.compile(r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*$")
MAX_ID = 256
MAX_DEPTH = 32  # lists and objects inside a record; deeper ones cannot be stored (or even serialised) safely
_SURROGATE = re.compile("[\ud800-\udfff]")
MS_EPOCH_FROM = 100_000_000_000  # a number of "seconds" above this is milliseconds (year 5138 otherwise)


class RecordError(ValueError):
    """A record that cannot become a post; names the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class RowError:
    """A bad row in an import: where it is (`line 12`, `message 345`) and what is wrong."""

    where: str
    message: str


@dataclass(frozen=True)
class Skipped:
    """A row with nothing to import (a service message, a blank record)."""

    where: str
    reason: str


def check_values(record: Mapping[str, Any]) -> None:
    """RecordError (naming the field) for what no database can store: a lone surrogate, or deep nesting."""
    stack: list[tuple[Any, int, str]] = [(v, 1, str(k)) for k, v in record.items()]
    for key in record:
        if isinstance(key, str) and _SURROGATE.search(key):
            raise RecordError("record", "a field name is not valid Unicode (a lone surrogate such as \\ud800)")
    while stack:
        value, depth, name = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                raise RecordError(name, "not valid Unicode (a lone surrogate such as \\ud800)")
            continue
        if not isinstance(value, dict | list):
            continue
        if depth >= MAX_DEPTH:
            raise RecordError(name, f"nested more than {MAX_DEPTH} levels deep")
        items = list(value.items()) if isinstance(value, dict) else [(None, v) for v in value]
        for key, inner in items:
            if isinstance(key, str) and _SURROGATE.search(key):
                raise RecordError(name, "a key is not valid Unicode (a lone surrogate such as \\ud800)")
            stack.append((inner, depth + 1, name))


def parse_time(value: Any) -> datetime:
    """ISO 8601 (naive = UTC) or Unix epoch seconds (milliseconds are recognised) → aware UTC."""
    if isinstance(value, bool):
        raise RecordError("created_at", "expected a time, got a boolean")
    if isinstance(value, int | float) or (isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*", value)):
        seconds = float(value)
        if seconds >= MS_EPOCH_FROM:
            seconds /= 1000
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise RecordError("created_at", f"epoch {value!r} is out of range") from None
    if isinstance(value, str):
        try:
            return from_iso(value)
        except ValueError:
            raise RecordError("created_at", f"{value[:40]!r} is not ISO 8601 or epoch seconds") from None
    raise RecordError("created_at", f"expected ISO 8601 or epoch seconds, got {type(value).__name__}")


def _text_field(rec: Mapping[str, Any], name: str, *, limit: int | None = None) -> str | None:
    value = rec.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise RecordError(name, f"expected text, got {type(value).__name__}")
    text = str(value).strip()
    if limit and len(text) > limit:
        raise RecordError(name, f"longer than {limit} characters")
    return text or None


def _author(rec: Mapping[str, Any]) -> Author:
    value = rec.get("author")
    if isinstance(value, Mapping):
        handle = value.get("handle") or value.get("username") or value.get("screen_name")
        ident, name = value.get("id"), value.get("name") or value.get("display_name")
        return Author(id=str(ident) if ident is not None else None,
                      handle=str(handle).lstrip("@") if handle else None, name=str(name) if name else None)
    handle = _text_field(rec, "author", limit=MAX_ID)
    return Author(id=_text_field(rec, "author_id", limit=MAX_ID),
                  handle=handle.lstrip("@") if handle else None,
                  name=_text_field(rec, "author_name", limit=512))


def record_to_post(rec: Mapping[str, Any], *, default_source: str, now: datetime) -> Post:
    """A record with at least `id` and `text` → Post; RecordError names the first bad field."""
    check_values(rec)
    ident = _text_field(rec, "id", limit=MAX_ID)
    if ident is None:
        raise RecordError("id", "missing or empty")
    if "text" not in rec or rec["text"] is None:
        raise RecordError("text", "missing")
    if not isinstance(rec["text"], str):
        raise RecordError("text", f"expected text, got {type(rec['text']).__name__}")
    title = _text_field(rec, "title", limit=1024)
    if not rec["text"].strip() and not title:
        raise RecordError("text", "empty")
    source = (_text_field(rec, "source", limit=32) or default_source).lower()
    if not SOURCE_RE.match(source):
        raise RecordError("source", f"{source!r} is not a source name (letters, digits, _ . -)")
    url = _text_field(rec, "url", limit=2048)
    if url and not url.lower().startswith(("http://", "https://")):
        raise RecordError("url", "must start with http:// or https://")
    lang = _text_field(rec, "lang", limit=16)
    if lang and not LANG_RE.match(lang):
        raise RecordError("lang", f"{lang!r} is not a language code (e.g. en, pt-BR)")
    created = rec.get("created_at")
    body = plain_text(rec["text"])
    return Post(
        source=source,
        source_id=ident,
        text=body.text,
        title=title,
        created_at=now if created in (None, "") else parse_time(created),
        author=_author(rec),
        url=url,
        lang=lang,
        reply_to=_text_field(rec, "reply_to", limit=MAX_ID),
        mentions=body.mentions,
        hashtags=body.hashtags,
        urls=body.urls,
        raw=dict(rec),
    )
