"""The platform-neutral reply: what a command answers, before any surface draws it.

A reply is a list of typed parts. Text is made of spans, each with one style; span
text is *untrusted* by default and every renderer escapes it for its platform, so a
handler can put a post's text or a username into a reply without thinking about
markup or mentions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class Style(StrEnum):
    """How a span of text is emphasised."""

    PLAIN = "plain"
    BOLD = "bold"
    ITALIC = "italic"
    CODE = "code"
    LINK = "link"


@dataclass(frozen=True, slots=True)
class Span:
    """A run of text with one style; `url` is set for links."""

    text: str
    style: Style = Style.PLAIN
    url: str | None = None


Inline = str | Span


def bold(text: str) -> Span:
    """Bold span."""
    return Span(str(text), Style.BOLD)


def italic(text: str) -> Span:
    """Italic span."""
    return Span(str(text), Style.ITALIC)


def code(text: str) -> Span:
    """Inline monospace span."""
    return Span(str(text), Style.CODE)


def link(text: str, url: str) -> Span:
    """A link; renderers fall back to plain text for URLs they cannot link safely."""
    return Span(str(text), Style.LINK, url)


def spans(parts: Iterable[Inline]) -> tuple[Span, ...]:
    """Normalise strings and spans into a tuple of spans."""
    return tuple(p if isinstance(p, Span) else Span(str(p)) for p in parts)


@dataclass(frozen=True, slots=True)
class Paragraph:
    """A block of inline text."""

    spans: tuple[Span, ...]

    @property
    def plain(self) -> str:
        return "".join(s.text for s in self.spans)


@dataclass(frozen=True, slots=True)
class CodeBlock:
    """Preformatted text, drawn in monospace."""

    text: str


@dataclass(frozen=True, slots=True)
class KeyValues:
    """A titled block of `key: value` lines."""

    items: tuple[tuple[str, tuple[Span, ...]], ...]
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Table:
    """Rows under headers, drawn in monospace or as a file when too wide."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with the reply; `image` ones are shown inline where the platform can."""

    filename: str
    data: bytes
    mime: str = "application/octet-stream"
    caption: str = ""

    @property
    def is_image(self) -> bool:
        return self.mime.startswith("image/")


@dataclass(frozen=True, slots=True)
class Button:
    """A button that runs `command` (a full command line) for whoever presses it."""

    label: str
    command: str


@dataclass(frozen=True, slots=True)
class Buttons:
    """Rows of buttons attached to the reply's last message."""

    rows: tuple[tuple[Button, ...], ...]


Part = Paragraph | CodeBlock | KeyValues | Table | Attachment | Buttons


@dataclass
class Reply:
    """What a command answers: ordered parts plus how the surface should treat it.

    `ephemeral` marks errors and refusals (shown only to the asker where the platform
    can); `silent` asks the surface not to notify (alerts in bulk).
    """

    parts: list[Part] = field(default_factory=list)
    ephemeral: bool = False
    silent: bool = False

    # building -----------------------------------------------------------------
    @classmethod
    def text(cls, *parts: Inline, ephemeral: bool = False) -> Reply:
        """A reply of one paragraph."""
        return cls([Paragraph(spans(parts))], ephemeral=ephemeral)

    @classmethod
    def error(cls, message: str, example: str | None = None) -> Reply:
        """A short error that says how to do it right."""
        reply = cls([Paragraph(spans(["⚠️ ", message]))], ephemeral=True)
        if example:
            reply.para("Example: ", code(example))
        return reply

    def para(self, *parts: Inline) -> Reply:
        self.parts.append(Paragraph(spans(parts)))
        return self

    def code_block(self, text: str) -> Reply:
        self.parts.append(CodeBlock(text))
        return self

    def kv(self, items: Sequence[tuple[str, Inline | Sequence[Inline]]], title: str | None = None) -> Reply:
        rows = []
        for key, value in items:
            if isinstance(value, (str, Span)):
                value = [value]
            rows.append((key, spans(value)))
        self.parts.append(KeyValues(tuple(rows), title))
        return self

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[object]], title: str | None = None) -> Reply:
        self.parts.append(
            Table(tuple(headers), tuple(tuple("" if c is None else str(c) for c in r) for r in rows), title)
        )
        return self

    def attach(self, filename: str, data: bytes, mime: str, caption: str = "") -> Reply:
        self.parts.append(Attachment(filename, data, mime, caption))
        return self

    def buttons(self, *rows: Sequence[Button]) -> Reply:
        rows_t = tuple(tuple(r) for r in rows if r)
        if rows_t:
            self.parts.append(Buttons(rows_t))
        return self

    def extend(self, other: Reply) -> Reply:
        self.parts.extend(other.parts)
        return self

    # reading ------------------------------------------------------------------
    @property
    def attachments(self) -> list[Attachment]:
        return [p for p in self.parts if isinstance(p, Attachment)]

    @property
    def button_rows(self) -> tuple[tuple[Button, ...], ...]:
        return tuple(row for p in self.parts if isinstance(p, Buttons) for row in p.rows)

    @property
    def blocks(self) -> list[Paragraph | CodeBlock | KeyValues | Table]:
        """The text blocks, in order (attachments and buttons excluded)."""
        return [p for p in self.parts if isinstance(p, (Paragraph, CodeBlock, KeyValues, Table))]
