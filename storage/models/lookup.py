"""Cached lookup answers: one row per (provider, key), kept until `expires_at`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import BigId, Json, UTCDateTime


class LookupCache(SQLModel, table=True):
    """A provider's parsed answer for one query, as JSON."""

    __tablename__ = "lookup_cache"
    __table_args__ = (UniqueConstraint("provider", "key"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    provider: str = Field(max_length=32)
    key: str = Field(max_length=512)
    value: Any = Field(default=None, sa_column=Column(Json, nullable=True))
    fetched_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
