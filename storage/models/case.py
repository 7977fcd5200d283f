"""Cases: a chat's investigation — typed entities, the links between them, notes, and the log of every change."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import BigId, Json, UTCDateTime, utcnow


class CaseStatus(StrEnum):
    """Whether a case still takes changes."""

    OPEN = "open"
    CLOSED = "closed"


class Case(SQLModel, table=True):
    """An investigation belonging to one chat (the team that works it)."""

    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_chat", "chat_platform", "chat_id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    chat_platform: str = Field(max_length=16)
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    title: str = Field(max_length=256)
    status: str = Field(default=CaseStatus.OPEN.value, max_length=16)
    created_by: str = Field(max_length=128)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    closed_by: str | None = Field(default=None, max_length=128)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    summary: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # the executive summary
    tlp: str | None = Field(default=None, max_length=16)  # TLP 2.0 level; None: reports.default_tlp


class CaseEntity(SQLModel, table=True):
    """A typed thing in a case, once per normalised `key`; `sources` says where it was seen."""

    __tablename__ = "case_entities"
    __table_args__ = (UniqueConstraint("case_id", "kind", "key"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    case_id: int = Field(sa_column=Column(BigId, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False))
    kind: str = Field(max_length=16)
    key: str = Field(max_length=512)
    value: str = Field(max_length=2048)
    attrs: dict[str, Any] = Field(default_factory=dict, sa_column=Column(Json, nullable=False))
    sources: list[str] = Field(default_factory=list, sa_column=Column(Json, nullable=False))
    tags: list[str] = Field(default_factory=list, sa_column=Column(Json, nullable=False))
    added_by: str = Field(max_length=128)
    added_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CaseLink(SQLModel, table=True):
    """A directed, typed link between two entities of the same case, with where it came from."""

    __tablename__ = "case_links"
    __table_args__ = (UniqueConstraint("case_id", "src_id", "dst_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    case_id: int = Field(sa_column=Column(BigId, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False))
    src_id: int = Field(
        sa_column=Column(BigId, ForeignKey("case_entities.id", ondelete="CASCADE"), nullable=False))
    dst_id: int = Field(
        sa_column=Column(BigId, ForeignKey("case_entities.id", ondelete="CASCADE"), nullable=False))
    kind: str = Field(max_length=32)
    source: str = Field(default="", max_length=64)
    added_by: str = Field(max_length=128)
    added_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CaseNote(SQLModel, table=True):
    """An analyst's note on a case."""

    __tablename__ = "case_notes"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    case_id: int = Field(
        sa_column=Column(BigId, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True))
    text: str
    by: str = Field(max_length=128)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CaseEvent(SQLModel, table=True):
    """One change to a case: who, when, what (the audit trail of the investigation)."""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_case", "case_id", "at"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    case_id: int = Field(sa_column=Column(BigId, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False))
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    by: str = Field(max_length=128)
    action: str = Field(max_length=32)
    detail: str = Field(default="", max_length=2000)


class CurrentCase(SQLModel, table=True):
    """The case a chat is working on: where `/case add` and `/case note` go."""

    __tablename__ = "case_current"

    chat_platform: str = Field(max_length=16, primary_key=True)
    chat_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    case_id: int = Field(sa_column=Column(BigId, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False))
    set_by: str = Field(max_length=128)
    set_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
