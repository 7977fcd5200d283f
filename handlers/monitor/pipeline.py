"""The ingest pipeline: posts in → de-duplicated → stored → matched → match rows → outbox rows.

Each batch is one transaction: a crash loses nothing that was acknowledged and doubles nothing,
because posts, matches, alerts and the source cursor are committed together. A post gets one alert
per chat however many of that chat's watches match it (a unique key on post and chat holds it): the
alert names every matching watch that is active and not muted.
"""

from __future__ import annotations

import zlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Insert
from sqlmodel import Session, col

from config.monitor import MonitorSettings
from handlers.analysis import ioc_index
from handlers.monitor.alert import alert_payload, post_payload
from handlers.monitor.matcher import Matcher
from handlers.monitor.post import Post
from storage.db import Database
from storage.models import OutboxItem, SourceCursor, StoredPost, Watch, WatchMatch, WatchState

MIN_HASHED_CHARS = 16  # shorter texts ("+1", "lol") are too common to be treated as duplicates
_SQL_CHUNK = 400  # bound parameters per IN (...) list

_POSTS: Table = StoredPost.__table__  # type: ignore[assignment]
_MATCHES: Table = WatchMatch.__table__  # type: ignore[assignment]
_OUTBOX: Table = OutboxItem.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class CursorUpdate:
    """A source cursor to save in the same transaction as the posts it led to."""

    source: str
    key: str
    cursor: str | None


