"""The one CSV writer: every CSV the bot produces (exports, digests, wide tables) is written here.

Spreadsheets run a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return as a formula
(`=HYPERLINK(...)`, `+cmd|' /C calc'!A0`, `@SUM(...)`): such a cell gets a leading `'`, which shows as
text. Plain numbers (`-12`, `+3.5`, `-40%`) stay numbers. Cells are also made inert (no control or bidi
characters) and files are UTF-8 with a BOM, so spreadsheets read them as UTF-8.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence

from bot.untrusted import inert

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?%?")


def safe_cell(value: object) -> str:
    """A value as a CSV cell no spreadsheet will run: None is empty, dicts and lists are JSON."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    text = inert(str(value))
    if text.startswith(_FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_text(headers: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    """A header line and the rows, every cell made safe (RFC 4180: comma, quotes, CRLF)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([safe_cell(h) for h in headers])
    writer.writerows([safe_cell(v) for v in row] for row in rows)
    return out.getvalue()


def csv_bytes(headers: Sequence[object], rows: Iterable[Sequence[object]]) -> bytes:
    """`csv_text` as a file: UTF-8 with a BOM."""
    return csv_text(headers, rows).encode("utf-8-sig")
