"""How `<watch|account|case>` arguments pick stored posts, as SQL conditions the analyses reuse.

- an account is `source:handle` or a bare `handle` (any source); a leading `@` is ignored and
  handles compare case-insensitively;
- a watch is a numeric id or `watch:ID`, and only a watch of the asking chat can be selected;
- `all` (where a command allows it) is every stored post;
- any of them can be narrowed to a time window (`--since`, `--until`: `handlers/analysis/window.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlmodel import Session

from bot.command import ChatRef, CommandError, UsageError
from handlers.analysis.window import Window
from storage.models import StoredPost

try:  # the watch engine owns these tables; analyses work without them
    from storage.models.watch import Watch, WatchMatch
except ImportError:  # pragma: no cover - only before the watch engine exists
    Watch = WatchMatch = None  # type: ignore[assignment,misc]

_WATCH = re.compile(r"(?:watch:)?#?(\d+)", re.IGNORECASE)
_ACCOUNT = re.compile(r"(?:(?P<source>[a-z0-9_-]{2,32}):)?@?(?P<handle>[^\s:@][^\s]{0,255})", re.IGNORECASE)


@dataclass(frozen=True)
class Selection:
    """A set of stored posts: a label for replies and the SQL conditions that pick them."""

    kind: str  # "account" | "watch" | "all"
    label: str
    conditions: tuple[ColumnElement[bool], ...] = ()
    handle: str | None = None
    source: str | None = None
    watch_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    window: Window = field(default_factory=Window)

    def within(self, window: Window) -> Selection:
        """The same posts, only those posted in `window`."""
        return replace(self, window=window)

    def nothing_found(self, command: str) -> CommandError:
        """The error for an empty selection: which posts were searched and how to look further."""
        hint = self.window.widen(command)
        if self.kind == "watch" and self.window.is_all:
            hint = (f"It has matched nothing stored yet: /watch test <query> --since all shows what a query finds; "
                    f"{hint}")
        return CommandError(f"No stored posts for {self.label} among {self.window.searched()}. {hint}")

    def where(self, stmt: Any, since: datetime | None = None, until: datetime | None = None) -> Any:
        """`stmt` filtered to this selection (and a time range on the post's time)."""
        stmt = self.window.where(stmt.where(*self.conditions))
        if since is not None:
            stmt = stmt.where(StoredPost.created_at >= since)
        if until is not None:
            stmt = stmt.where(StoredPost.created_at < until)
        return stmt


def account_selection(handle: str, source: str | None = None) -> Selection:
    """Posts by one account (any source when `source` is None)."""
    handle = handle.lstrip("@")
    conds: list[ColumnElement[bool]] = [func.lower(StoredPost.author_handle) == handle.lower()]
    if source:
        conds.append(StoredPost.source == source.lower())
    label = f"{source.lower()}:{handle}" if source else handle
    return Selection("account", label, tuple(conds), handle=handle, source=source.lower() if source else None)


def all_posts() -> Selection:
    """Every stored post."""
    return Selection("all", "all stored posts")


def watch_selection(session: Session, watch_id: int, chat: ChatRef) -> Selection:
    """Posts matched by a watch of `chat`; CommandError when there is no such watch here."""
    if Watch is None or WatchMatch is None:
        raise CommandError("Watches are not available yet in this build; use an account instead.")
    watch = session.get(Watch, watch_id)
    if watch is None or watch.chat_platform != chat.platform or watch.chat_id != chat.id:
        raise CommandError(f"No watch #{watch_id} in this chat. /watch list shows this chat's watches.")
    matched = select(WatchMatch.post_id).where(WatchMatch.watch_id == watch_id)
    return Selection("watch", f"watch #{watch_id} ({watch.query})", (StoredPost.id.in_(matched),), watch_id=watch_id)


def resolve(session: Session, arg: str, chat: ChatRef, *, allow: tuple[str, ...] = ("watch", "account")) -> Selection:
    """Turn a command argument into a Selection, trying the kinds in `allow`."""
    arg = arg.strip()
    if not arg:
        raise UsageError("Say which posts: a watch id or an account.")
    if arg.lower() == "all" and "all" in allow:
        return all_posts()
    if arg.lower().startswith("case:") or (arg.lower() == "case"):
        if "case" in allow:
            raise CommandError("Cases are not available yet in this build; use a watch or an account.")
        raise UsageError("This command takes a watch or an account, not a case.")
    if "watch" in allow and (m := _WATCH.fullmatch(arg)):
        return watch_selection(session, int(m.group(1)), chat)
    if arg.lower().startswith("watch:"):
        raise UsageError(f"Not a watch id: {arg}")
    if "account" in allow and (m := _ACCOUNT.fullmatch(arg)):
        return account_selection(m.group("handle"), m.group("source"))
    raise UsageError(f"Not a {' or '.join(allow)}: {arg}")


def count(session: Session, sel: Selection) -> int:
    """How many stored posts the selection holds."""
    return int(session.execute(sel.where(select(func.count()).select_from(StoredPost))).scalar_one())
