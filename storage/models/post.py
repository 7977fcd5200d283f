"""Stored posts: every normalised post from any source or import, once per `(source, source_id)`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import BigId, Json, UTCDateTime, utcnow


class StoredPost(SQLModel, table=True):
    """A post as collected; lists and dicts are JSON columns, `raw` keeps the source payload."""

    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("source", "source_id"),
        Index("ix_posts_author", "source", "author_handle"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    source: str = Field(max_length=32)
    source_id: str = Field(max_length=256)
    url: str | None = Field(default=None, max_length=2048)
    author_id: str | None = Field(default=None, max_length=256)
    author_handle: str | None = Field(default=None, max_length=256)
    author_name: str | None = Field(default=None, max_length=512)
    text: str = ""
    title: str | None = Field(default=None, max_length=1024)
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    collected_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    lang: str | None = Field(default=None, max_length=16)
    reply_to: str | None = Field(default=None, max_length=256)
    thread_id: str | None = Field(default=None, max_length=256)
    content_hash: str = Field(max_length=64, index=True)
    mentions: list[str] = Field(default_factory=list, sa_column=Column(Json, nullable=False))
    hashtags: list[str] = Field(default_factory=list, sa_column=Column(Json, nullable=False))
    urls: list[str] = Field(default_factory=list, sa_column=Column(Json, nullable=False))
    media: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(Json, nullable=False))
    geo: dict[str, Any] | None = Field(default=None, sa_column=Column(Json, nullable=True))
    engagement: dict[str, int] = Field(default_factory=dict, sa_column=Column(Json, nullable=False))
    raw: dict[str, Any] | None = Field(default=None, sa_column=Column(Json, nullable=True))
