"""Telegram rendering: a Reply as HTML messages, photos and documents within Telegram's limits.

Every piece of reply text is untrusted: it is cleaned of control characters, HTML-escaped and
wrapped in tags only this module writes, so a post containing `<b>` or `<a href=...>` shows as
text. Lengths are counted the way Telegram counts them — the visible text after entity parsing,
in UTF-16 code units — and long replies are split between blocks, then between lines, then
(last resort) inside a line; a split never falls inside a tag or an entity, and `<pre>` is
reopened in every chunk.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.csvfile import csv_bytes
from bot.render.text import clean, render_table
from bot.reply import (
    Attachment,
    Button,
    CodeBlock,
    KeyValues,
    Paragraph,
    Reply,
    Span,
    Style,
    Table,
)

TEXT_LIMIT = 4096  # message text, after entity parsing, UTF-16 code units
CAPTION_LIMIT = 1024
PHOTO_MAX_BYTES = 10 * 1024 * 1024
UPLOAD_MAX_BYTES = 50 * 1024 * 1024
CALLBACK_DATA_MAX_BYTES = 64
BUTTON_LABEL_MAX = 64
TABLE_MAX_WIDTH = 60  # wider tables are drawn cut and also attached as CSV
TABLE_CELL_MAX = 40
PHOTO_TYPES = frozenset({"image/png", "image/jpeg", "image/webp"})
BLOCK_SEPARATOR = "\n\n"
KEYBOARD_ONLY_TEXT = "Choose:"

_TAGS = {Style.BOLD: "b", Style.ITALIC: "i", Style.CODE: "code"}
_SLUG = re.compile(r"[^A-Za-z0-9._-]+")

Line = tuple[Span, ...]


class Kind(StrEnum):
    """Which Bot API method sends an outgoing message."""

    TEXT = "sendMessage"
    PHOTO = "sendPhoto"
    DOCUMENT = "sendDocument"


@dataclass(frozen=True)
class Outgoing:
    """One Telegram message to send: HTML text, or a file with an optional HTML caption."""

    kind: Kind
    html: str
    filename: str = ""
    data: bytes = field(default=b"", repr=False)
    keyboard: InlineKeyboardMarkup | None = None
    silent: bool = False


@dataclass(frozen=True)
class Block:
    """Lines drawn together; `pre` ones in monospace. The first `head` lines repeat when split."""

    lines: tuple[Line, ...]
    pre: bool = False
    head: int = 0


# --------------------------------------------------------------------------- measuring
def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's limits."""
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


def _line_len(line: Line) -> int:
    return sum(utf16_len(s.text) for s in line)


def _lines_len(lines: Sequence[Line]) -> int:
    return sum(_line_len(line) for line in lines) + max(len(lines) - 1, 0)


def block_len(block: Block) -> int:
    """The visible length of a block once Telegram has parsed its HTML."""
    return _lines_len(block.lines)


