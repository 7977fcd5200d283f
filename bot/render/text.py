"""Plain-text rendering: the console's format, and the text beside every picture."""

from __future__ import annotations

import unicodedata

from bot.reply import Attachment, Buttons, CodeBlock, KeyValues, Paragraph, Reply, Span, Style, Table
from bot.untrusted import inert


def clean(text: str) -> str:
    """Untrusted text made safe for a terminal: no control characters or bidi overrides."""
    return inert(text)


def _span(span: Span) -> str:
    text = clean(span.text)
    if span.style is Style.LINK and span.url:
        url = clean(span.url)
        return text if text == url else f"{text} <{url}>"
    if span.style is Style.CODE:
        return f"`{text}`"
    return text


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def render_table(table: Table, max_cell: int = 40) -> str:
    """A monospace table with aligned columns (cells cut at `max_cell`)."""
    def cut(cell: str) -> str:
        cell = clean(cell).replace("\n", " ")
        return cell if len(cell) <= max_cell else cell[: max_cell - 1] + "…"

    rows = [[cut(c) for c in row] for row in table.rows]
    headers = [cut(h) for h in table.headers]
    widths = [_width(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row[: len(widths)]):
            widths[i] = max(widths[i], _width(cell))
    lines = ["  ".join(_pad(h, w) for h, w in zip(headers, widths, strict=False)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(_pad(c, w) for c, w in zip(row, widths, strict=False)).rstrip() for row in rows]
    return "\n".join(lines)


def render_block(part: object) -> str:
    """One part as plain text ('' for parts drawn elsewhere)."""
    if isinstance(part, Paragraph):
        return "".join(_span(s) for s in part.spans)
    if isinstance(part, CodeBlock):
        return clean(part.text)
    if isinstance(part, KeyValues):
        lines = [clean(part.title)] if part.title else []
        width = max((len(k) for k, _ in part.items), default=0)
        lines += [f"  {clean(k).ljust(width)}  {''.join(_span(s) for s in v)}" for k, v in part.items]
        return "\n".join(lines)
    if isinstance(part, Table):
        title = f"{clean(part.title)}\n" if part.title else ""
        return title + render_table(part)
    if isinstance(part, Attachment):
        caption = f" — {clean(part.caption)}" if part.caption else ""
        return f"[file] {clean(part.filename)} ({len(part.data):,} bytes){caption}"
    if isinstance(part, Buttons):
        return "\n".join(
            "  ".join(f"[{clean(b.label)}: {clean(b.command)}]" for b in row) for row in part.rows
        )
    return ""


def render_text(reply: Reply) -> str:
    """The whole reply as plain text, blocks separated by blank lines."""
    return "\n\n".join(t for t in (render_block(p) for p in reply.parts) if t)
