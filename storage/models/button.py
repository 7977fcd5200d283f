"""Button tokens: a short id standing for the command line a button runs (Telegram allows 64 bytes)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime, utcnow


class ButtonToken(SQLModel, table=True):
    """The command a pressed button runs, and the chat it was shown in."""

    __tablename__ = "buttons"

    token: str = Field(primary_key=True, max_length=24)
    command: str = Field(max_length=1000)
    chat: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
