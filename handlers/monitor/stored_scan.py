"""Matching queries over stored posts: newest first, in batches, within a time budget (the retro-hunt).

/search, /watch test, /watch show and the backfill of a new watch read stored posts through here: rows come
in keyset pages of `BATCH` (only the columns queries and replies need, never every post at once), each is
normalised and run through a `Matcher` — the live engine's code — and the pass stops at the end of the
window or when its time budget is spent, saying how far back it got so the caller can say so or resume.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, select
from sqlmodel import Session

from handlers.analysis.window import Window
from handlers.monitor.matcher import Match, Matcher
from handlers.monitor.normalise import NormalisedPost
from storage.db import checkpoint
from storage.models import StoredPost

BATCH = 2000
BUDGET_S = 20.0  # scanning per command; a window that needs longer is reported, with a narrower one suggested

_P = StoredPost
# the JSON lists come as their text, decoded only when not empty (decoding every row's `[]` took a third of a scan)
COLUMNS = (_P.id, _P.source, _P.source_id, _P.created_at, _P.text, _P.title, _P.author_handle, _P.author_name,
           _P.lang, _P.url, cast(_P.urls, String).label("urls"), cast(_P.hashtags, String).label("hashtags"))
_EMPTY = (None, "", "[]", "null")


@dataclass(frozen=True, slots=True)
class Found:
    """A stored post a query matched: the columns read, and what matched it."""

    row: Any  # a row of COLUMNS
    matches: list[Match]

    @property
    def terms(self) -> list[str]:
        return list(dict.fromkeys(term for match in self.matches for term in match.terms))


@dataclass
class StoredScan:
    """One pass of a matcher over the stored posts of a window (and sources), newest first.

    `position` is the (created_at, id) of the last post read: pass it back (`resume_from`) to go on from
    there. `complete` says the whole window was read; otherwise `reached` is the oldest post time read.
    """

    matcher: Matcher
    window: Window
    sources: Sequence[str] = ()
    budget_s: float | None = None  # None: BUDGET_S
    resume_from: tuple[datetime, int] | None = None
    clock: Callable[[], float] = time.monotonic
    scanned: int = 0
    complete: bool = False
    position: tuple[datetime, int] | None = None
    seconds: float = 0.0
    _started: float = field(default=0.0, repr=False)

    @property
    def reached(self) -> datetime | None:
        return self.position[0] if self.position else None

    def batches(self, session: Session) -> Iterator[list[Found]]:
        """The matches of each batch read, until the window ends or the budget is spent."""
        self._started = self.clock()
        self.position = self.resume_from
        while not self.complete:
            yield self.step(session)
            if self.spent:
                break

    def step(self, session: Session) -> list[Found]:
        """Read and match the next batch (one short read: callers may use a transaction per batch)."""
        checkpoint()  # a cancelled /search or /watch test stops here
        if not self._started:
            self._started = self.clock()
            self.position = self.resume_from
        rows = list(session.connection().execute(self._page()))  # Core rows: no ORM loading per row
        found: list[Found] = []
        match, normalise = self.matcher.match_normalised, NormalisedPost.of_fields
        for row in rows:
            _id, source, _sid, _at, text, title, handle, _name, lang, _url, urls, tags = row
            matches = match(normalise(text, title=title, source=source, handle=handle, lang=lang,
                                      hashtags=_listed(tags), urls=_listed(urls)))
            if matches:
                found.append(Found(row, matches))
        self.scanned += len(rows)
        if rows:
            self.position = (rows[-1].created_at, rows[-1].id)
        self.complete = len(rows) < BATCH
        self.seconds = self.clock() - self._started
        return found

    @property
    def spent(self) -> bool:
        """Whether the time budget is used up."""
        budget = BUDGET_S if self.budget_s is None else self.budget_s
        return bool(self._started) and self.clock() - self._started >= budget

    def _page(self) -> Any:
        stmt = self.window.where(select(*COLUMNS))
        if self.sources:
            stmt = stmt.where(_P.source.in_(list(self.sources)))  # type: ignore[attr-defined]
        if self.position is not None:
            at, post_id = self.position
            # `<=` first, so the range is on the index (the OR alone made SQLite read 10x slower)
            stmt = stmt.where(_P.created_at <= at, (_P.created_at < at) | (_P.id < post_id))
        return stmt.order_by(_P.created_at.desc(), _P.id.desc()).limit(BATCH)  # type: ignore[attr-defined]


def _listed(text: str | None) -> list[str]:
    """A stored JSON list of strings (as its text) → the list; empty without decoding when it is `[]`."""
    if text in _EMPTY:
        return []
    value = json.loads(text)  # type: ignore[arg-type]
    return [str(v) for v in value] if isinstance(value, list) else []


def single(query: Any) -> Matcher:
    """A matcher holding one query (as watch 0)."""
    matcher = Matcher()
    matcher.add(0, query)
    return matcher
