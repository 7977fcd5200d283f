"""Indicators extracted from stored posts: one row per (post, kind, value), for pivots and /iocs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import BigId, UTCDateTime


class PostIOC(SQLModel, table=True):
    """An indicator seen in a post; `seen_at` is the post's time, so first/last seen need no join."""

    __tablename__ = "post_iocs"
    __table_args__ = (
        UniqueConstraint("post_id", "kind", "value"),
        Index("ix_post_iocs_value", "kind", "value"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    post_id: int = Field(sa_column=Column(BigId, ForeignKey("posts.id", ondelete="CASCADE"), nullable=False))
    kind: str = Field(max_length=16)
    value: str = Field(max_length=2048)
    seen_at: datetime = Field(sa_type=UTCDateTime, index=True)
