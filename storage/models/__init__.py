"""All tables. Importing this module registers every table on `SQLModel.metadata`."""

from storage.models.audit import AuditEntry
from storage.models.button import ButtonToken
from storage.models.case import Case, CaseEntity, CaseEvent, CaseLink, CaseNote, CaseStatus, CurrentCase
from storage.models.identity import Chat, Role, User
from storage.models.inbox import InboxUpdate
from storage.models.investigation import ChecklistItem, ChecklistState, Investigation, InvestigationStatus
from storage.models.ioc import PostIOC
from storage.models.lookup import LookupCache
from storage.models.post import StoredPost
from storage.models.watch import (
    DigestSchedule,
    OutboxItem,
    OutboxState,
    SourceCursor,
    Watch,
    WatchChange,
    WatchMatch,
    WatchSignal,
    WatchState,
)

__all__ = [
    "AuditEntry",
    "ButtonToken",
    "Case",
    "CaseEntity",
    "CaseEvent",
    "CaseLink",
    "CaseNote",
    "CaseStatus",
    "Chat",
    "ChecklistItem",
    "ChecklistState",
    "CurrentCase",
    "DigestSchedule",
    "InboxUpdate",
    "Investigation",
    "InvestigationStatus",
    "LookupCache",
    "OutboxItem",
    "OutboxState",
    "PostIOC",
    "Role",
    "SourceCursor",
    "StoredPost",
    "User",
    "Watch",
    "WatchChange",
    "WatchMatch",
    "WatchSignal",
    "WatchState",
]
