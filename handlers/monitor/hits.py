"""Stored posts shown in replies (/search, /watch test, /watch matches): byline and a defanged snippet.

Post text is untrusted: it goes out as plain spans (renderers escape them per platform), cut around the first
matched term, with every indicator defanged so no link in it can be followed by a click.
"""

from __future__ import annotations

from typing import Any

from bot.command import UsageError
from bot.reply import Reply, Span, bold, link
from handlers.cases.defanged_text import defang_text
from handlers.monitor.alert import highlighted, snippet

SNIPPET_CHARS = 240
PAGE_SIZE = 10
MAX_PAGE = 10_000


def check_page(page: int | None) -> int:
    """The page asked for (1 when none); UsageError outside 1..MAX_PAGE."""
    if page is None:
        return 1
    if not 1 <= page <= MAX_PAGE:
        raise UsageError(f"--page counts from 1 to {MAX_PAGE}; narrow the window (--since, --until) to go deeper.")
    return page


def hit_paragraph(reply: Reply, post: Any, terms: list[str], number: int | None = None) -> Reply:
    """Add one stored post (a StoredPost or a row with its columns) as a paragraph: who, when, what."""
    body = post.text or ""
    text = f"{post.title}\n{body}" if post.title else body
    parts: list[Span | str] = [f"{number}. "] if number is not None else []
    parts.append(bold(post.source))
    if post.author_handle:
        parts.append(f" · @{post.author_handle}")
    elif post.author_name:
        parts.append(f" · {post.author_name}")
    parts.append(f" · {post.created_at:%Y-%m-%d %H:%M} UTC: ")
    parts += highlighted(defang_text(snippet(text, terms, SNIPPET_CHARS)), terms)
    if post.url:
        parts += [" ", link("open", post.url)]
    return reply.para(*parts)


def pages(total: int) -> int:
    """How many pages of PAGE_SIZE `total` hits fill."""
    return max(1, -(-total // PAGE_SIZE))
