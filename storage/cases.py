"""Reading and changing cases: entities merged on their key, links, notes, the change log, the current case."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from storage.models import Case, CaseEntity, CaseEvent, CaseLink, CaseNote, CaseStatus, CurrentCase

DETAIL_CHARS = 2000


def log(session: Session, case: Case, by: str, action: str, detail: str, now: datetime) -> CaseEvent:
    """Record a change to `case` (who, when, what) and touch its `updated_at`."""
    event = CaseEvent(case_id=case.id, at=now, by=by, action=action, detail=detail[:DETAIL_CHARS])
    case.updated_at = now
    session.add(event)
    session.add(case)
    return event


def create(session: Session, *, platform: str, chat_id: int, title: str, by: str, now: datetime) -> Case:
    """A new open case of the chat, made the chat's current case."""
    case = Case(chat_platform=platform, chat_id=chat_id, title=title, created_by=by, created_at=now, updated_at=now)
    session.add(case)
    session.flush()
    log(session, case, by, "created", title, now)
    set_current(session, case, by, now)
    return case


def for_chat(session: Session, platform: str, chat_id: int) -> list[Case]:
    """The chat's cases, newest first."""
    query = (select(Case).where(Case.chat_platform == platform, Case.chat_id == chat_id)
             .order_by(col(Case.id).desc()))
    return list(session.execute(query).scalars())


def every(session: Session) -> list[Case]:
    """Every case of every chat, oldest first (for the command line)."""
    return list(session.execute(select(Case).order_by(col(Case.id))).scalars())


def in_chat(session: Session, platform: str, chat_id: int, case_id: int) -> Case | None:
    """The case `case_id` if it belongs to this chat."""
    case = session.get(Case, case_id)
    if case is None or case.chat_platform != platform or case.chat_id != chat_id:
        return None
    return case


def current(session: Session, platform: str, chat_id: int) -> Case | None:
    """The chat's current case, if it has one."""
    row = session.get(CurrentCase, (platform, chat_id))
    return session.get(Case, row.case_id) if row else None


def set_current(session: Session, case: Case, by: str, now: datetime) -> None:
    """Make `case` its chat's current case."""
    row = session.get(CurrentCase, (case.chat_platform, case.chat_id))
    if row is None:
        row = CurrentCase(chat_platform=case.chat_platform, chat_id=case.chat_id, case_id=case.id or 0,
                          set_by=by, set_at=now)
    else:
        row.case_id, row.set_by, row.set_at = case.id or 0, by, now
    session.add(row)


def set_status(session: Session, case: Case, status: CaseStatus, by: str, now: datetime) -> None:
    """Close or reopen a case, logged."""
    case.status = status.value
    case.closed_by, case.closed_at = (by, now) if status is CaseStatus.CLOSED else (None, None)
    log(session, case, by, "closed" if status is CaseStatus.CLOSED else "reopened", "", now)


def set_summary(session: Session, case: Case, summary: str | None, by: str, now: datetime) -> None:
    """Write (or with None, remove) the case's executive summary, logged."""
    case.summary = summary
    log(session, case, by, "summary", summary or "(removed)", now)


def set_tlp(session: Session, case: Case, level: str, by: str, now: datetime) -> None:
    """Mark the case with a TLP level, logged."""
    before = case.tlp
    case.tlp = level
    log(session, case, by, "tlp", f"{before or 'default'} → {level}", now)


def upsert_entity(
    session: Session, case_id: int, *, kind: str, key: str, value: str, attrs: dict[str, Any], source: str,
    by: str, now: datetime,
) -> tuple[CaseEntity, bool]:
    """The case's entity with this (kind, key), created or merged (newer attrs win, source added); and if new."""
    query = select(CaseEntity).where(CaseEntity.case_id == case_id, CaseEntity.kind == kind, CaseEntity.key == key)
    entity = session.execute(query).scalars().first()
    if entity is None:
        entity = CaseEntity(case_id=case_id, kind=kind, key=key, value=value, attrs=dict(attrs),
                            sources=[source] if source else [], added_by=by, added_at=now)
        session.add(entity)
        session.flush()
        return entity, True
    merged = {**entity.attrs, **attrs}
    if merged != entity.attrs:
        entity.attrs = merged
    if source and source not in entity.sources:
        entity.sources = [*entity.sources, source]
    session.add(entity)
    return entity, False


def add_link(
    session: Session, case_id: int, *, src_id: int, dst_id: int, kind: str, source: str, by: str, now: datetime,
) -> bool:
    """Link two entities of the case once per kind; whether the link is new."""
    query = select(CaseLink.id).where(CaseLink.case_id == case_id, CaseLink.src_id == src_id,
                                      CaseLink.dst_id == dst_id, CaseLink.kind == kind)
    if src_id == dst_id or session.execute(query).first() is not None:
        return False
    session.add(CaseLink(case_id=case_id, src_id=src_id, dst_id=dst_id, kind=kind, source=source,
                         added_by=by, added_at=now))
    session.flush()
    return True


def entity(session: Session, case_id: int, entity_id: int) -> CaseEntity | None:
    """The entity `entity_id` if it is in the case."""
    found = session.get(CaseEntity, entity_id)
    return found if found is not None and found.case_id == case_id else None


def entity_by_key(session: Session, case_id: int, kind: str, key: str) -> CaseEntity | None:
    query = select(CaseEntity).where(CaseEntity.case_id == case_id, CaseEntity.kind == kind, CaseEntity.key == key)
    return session.execute(query).scalars().first()


def add_tag(session: Session, found: CaseEntity, tag: str) -> bool:
    """Tag an entity (e.g. `actor`); whether the tag is new."""
    if tag in found.tags:
        return False
    found.tags = [*found.tags, tag]
    session.add(found)
    return True


def remove_tag(session: Session, found: CaseEntity, tag: str) -> bool:
    """Take a tag off an entity; whether it had it."""
    if tag not in found.tags:
        return False
    found.tags = [t for t in found.tags if t != tag]
    session.add(found)
    return True


def add_note(session: Session, case: Case, text: str, by: str, now: datetime) -> CaseNote:
    note = CaseNote(case_id=case.id or 0, text=text, by=by, at=now)
    session.add(note)
    log(session, case, by, "note", text[:200], now)
    session.flush()
    return note


def entities(session: Session, case_id: int) -> list[CaseEntity]:
    query = select(CaseEntity).where(CaseEntity.case_id == case_id).order_by(col(CaseEntity.id))
    return list(session.execute(query).scalars())


def links(session: Session, case_id: int) -> list[CaseLink]:
    return list(session.execute(select(CaseLink).where(CaseLink.case_id == case_id)
                                .order_by(col(CaseLink.id))).scalars())


def notes(session: Session, case_id: int) -> list[CaseNote]:
    return list(session.execute(select(CaseNote).where(CaseNote.case_id == case_id)
                                .order_by(col(CaseNote.id))).scalars())


def events(session: Session, case_id: int) -> list[CaseEvent]:
    return list(session.execute(select(CaseEvent).where(CaseEvent.case_id == case_id)
                                .order_by(col(CaseEvent.id))).scalars())


def entity_counts(session: Session, case_ids: list[int]) -> dict[int, int]:
    """Entities per case."""
    if not case_ids:
        return {}
    rows = session.execute(select(CaseEntity.case_id, func.count()).where(col(CaseEntity.case_id).in_(case_ids))
                           .group_by(col(CaseEntity.case_id)))
    return {int(c): int(n) for c, n in rows}