# --------------------------------------------------------------------------- inline HTML
def safe_url(url: str | None) -> bool:
    """True for absolute http(s) URLs, the only ones drawn as links."""
    if not url or any(c.isspace() or ord(c) < 32 for c in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in {"http", "https"} and bool(parts.netloc)


def _normal(span: Span) -> Span:
    """Cleaned span whose `text` is exactly what is shown; unsafe links become plain text."""
    text = clean(span.text)
    if span.style is Style.LINK:
        if safe_url(span.url):
            return Span(text or str(span.url), Style.LINK, span.url)
        return Span(text or clean(span.url or ""))
    return Span(text, span.style)


def span_html(span: Span) -> str:
    """One (normalised) span as Telegram HTML, its text escaped."""
    if not span.text:
        return ""
    text = html.escape(span.text, quote=False)
    if span.style is Style.LINK and span.url:
        return f'<a href="{html.escape(span.url, quote=True)}">{text}</a>'
    tag = _TAGS.get(span.style)
    return f"<{tag}>{text}</{tag}>" if tag else text


def block_html(block: Block) -> str:
    """A block as Telegram HTML."""
    if block.pre:
        body = "\n".join(html.escape("".join(s.text for s in line), quote=False) for line in block.lines)
        return f"<pre>{body}</pre>"
    return "\n".join("".join(span_html(s) for s in line) for line in block.lines)


# --------------------------------------------------------------------------- parts → blocks
def _split_lines(parts: Sequence[Span]) -> tuple[Line, ...]:
    """Normalised spans cut at newlines into lines."""
    lines: list[list[Span]] = [[]]
    for span in map(_normal, parts):
        for i, piece in enumerate(span.text.split("\n")):
            if i:
                lines.append([])
            if piece:
                lines[-1].append(Span(piece, span.style, span.url))
    return tuple(tuple(line) for line in lines)


def _plain_block(text: str, *, pre: bool, head: int = 0) -> Block:
    return Block(tuple((Span(line),) if line else () for line in clean(text).split("\n")), pre, head)


def _paragraph(part: Paragraph) -> list[Block]:
    lines = _split_lines(part.spans)
    return [Block(lines)] if any(s.text.strip() for line in lines for s in line) else []  # Telegram trims


def _code(part: CodeBlock) -> list[Block]:
    text = part.text.strip("\n")
    return [_plain_block(text, pre=True)] if text.strip() else []


def _key_values(part: KeyValues) -> list[Block]:
    lines: list[Line] = [(Span(clean(part.title), Style.BOLD),)] if part.title else []
    for key, value in part.items:
        value_lines = _split_lines(value) or ((),)
        lines.append((Span(clean(key) + ":", Style.BOLD), Span(" "), *value_lines[0]))
        lines.extend(value_lines[1:])
    return [Block(tuple(lines))] if lines else []


def table_csv(table: Table) -> bytes:
    """The full table as CSV (UTF-8), for tables too wide to read in a chat."""
    return csv_bytes(table.headers, table.rows)


def _table(part: Table) -> tuple[list[Block], Attachment | None]:
    text = render_table(part, max_cell=TABLE_CELL_MAX) if part.rows else render_table(part) + "\n(no rows)"
    cells = [*part.headers, *(c for row in part.rows for c in row)]
    too_wide = max(map(len, text.split("\n"))) > TABLE_MAX_WIDTH or any(len(c) > TABLE_CELL_MAX for c in cells)
    blocks = [Block(((Span(clean(part.title), Style.BOLD),),))] if part.title else []
    blocks.append(_plain_block(text, pre=True, head=2))
    if not too_wide:
        return blocks, None
    name = (_SLUG.sub("-", part.title or "").strip("-._")[:40] or "table") + ".csv"
    return blocks, Attachment(name, table_csv(part), "text/csv", "The full table (too wide for a chat message).")


# --------------------------------------------------------------------------- splitting
def _cut_at(line: Line, budget: int) -> int:
    """Code-point index where `line` must be cut to fit `budget`, preferring a space."""
    text = "".join(s.text for s in line)
    units, cut = 0, len(text)
    for i, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > budget:
            cut = i
            break
    space = max(text.rfind(" ", 0, cut), text.rfind("\t", 0, cut))
    return space + 1 if space >= cut * 4 // 5 else max(cut, 1)


def _slice(line: Line, start: int, end: int) -> Line:
    """The spans covering code points [start, end) of the line, cut where needed."""
    out: list[Span] = []
    pos = 0
    for span in line:
        a, b = max(start, pos), min(end, pos + len(span.text))
        if a < b:
            out.append(Span(span.text[a - pos : b - pos], span.style, span.url))
        pos += len(span.text)
    return tuple(out)


def split_line(line: Line, budget: int) -> list[Line]:
    """A line cut into pieces of at most `budget` UTF-16 units (at spaces where possible)."""
    pieces: list[Line] = []
    while _line_len(line) > budget:
        cut = _cut_at(line, budget)
        pieces.append(_slice(line, 0, cut))
        line = _slice(line, cut, sum(len(s.text) for s in line))
    return [*pieces, line] if line or not pieces else pieces


def split_block(block: Block, limit: int) -> list[Block]:
    """An oversized block as several blocks within `limit`, by lines, then inside lines."""
    head = list(block.lines[: block.head])
    if _lines_len(head) > limit // 2:
        head = []
    budget = limit - (_lines_len(head) + 1 if head else 0)
    pieces: list[Block] = []
    current: list[Line] = []
    for line in block.lines[len(head) if head else 0 :]:
        for part in split_line(line, budget):
            if current and _lines_len([*head, *current, part]) > limit:
                pieces.append(Block(tuple(head + current), block.pre, len(head)))
                current = []
            current.append(part)
    if current:
        pieces.append(Block(tuple(head + current), block.pre, len(head)))
    return pieces


def pack(blocks: Sequence[Block], limit: int = TEXT_LIMIT) -> list[str]:
    """Blocks packed into as few HTML messages as fit `limit`, split only on block boundaries if possible."""
    chunks: list[list[Block]] = []
    size = 0
    for block in blocks:
        for piece in split_block(block, limit) if block_len(block) > limit else [block]:
            length = block_len(piece)
            if chunks and size + len(BLOCK_SEPARATOR) + length <= limit:
                chunks[-1].append(piece)
                size += len(BLOCK_SEPARATOR) + length
            else:
                chunks.append([piece])
                size = length
    return [BLOCK_SEPARATOR.join(block_html(b) for b in chunk) for chunk in chunks]


# --------------------------------------------------------------------------- the reply
def keyboard(rows: Sequence[Sequence[Button]], tokens: Mapping[Button, str]) -> InlineKeyboardMarkup:
    """An inline keyboard whose buttons carry the router's tokens as callback data."""
    out = []
    for row in rows:
        buttons = []
        for button in row:
            token = tokens[button]
            if len(token.encode()) > CALLBACK_DATA_MAX_BYTES:
                raise ValueError(f"button token over {CALLBACK_DATA_MAX_BYTES} bytes")
            buttons.append(InlineKeyboardButton(clean(button.label)[:BUTTON_LABEL_MAX], callback_data=token))
        out.append(buttons)
    return InlineKeyboardMarkup(out)


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB"


class _Builder:
    """Accumulates text blocks and files in reply order."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.blocks: list[Block] = []
        self.out: list[Outgoing] = []

    def flush(self) -> None:
        self.out.extend(Outgoing(Kind.TEXT, chunk) for chunk in pack(self.blocks, self.limit))
        self.blocks = []

    def attachment(self, part: Attachment) -> None:
        size = len(part.data)
        name = clean(part.filename) or "file"
        if size > UPLOAD_MAX_BYTES:
            self.blocks.append(Block(((Span(f"📎 {name} ({_size(size)}) is over Telegram's "
                                            f"{_size(UPLOAD_MAX_BYTES)} upload limit and was not sent.",
                                            Style.ITALIC),),)))
            return
        caption = clean(part.caption)
        if utf16_len(caption) > CAPTION_LIMIT:
            self.blocks.append(_plain_block(caption, pre=False))
            caption = ""
        self.flush()
        photo = part.mime in PHOTO_TYPES and size <= PHOTO_MAX_BYTES
        self.out.append(Outgoing(Kind.PHOTO if photo else Kind.DOCUMENT, html.escape(caption, quote=False),
                                 name, part.data))


def render(reply: Reply, tokens: Mapping[Button, str] | None = None, *, limit: int = TEXT_LIMIT) -> list[Outgoing]:
    """The reply as Telegram messages in order; buttons go on the last text message."""
    builder = _Builder(limit)
    extra_files: list[Attachment] = []
    for part in reply.parts:
        if isinstance(part, Paragraph):
            builder.blocks += _paragraph(part)
        elif isinstance(part, CodeBlock):
            builder.blocks += _code(part)
        elif isinstance(part, KeyValues):
            builder.blocks += _key_values(part)
        elif isinstance(part, Table):
            blocks, csv_file = _table(part)
            builder.blocks += blocks
            extra_files += [csv_file] if csv_file else []
        elif isinstance(part, Attachment):
            builder.attachment(part)
    builder.flush()
    for csv_file in extra_files:
        builder.attachment(csv_file)
    builder.flush()
    messages = [
        Outgoing(m.kind, m.html, m.filename, m.data, None, reply.silent) for m in builder.out
    ]
    if reply.button_rows:
        markup = keyboard(reply.button_rows, tokens or {})
        texts = [i for i, m in enumerate(messages) if m.kind is Kind.TEXT]
        if not texts:
            messages.append(Outgoing(Kind.TEXT, KEYBOARD_ONLY_TEXT, silent=reply.silent))
            texts = [len(messages) - 1]
        last = messages[texts[-1]]
        messages[texts[-1]] = Outgoing(last.kind, last.html, silent=last.silent, keyboard=markup)
    return messages


def render_progress(reply: Reply) -> str:
    """The HTML of an in-place progress message: the reply's first text chunk."""
    texts = [m.html for m in render(Reply(list(reply.blocks))) if m.kind is Kind.TEXT]
    return texts[0] if texts else "…"
