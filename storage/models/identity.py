"""Users, chats and roles, keyed by `(platform, numeric id)`."""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum

from sqlalchemy import BigInteger, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import BigId, UTCDateTime, utcnow


class Role(IntEnum):
    """Ordered privileges: compare with `>=`."""

    NONE = 0
    VIEWER = 10
    ANALYST = 20
    ADMIN = 30
    OWNER = 40

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            role = cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown role {text!r}: use owner, admin, analyst or viewer") from None
        if role is cls.NONE:
            raise ValueError("use owner, admin, analyst or viewer")
        return role


class User(SQLModel, table=True):
    """A person on one platform. `role` applies across all the chats they use."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("platform", "platform_id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    platform: str = Field(max_length=16)
    platform_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    name: str | None = Field(default=None, max_length=256)  # display only
    username: str | None = Field(default=None, max_length=64, index=True)  # the platform handle, without @
    role: int = Field(default=int(Role.VIEWER))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Chat(SQLModel, table=True):
    """A chat (group, channel or DM) on one platform; nothing happens there until `allowed`."""

    __tablename__ = "chats"
    __table_args__ = (UniqueConstraint("platform", "platform_id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    platform: str = Field(max_length=16)
    platform_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    kind: str = Field(default="private", max_length=16)
    title: str | None = Field(default=None, max_length=256)
    allowed: bool = Field(default=False)
    changed_by: str | None = Field(default=None, max_length=64)
    changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
