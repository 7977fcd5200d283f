"""IOCs across many posts: stored per post by the pipeline, summarised per selection for /iocs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from handlers.analysis.iocs import IOC, IOCKind, extract_iocs
from handlers.analysis.selection import Selection
from storage.models import PostIOC, StoredPost


def extract_and_store(session: Session, posts: Iterable[StoredPost]) -> int:
    """Extract the IOCs of stored posts (with ids) into `post_iocs`; returns how many rows were added.

    Safe to call again for the same posts: existing (post, kind, value) rows are kept, not duplicated.
    """
    rows = [p for p in posts if p.id is not None]
    if not rows:
        return 0
    existing = {
        (pid, kind, value)
        for pid, kind, value in session.execute(
            select(PostIOC.post_id, PostIOC.kind, PostIOC.value).where(PostIOC.post_id.in_([p.id for p in rows]))
        )
    }
    added = 0
    for p in rows:
        text = f"{p.title}\n{p.text}" if p.title else p.text
        for ioc in extract_iocs(text):
            key = (p.id, ioc.kind.value, ioc.value)
            if key in existing or len(ioc.value) > 2048:
                continue
            existing.add(key)
            session.add(PostIOC(post_id=p.id, kind=ioc.kind.value, value=ioc.value, seen_at=p.created_at))
            added += 1
    return added


def store_fresh(session: Session, posts: Iterable[tuple[int, str, datetime]]) -> int:
    """Extract and insert the IOCs of just-inserted posts, given as (post id, text, created_at), in one statement."""
    rows = [
        {"post_id": pid, "kind": kind, "value": value, "seen_at": at}
        for pid, text, at in posts
        for kind, value in dict.fromkeys((i.kind.value, i.value) for i in extract_iocs(text))
        if len(value) <= 2048
    ]
    if rows:
        session.execute(PostIOC.__table__.insert(), rows)
    return len(rows)


def posts_with(session: Session, kind: IOCKind, value: str, limit: int = 50) -> list[StoredPost]:
    """Stored posts where an indicator was seen, newest first (for pivots from lookups and cases)."""
    stmt = (
        select(StoredPost)
        .join(PostIOC, PostIOC.post_id == StoredPost.id)
        .where(PostIOC.kind == kind.value, PostIOC.value == value)
        .order_by(StoredPost.created_at.desc())
        .limit(limit)
    )
    return list(session.execute(stmt).scalars())


@dataclass
class Sighting:
    """An indicator across a selection: in how many posts, first and last seen, one example."""

    ioc: IOC
    posts: int = 0
    first: datetime | None = None
    last: datetime | None = None
    example_url: str | None = None
    post_ids: list[int] = field(default_factory=list)

    def see(self, post_id: int, at: datetime, url: str | None) -> None:
        self.posts += 1
        self.post_ids.append(post_id)
        if self.first is None or at < self.first:
            self.first = at
        if self.last is None or at > self.last:
            self.last = at
            self.example_url = url or self.example_url


def summarise(rows: Sequence[Row]) -> list[Sighting]:
    """Sightings from (post id, text, title, time, url) rows, most-seen first."""
    seen: dict[IOC, Sighting] = {}
    for pid, text, title, at, url in rows:
        for ioc in extract_iocs(f"{title}\n{text}" if title else text):
            seen.setdefault(ioc, Sighting(ioc)).see(pid, at, url)
    return sorted(seen.values(), key=lambda s: (-s.posts, s.ioc.kind, s.ioc.value))


Row = tuple[int, str, str | None, datetime, str | None]


def selection_rows(session: Session, sel: Selection, limit: int) -> list[Row]:
    """The newest `limit` posts of a selection, as rows for `summarise`."""
    stmt = (
        sel.where(select(StoredPost.id, StoredPost.text, StoredPost.title, StoredPost.created_at, StoredPost.url))
        .order_by(StoredPost.created_at.desc())
        .limit(limit)
    )
    return [tuple(r) for r in session.execute(stmt)]  # type: ignore[misc]
