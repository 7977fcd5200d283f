"""Investigations: one playbook run in a chat — its outcome (entities, links, steps) and its manual checklist."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKey, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import BigId, Json, UTCDateTime, utcnow


class InvestigationStatus(StrEnum):
    """Where a run is: still going, finished, cancelled, failed, or cut off by a restart."""

    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class ChecklistState(StrEnum):
    """A manual step: still to do, done, or deliberately skipped."""

    PENDING = "pending"
    DONE = "done"
    SKIPPED = "skipped"


class Investigation(SQLModel, table=True):
    """A playbook run on one identifier in one chat; `result` holds the entities, links and step outcomes."""

    __tablename__ = "investigations"
    __table_args__ = (Index("ix_investigations_chat", "chat_platform", "chat_id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    chat_platform: str = Field(max_length=16)
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    kind: str = Field(max_length=16)
    subject: str = Field(max_length=512)
    playbook: str = Field(max_length=32)
    status: str = Field(default=InvestigationStatus.RUNNING.value, max_length=16)
    started_by: str = Field(max_length=128)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    requests_used: int = 0
    requests_max: int = 0
    case_id: int | None = Field(default=None, sa_type=BigId)
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(Json, nullable=False))


class ChecklistItem(SQLModel, table=True):
    """A manual step of an investigation: its pre-filled link, its state, and the analyst's note."""

    __tablename__ = "investigation_checklist"
    __table_args__ = (UniqueConstraint("investigation_id", "step"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    investigation_id: int = Field(
        sa_column=Column(BigId, ForeignKey("investigations.id", ondelete="CASCADE"), nullable=False, index=True))
    position: int = 0
    step: str = Field(max_length=32)
    label: str = Field(max_length=100)
    url: str | None = Field(default=None, max_length=2048)
    help: str | None = Field(default=None, max_length=500)
    state: str = Field(default=ChecklistState.PENDING.value, max_length=16)
    note: str = ""
    by: str | None = Field(default=None, max_length=128)
    at: datetime | None = Field(default=None, sa_type=UTCDateTime)
