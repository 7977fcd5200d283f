"""The audit log: every command, refusal and lookup, who, where, what and when."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from storage.types import BigId, UTCDateTime, utcnow


class AuditEntry(SQLModel, table=True):
    """One audited event. `outcome` is ok, refused, invalid, error or timeout."""

    __tablename__ = "audit"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    user: str = Field(max_length=64, index=True)  # "telegram:123"
    chat: str = Field(max_length=64)
    command: str = Field(max_length=64)
    args: str = Field(default="", max_length=2000)
    outcome: str = Field(max_length=16)
    detail: str = Field(default="", max_length=2000)
