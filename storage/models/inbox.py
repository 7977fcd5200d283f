"""The inbox: updates a chat platform may deliver again, written down on arrival and marked once handled."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, SQLModel

from storage.types import Json, UTCDateTime, utcnow


class InboxUpdate(SQLModel, table=True):
    """One update a bot received (Telegram: by `update_id`), kept so a redelivery is skipped and a lost run redone."""

    __tablename__ = "inbox"

    platform: str = Field(primary_key=True, max_length=16)
    bot_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    update_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(Json, nullable=False))
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    handled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # None: not handled yet
    reruns: int = 0  # times it was run again after a restart found it unhandled
