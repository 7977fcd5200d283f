"""Discord rendering: a Reply as Discord markdown messages within 2000 characters, files and buttons.

Every untrusted span is markdown-escaped and mention-neutralised; messages are also sent with
`AllowedMentions.none()`, so relayed text can never ping anyone even if escaping missed something.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from discord.utils import escape_markdown

from bot.csvfile import csv_bytes
from bot.render.text import clean, render_table
from bot.reply import Attachment, Button, CodeBlock, KeyValues, Paragraph, Reply, Span, Style, Table

MESSAGE_LIMIT = 2000
UPLOAD_LIMIT = 10 * 1024 * 1024
FILES_PER_MESSAGE = 10
BUTTONS_PER_ROW = 5
BUTTON_ROWS = 5
ZWSP = "\u200b"


@dataclass
class DiscordMessage:
    """One message to send: markdown content, files (name, bytes) and button rows (label, token)."""

    content: str = ""
    files: list[tuple[str, bytes]] = field(default_factory=list)
    buttons: list[list[tuple[str, str]]] = field(default_factory=list)


def escape(text: str) -> str:
    """Untrusted text as inert Discord markdown: no formatting, no mentions, no masked links."""
    text = escape_markdown(clean(text), as_needed=False)
    # Break every mention form even though AllowedMentions.none() is also set on each send.
    text = text.replace("@", "@" + ZWSP).replace("<#", "<" + ZWSP + "#").replace("</", "<" + ZWSP + "/")
    return text


def _safe_url(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    if any(c in url for c in " <>()[]\n\r\t"):
        return None
    return url


def _code(text: str) -> str:
    text = clean(text).replace("`", "ˋ").replace("\n", " ")
    return f"`{text}`" if text else ""


def _span(span: Span) -> str:
    if span.style is Style.CODE:
        return _code(span.text)
    text = escape(span.text)
    if span.style is Style.BOLD:
        return f"**{text}**"
    if span.style is Style.ITALIC:
        return f"*{text}*"
    if span.style is Style.LINK and span.url:
        url = _safe_url(span.url)
        if url is None:
            return text
        return f"[{text}](<{url}>)" if span.text != span.url else f"<{url}>"
    return text


def _pre(text: str) -> str:
    return "```\n" + clean(text).replace("```", "ˋˋˋ") + "\n```"


def render_block(part: Paragraph | CodeBlock | KeyValues | Table) -> str:
    """One text block as Discord markdown."""
    if isinstance(part, Paragraph):
        return "".join(_span(s) for s in part.spans)
    if isinstance(part, CodeBlock):
        return _pre(part.text)
    if isinstance(part, KeyValues):
        lines = [f"**{escape(part.title)}**"] if part.title else []
        lines += [f"**{escape(k)}:** {''.join(_span(s) for s in v)}" for k, v in part.items]
        return "\n".join(lines)
    title = f"**{escape(part.title)}**\n" if part.title else ""
    return title + _pre(render_table(part, max_cell=32))


def _split_block(block: str, limit: int) -> list[str]:
    """Cut an oversized block at line ends (code fences reopened), or hard when a line is too long."""
    fenced = block.startswith("```") and block.endswith("```")
    body = block[4:-4] if fenced else block
    room = limit - 8 if fenced else limit
    pieces, current = [], ""
    for line in body.split("\n"):
        while len(line) > room:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:room])
            line = line[room:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > room:
            pieces.append(current)
            current = line
        else:
            current = candidate
    if current:
        pieces.append(current)
    return [f"```\n{p}\n```" for p in pieces] if fenced else pieces


def split_content(blocks: list[str], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Pack blocks into messages under `limit`, breaking only between blocks when possible."""
    messages: list[str] = []
    current = ""
    for block in blocks:
        for piece in _split_block(block, limit) if len(block) > limit else [block]:
            candidate = f"{current}\n\n{piece}" if current else piece
            if len(candidate) > limit:
                messages.append(current)
                current = piece
            else:
                current = candidate
    if current:
        messages.append(current)
    return messages


def _table_csv(table: Table) -> bytes:
    return csv_bytes(table.headers, table.rows)


def render(reply: Reply, tokens: dict[Button, str], upload_limit: int = UPLOAD_LIMIT) -> list[DiscordMessage]:
    """The reply as Discord messages; buttons go on the last one, files on the first ones."""
    blocks: list[str] = []
    files: list[tuple[str, bytes]] = []
    notes: list[str] = []
    for part in reply.parts:
        if isinstance(part, (Paragraph, CodeBlock, KeyValues)):
            blocks.append(render_block(part))
        elif isinstance(part, Table):
            text = render_block(part)
            blocks.append(text)
            if len(text) > MESSAGE_LIMIT:
                files.append(((part.title or "table").replace(" ", "_")[:40] + ".csv", _table_csv(part)))
        elif isinstance(part, Attachment):
            if len(part.data) > upload_limit:
                notes.append(f"📎 {escape(part.filename)} ({len(part.data) / 1e6:.1f} MB) is over Discord's "
                             f"upload limit; use the console or the CLI export to get it.")
                continue
            files.append((part.filename, part.data))
            if part.caption:
                blocks.append(f"📎 *{escape(part.caption)}*")
    messages = [DiscordMessage(content=c) for c in split_content(blocks + notes)] or [DiscordMessage()]
    for i in range(0, len(files), FILES_PER_MESSAGE):
        chunk = files[i : i + FILES_PER_MESSAGE]
        if i == 0:
            messages[0].files = chunk
        else:
            messages.append(DiscordMessage(files=chunk))
    rows = [[(b.label[:80], tokens[b]) for b in row[:BUTTONS_PER_ROW] if b in tokens]
            for row in reply.button_rows[:BUTTON_ROWS]]
    messages[-1].buttons = [r for r in rows if r]
    return messages
