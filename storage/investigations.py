"""Reading and writing investigations and their checklists."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from storage.models import ChecklistItem, ChecklistState, Investigation, InvestigationStatus


def create(session: Session, *, platform: str, chat_id: int, kind: str, subject: str, playbook: str, by: str,
           requests_max: int, now: datetime, checklist: Iterable[dict[str, Any]]) -> Investigation:
    """A running investigation with its checklist items (`step`, `label`, `url`, `help` each)."""
    row = Investigation(chat_platform=platform, chat_id=chat_id, kind=kind, subject=subject[:512],
                        playbook=playbook, started_by=by, started_at=now, requests_max=requests_max)
    session.add(row)
    session.flush()
    for position, item in enumerate(checklist):
        session.add(ChecklistItem(investigation_id=row.id or 0, position=position, **item))
    return row


def finish(session: Session, investigation_id: int, *, status: InvestigationStatus, result: dict[str, Any],
           requests_used: int, case_id: int | None, now: datetime) -> None:
    row = session.get(Investigation, investigation_id)
    if row is None:
        return
    row.status = status.value
    row.result = result
    row.requests_used = requests_used
    row.case_id = case_id
    row.finished_at = now
    session.add(row)


def latest(session: Session, platform: str, chat_id: int) -> Investigation | None:
    """The chat's most recent investigation."""
    query = (select(Investigation).where(Investigation.chat_platform == platform, Investigation.chat_id == chat_id)
             .order_by(col(Investigation.id).desc()).limit(1))
    return session.exec(query).first()


def in_chat(session: Session, platform: str, chat_id: int, investigation_id: int) -> Investigation | None:
    row = session.get(Investigation, investigation_id)
    if row is None or row.chat_platform != platform or row.chat_id != chat_id:
        return None
    return row


def checklist(session: Session, investigation_id: int) -> list[ChecklistItem]:
    query = (select(ChecklistItem).where(ChecklistItem.investigation_id == investigation_id)
             .order_by(col(ChecklistItem.position)))
    return list(session.exec(query))


def item(session: Session, investigation_id: int, step: str) -> ChecklistItem | None:
    query = select(ChecklistItem).where(ChecklistItem.investigation_id == investigation_id,
                                        ChecklistItem.step == step)
    return session.exec(query).first()


def mark(session: Session, found: ChecklistItem, state: ChecklistState, by: str, now: datetime) -> None:
    found.state = state.value
    found.by = by
    found.at = now
    session.add(found)


def add_note(session: Session, found: ChecklistItem, text: str, by: str, now: datetime) -> None:
    """Append a note to a checklist item (notes accumulate, one per line)."""
    found.note = f"{found.note}\n{text}".strip() if found.note else text
    found.by = by
    found.at = now
    session.add(found)


def interrupt_stale(session: Session) -> int:
    """Mark runs left `running` by a previous process as interrupted; how many there were."""
    rows = list(session.exec(select(Investigation).where(
        Investigation.status == InvestigationStatus.RUNNING.value)))
    for row in rows:
        row.status = InvestigationStatus.INTERRUPTED.value
        session.add(row)
    return len(rows)
