"""Watchlists and what they produce: watches, matches, the alert outbox, source cursors, digest times."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKey, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import BigId, Json, UTCDateTime, utcnow


class WatchState(StrEnum):
    """Whether a watch is matched."""

    ACTIVE = "active"
    PAUSED = "paused"


class OutboxState(StrEnum):
    """Where an outbox row is on its way to the chat; `grouped` rows were folded into a summary."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    GROUPED = "grouped"


class Watch(SQLModel, table=True):
    """A saved query belonging to one chat; `sources` empty means every source."""

    __tablename__ = "watches"
    __table_args__ = (Index("ix_watches_chat", "chat_platform", "chat_id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    chat_platform: str = Field(max_length=16)
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    query: str = Field(max_length=2000)
    sources: list[str] = Field(default_factory=list, sa_column=Column(Json, nullable=False))
    interval_s: int | None = None  # None: each source's own poll interval
    state: str = Field(default=WatchState.ACTIVE.value, max_length=16)
    muted_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    spike_alerts: bool = True  # alert the chat when a term spikes (handlers/monitor/signals.py)
    surge_alerts: bool = False  # alert on a negative-sentiment surge (opt-in)


class WatchMatch(SQLModel, table=True):
    """One post matched by one watch, with the terms that matched."""

    __tablename__ = "watch_matches"
    __table_args__ = (
        UniqueConstraint("watch_id", "post_id"),
        Index("ix_watch_matches_time", "watch_id", "created_at"),
        Index("ix_watch_matches_post", "post_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    watch_id: int = Field(sa_column=Column(BigId, ForeignKey("watches.id", ondelete="CASCADE"), nullable=False))
    post_id: int = Field(sa_column=Column(BigId, ForeignKey("posts.id", ondelete="CASCADE"), nullable=False))
    terms: list[str] = Field(default_factory=list, sa_column=Column(Json, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class WatchSignal(SQLModel, table=True):
    """The last time one signal (a spiking term, a negative surge) of a watch was alerted, to alert it once."""

    __tablename__ = "watch_signals"
    __table_args__ = (UniqueConstraint("watch_id", "kind", "key"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    watch_id: int = Field(sa_column=Column(BigId, ForeignKey("watches.id", ondelete="CASCADE"), nullable=False))
    kind: str = Field(max_length=16)  # "spike" or "surge"
    key: str = Field(max_length=256)  # the spiking term, or the surging bucket's start
    text: str = Field(max_length=500)
    fired_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OutboxItem(SQLModel, table=True):
    """A message waiting for (or done with) delivery to a chat; sent in `id` order per chat.

    An alert names its post: one row per post and chat, whichever of the chat's watches matched it.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_pending", "state", "chat_platform", "chat_id", "id"),
        Index("ix_outbox_watch", "watch_id", "created_at"),
        UniqueConstraint("post_id", "chat_platform", "chat_id", name="uq_outbox_post_chat"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    chat_platform: str = Field(max_length=16)
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    watch_id: int | None = Field(
        default=None, sa_column=Column(BigId, ForeignKey("watches.id", ondelete="CASCADE"), nullable=True)
    )
    # alerts: the post (no foreign key: a purged post keeps its pending alert)
    post_id: int | None = Field(default=None, sa_type=BigId)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(Json, nullable=False))
    state: str = Field(default=OutboxState.PENDING.value, max_length=16)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SourceCursor(SQLModel, table=True):
    """Where polling of one source for one key (a watch, an account) stopped."""

    __tablename__ = "source_cursors"

    source: str = Field(primary_key=True, max_length=32)
    key: str = Field(primary_key=True, max_length=256)
    cursor: str | None = Field(default=None, max_length=4000)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DigestSchedule(SQLModel, table=True):
    """When a chat gets its daily digest: local `time` (HH:MM) in time zone `tz`."""

    __tablename__ = "digest_schedules"
    __table_args__ = (UniqueConstraint("chat_platform", "chat_id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    chat_platform: str = Field(max_length=16)
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    time: str = Field(max_length=5)
    tz: str = Field(max_length=64)
    last_sent_period: str | None = Field(default=None, max_length=32)  # the local date last covered
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class WatchChange(SQLModel, table=True):
    """A watch was created, changed or deleted: written by database triggers (migration 0009), read by every
    process to keep its matcher in step. The highest id is the watches' version; ids never go back."""

    __tablename__ = "watch_changes"
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    watch_id: int = Field(sa_type=BigId)  # no foreign key: the row outlives a deleted watch
    at: datetime = Field(sa_type=UTCDateTime, index=True)
