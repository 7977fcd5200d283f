"""The retro-hunt of a new watch: match it over every post stored before it, so its matches and analyses
include imported archives and older collected posts at once.

The live pipeline matches what arrives after the watch is compiled; this pass reads what was stored before,
newest first, one short transaction per batch (match rows written as it goes, never an alert: these posts
are history). Its progress is saved as a source cursor (`backfill`, watch id), so `/watch show` says how far
it got and a restarted bot goes on where it stopped. Writing a match twice is harmless (a unique key).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from handlers.analysis.window import Window
from handlers.monitor.pipeline import CursorUpdate, load_cursor, save_cursor
from handlers.monitor.query import QueryError, parse_query
from handlers.monitor.stored_scan import StoredScan, single
from storage.models import SourceCursor, Watch, WatchMatch, WatchState

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

CURSOR_SOURCE = "backfill"
DONE = "done"
INLINE_BUDGET_S = 10.0  # what /watch add waits for before answering; the rest goes on in the background
BACKGROUND_BUDGET_S = 3600.0
_MATCHES: Table = WatchMatch.__table__  # type: ignore[assignment]
_running: dict[tuple[int, int], asyncio.Task[None]] = {}  # (services, watch id) → its pass, held while it runs


@dataclass(frozen=True)
class BackfillState:
    """How far a watch's retro-hunt got: done, or back to `reached` with `matched` so far in this run."""

    done: bool
    scanned: int = 0
    matched: int = 0
    reached: datetime | None = None


def _encode(position: tuple[datetime, int] | None) -> str:
    return DONE if position is None else f"{position[0].isoformat()}|{position[1]}"


def _decode(cursor: str | None) -> tuple[datetime, int] | None:
    if not cursor or cursor == DONE:
        return None
    at, _, post_id = cursor.rpartition("|")
    return datetime.fromisoformat(at), int(post_id)


def _insert_ignoring(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(_MATCHES).on_conflict_do_nothing(index_elements=["watch_id", "post_id"])
    return sqlite.insert(_MATCHES).on_conflict_do_nothing(index_elements=["watch_id", "post_id"])


async def run(services: Services, watch: Watch, budget_s: float) -> BackfillState:
    """Match `watch` over stored posts from where its cursor stands, for up to `budget_s` seconds."""
    try:
        query = parse_query(watch.query)
    except QueryError:
        return BackfillState(done=True)
    watch_id = watch.id or 0
    key = str(watch_id)
    cursor = await services.db.run(lambda s: load_cursor(s, CURSOR_SOURCE, key))
    if cursor == DONE:
        return BackfillState(done=True)
    scan = StoredScan(single(query), Window(), watch.sources, budget_s, resume_from=_decode(cursor))
    matched = 0

    def step(session: Session) -> int | None:
        current = session.get(Watch, watch_id)
        if current is None or current.state != WatchState.ACTIVE:
            return None  # removed or paused meanwhile: a resumed watch matches again from now
        found = scan.step(session)
        rows = [{"watch_id": watch_id, "post_id": hit.row.id, "terms": hit.terms, "created_at": hit.row.created_at}
                for hit in found]
        if rows:
            session.execute(_insert_ignoring(session), rows)
        position = None if scan.complete else scan.position
        save_cursor(session, CursorUpdate(CURSOR_SOURCE, key, _encode(position)), services.now())
        return len(rows)

    while not scan.complete and not scan.spent:
        added = await services.db.run(step)
        if added is None:
            return BackfillState(done=True, scanned=scan.scanned, matched=matched)
        matched += added
    return BackfillState(scan.complete, scan.scanned, matched, scan.reached)


async def state(services: Services, watch_id: int) -> str:
    """`complete`, `back to 2025-03-02 (going on)` or `not started`: for /watch show."""
    cursor = await services.db.run(lambda s: load_cursor(s, CURSOR_SOURCE, str(watch_id)))
    if cursor == DONE:
        return "every stored post"
    position = _decode(cursor)
    if position is None:
        return "not started"
    going = " (going on)" if (id(services), watch_id) in _running else " (goes on when the bot runs)"
    return f"stored posts back to {position[0]:%Y-%m-%d}{going}"


def continue_in_background(services: Services, watch: Watch) -> None:
    """Go on with a watch's retro-hunt in this process (one pass per watch at a time)."""
    watch_id = watch.id or 0
    key = (id(services), watch_id)
    if key in _running:
        return

    async def go() -> None:
        try:
            while not (await run(services, watch, BACKGROUND_BUDGET_S)).done:
                pass
        except Exception:  # a failed pass keeps its cursor: the next start goes on from there
            log.exception("retro-hunt of watch %s stopped", watch_id)
        finally:
            _running.pop(key, None)

    _running[key] = asyncio.get_running_loop().create_task(go(), name=f"backfill {watch_id}")


async def resume_unfinished(services: Services) -> None:
    """At start: go on with every active watch's retro-hunt that a stop interrupted."""

    def unfinished(session: Session) -> list[Watch]:
        keys = session.execute(select(SourceCursor.key).where(
            SourceCursor.source == CURSOR_SOURCE, SourceCursor.cursor != DONE)).scalars().all()
        ids = [int(k) for k in keys if k.isdigit()]
        found = [session.get(Watch, i) for i in ids]
        return [w for w in found if w is not None and w.state == WatchState.ACTIVE]

    for watch in await services.db.run(unfinished):
        continue_in_background(services, watch)


def forget(session: Session, watch_id: int) -> None:
    """Drop a removed watch's progress."""
    row = session.get(SourceCursor, (CURSOR_SOURCE, str(watch_id)))
    if row is not None:
        session.delete(row)


async def stop_all(services: Services) -> None:
    """Cancel this app's background passes (their cursors keep the place)."""
    tasks = [task for (owner, _), task in _running.items() if owner == id(services)]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