@dataclass
class IngestResult:
    """What one ingest call did."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    matches: int = 0
    alerts: int = 0
    chats: set[tuple[str, int]] = field(default_factory=set)
    same_id: int = 0  # duplicates, by why: already stored under the same source and id,
    same_text: int = 0  # the same text as a stored post,
    repeated: int = 0  # or a repeat (same id or text) of a post earlier in the same batch

    def add(self, other: IngestResult) -> None:
        self.received += other.received
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.matches += other.matches
        self.alerts += other.alerts
        self.chats |= other.chats
        self.same_id += other.same_id
        self.same_text += other.same_text
        self.repeated += other.repeated


class Pipeline:
    """Stores and matches batches of posts and queues their alerts."""

    def __init__(
        self, db: Database, matcher: Matcher, settings: MonitorSettings, clock: Callable[[], datetime]
    ) -> None:
        self.db = db
        self.matcher = matcher
        self.settings = settings
        self.clock = clock
        self.before_match: Callable[[], Awaitable[None]] | None = None  # brings the matcher up to date (#15)

    async def ingest(
        self, posts: Iterable[Post], *, alert: bool = True, cursor: CursorUpdate | None = None,
        only_matching: bool = False, sample: float = 0.0,
    ) -> IngestResult:
        """Store, match and queue alerts for `posts`, one transaction per batch; the cursor goes with the last.

        `only_matching` keeps only posts some watch matches (firehoses, which carry everything), and a
        `sample` share of the others (chosen by post key, so a replayed post is chosen the same way).
        """
        batch_size = self.settings.ingest_batch
        pending = list(posts)
        received = len(pending)
        if only_matching:  # a firehose: what no watch wants is dropped before it costs a transaction
            pending = [p for p in pending if self.matcher.match(p) or (sample and sampled(p, sample))]
        total = IngestResult()
        for start in range(0, max(len(pending), 1), batch_size):
            chunk = pending[start : start + batch_size]
            last = start + batch_size >= len(pending)
            total.add(await self._ingest_batch(chunk, alert, cursor if last else None, only_matching, sample))
        total.received = received
        return total

    async def _ingest_batch(
        self, posts: list[Post], alert: bool, cursor: CursorUpdate | None, only_matching: bool, sample: float
    ) -> IngestResult:
        if self.before_match is not None:
            await self.before_match()
        unique = unique_posts(posts)
        repeated = len(posts) - len(unique)
        matched = {post.key: self.matcher.match(post) for post in unique}
        if only_matching:
            unique = [post for post in unique if matched[post.key] or (sample and sampled(post, sample))]
        now = self.clock()
        since = now - timedelta(seconds=self.settings.alert_max_age_s) if alert else None

        def work(session: Session) -> IngestResult:
            result = store_batch(session, unique, matched, now, since)
            result.received = len(posts)
            result.duplicates = len(posts) - result.stored
            result.repeated = repeated
            if cursor is not None:
                save_cursor(session, cursor, now)
            return result

        return await self.db.run(work)


def unique_posts(posts: Sequence[Post]) -> list[Post]:
    """The batch without repeats (same key or same content), oldest first."""
    seen_keys: set[tuple[str, str]] = set()
    seen_hashes: set[str] = set()
    out: list[Post] = []
    for post in sorted(posts, key=lambda p: p.created_at):
        digest = _hash_of(post)
        if post.key in seen_keys or (digest and digest in seen_hashes):
            continue
        seen_keys.add(post.key)
        if digest:
            seen_hashes.add(digest)
        out.append(post)
    return out


def sampled(post: Post, share: float) -> bool:
    """Whether a post falls in a `share` (0..1) sample, decided by its key alone."""
    digest = zlib.crc32(f"{post.source}\0{post.source_id}".encode())
    return digest < share * 2**32


def _hash_of(post: Post) -> str | None:
    """The content hash used for de-duplication, or None when the text is too short to tell."""
    return post.content_hash if len(post.full_text.strip()) >= MIN_HASHED_CHARS else None


def store_batch(
    session: Session,
    posts: list[Post],
    matched: dict[tuple[str, str], list[Any]],
    now: datetime,
    alert_since: datetime | None,
) -> IngestResult:
    """Insert the new posts, their match rows and alerts for posts since `alert_since` (None: no alerts)."""
    fresh, same_id, same_text = _drop_known(session, posts)
    ids = _insert_posts(session, fresh, now)
    ioc_index.store_fresh(session, ((ids[p.key], p.full_text, p.created_at) for p in fresh if p.key in ids))
    # a post another process stored meanwhile lost the insert on its source id
    result = IngestResult(stored=len(ids), same_id=same_id + len(fresh) - len(ids), same_text=same_text)
    wanted = {m.watch_id for post in fresh if post.key in ids for m in matched.get(post.key, ())}
    watches = _watches(session, wanted)
    match_rows: list[dict[str, Any]] = []
    outbox_rows: list[dict[str, Any]] = []
    for post in fresh:
        post_id = ids.get(post.key)
        if post_id is None:
            continue
        alerting: dict[tuple[str, int], list[tuple[Watch, list[str]]]] = {}
        for m in matched.get(post.key, ()):
            watch = watches.get(m.watch_id)
            if watch is None or watch.state != WatchState.ACTIVE:
                continue
            terms = list(m.terms)
            match_rows.append({"watch_id": watch.id, "post_id": post_id, "terms": terms, "created_at": now})
            if alert_since is None or post.created_at < alert_since:
                continue
            if watch.muted_until is not None and watch.muted_until > now:
                continue
            alerting.setdefault((watch.chat_platform, watch.chat_id), []).append((watch, terms))
        for (platform, chat_id), hits in alerting.items():  # one alert per post and chat, naming every watch
            outbox_rows.append(_alert_row(platform, chat_id, post, post_id, hits, now))
            result.chats.add((platform, chat_id))
    if match_rows:
        session.execute(_insert_ignoring(session, _MATCHES, ["watch_id", "post_id"]), match_rows)
    if outbox_rows:
        session.execute(_insert_ignoring(session, _OUTBOX, ["post_id", "chat_platform", "chat_id"]), outbox_rows)
    result.matches = len(match_rows)
    result.alerts = len(outbox_rows)
    return result


def _alert_row(platform: str, chat_id: int, post: Post, post_id: int, hits: list[tuple[Watch, list[str]]],
               now: datetime) -> dict[str, Any]:
    """The outbox row alerting one chat to a post its watches `hits` matched (the first one owns it for grouping)."""
    hits = sorted(hits, key=lambda hit: hit[0].id or 0)
    terms = list(dict.fromkeys(term for _watch, found in hits for term in found))
    payload = alert_payload([(w.id or 0, w.query) for w, _found in hits], post_payload(post, post_id, terms))
    return {
        "chat_platform": platform, "chat_id": chat_id, "watch_id": hits[0][0].id, "post_id": post_id,
        "payload": payload, "state": "pending", "attempts": 0, "last_error": None,
        "next_attempt_at": now, "created_at": now, "sent_at": None,
    }


def _drop_known(session: Session, posts: list[Post]) -> tuple[list[Post], int, int]:
    """The posts whose key and content hash are not stored yet, and how many were known by key and by text."""
    by_source: dict[str, list[str]] = {}
    for post in posts:
        by_source.setdefault(post.source, []).append(post.source_id)
    known_keys: set[tuple[str, str]] = set()
    for source, source_ids in by_source.items():
        for chunk in _chunks(source_ids):
            rows = session.execute(
                select(_POSTS.c.source_id).where(_POSTS.c.source == source, _POSTS.c.source_id.in_(chunk))
            )
            known_keys.update((source, r[0]) for r in rows)
    hashes = {p.key: _hash_of(p) for p in posts}
    known_hashes: set[str | None] = set()
    for chunk in _chunks([h for h in hashes.values() if h]):
        known_hashes.update(r[0] for r in session.execute(
            select(_POSTS.c.content_hash).where(_POSTS.c.content_hash.in_(chunk))))
    same_id = sum(1 for p in posts if p.key in known_keys)
    fresh = [p for p in posts if p.key not in known_keys and hashes[p.key] not in known_hashes]
    return fresh, same_id, len(posts) - same_id - len(fresh)


def _insert_posts(session: Session, posts: list[Post], now: datetime) -> dict[tuple[str, str], int]:
    """Insert posts in one statement; returns the new row id per key (rows lost to a race are skipped)."""
    if not posts:
        return {}
    rows = [row_values(post, now) for post in posts]
    stmt = _insert_ignoring(session, _POSTS, ["source", "source_id"]).returning(
        _POSTS.c.id, _POSTS.c.source, _POSTS.c.source_id
    )
    return {(r.source, r.source_id): r.id for r in session.execute(stmt, rows)}


def row_values(post: Post, collected_at: datetime) -> dict[str, Any]:
    """The `posts` row for a post as plain values (what `Post.to_row` holds, without building a model)."""
    author = post.author
    return {
        "source": post.source, "source_id": post.source_id, "url": post.url, "author_id": author.id,
        "author_handle": author.handle, "author_name": author.name, "text": post.text, "title": post.title,
        "created_at": post.created_at, "collected_at": collected_at, "lang": post.lang,
        "reply_to": post.reply_to, "thread_id": post.thread_id, "content_hash": post.content_hash,
        "mentions": list(post.mentions), "hashtags": list(post.hashtags), "urls": list(post.urls),
        "media": list(post.media), "geo": post.geo, "engagement": dict(post.engagement), "raw": post.raw,
    }


def _insert_ignoring(session: Session, table: Table, unique: list[str]) -> Insert:
    """An INSERT that skips rows violating the unique key `unique` (SQLite and PostgreSQL)."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=unique)
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=unique)
    return table.insert()


def _watches(session: Session, ids: set[int]) -> dict[int, Watch]:
    found: dict[int, Watch] = {}
    for chunk in _chunks(sorted(ids)):
        for watch in session.execute(select(Watch).where(col(Watch.id).in_(chunk))).scalars():
            found[watch.id or 0] = watch
    return found


def save_cursor(session: Session, update: CursorUpdate, now: datetime) -> None:
    """Create or move a source cursor."""
    row = session.get(SourceCursor, (update.source, update.key))
    if row is None:
        session.add(SourceCursor(source=update.source, key=update.key, cursor=update.cursor, updated_at=now))
    else:
        row.cursor = update.cursor
        row.updated_at = now
        session.add(row)


def load_cursor(session: Session, source: str, key: str) -> str | None:
    """The saved cursor for `(source, key)`, or None to start fresh."""
    row = session.get(SourceCursor, (source, key))
    return row.cursor if row else None


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _SQL_CHUNK):
        yield items[start : start + _SQL_CHUNK]
