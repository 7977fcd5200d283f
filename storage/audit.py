"""Writing and reading the audit log."""

from __future__ import annotations

from sqlmodel import Session, col, select

from storage.models import AuditEntry


def record(
    session: Session, *, user: str, chat: str, command: str, args: str, outcome: str, detail: str = ""
) -> AuditEntry:
    entry = AuditEntry(
        user=user, chat=chat, command=command[:64], args=args[:2000], outcome=outcome, detail=detail[:2000]
    )
    session.add(entry)
    return entry


def recent(session: Session, limit: int = 20, user: str | None = None) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
    if user:
        query = query.where(AuditEntry.user == user)
    return list(session.exec(query))


def set_outcome(session: Session, entry_id: int, outcome: str, detail: str = "") -> None:
    """Record how a command that was audited before it finished ended."""
    entry = session.get(AuditEntry, entry_id)
    if entry is not None:
        entry.outcome = outcome
        entry.detail = detail[:2000]
        session.add(entry)
