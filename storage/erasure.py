"""Erasure: remove everything stored about one account (`/forget`).

Its posts (with matches, indicators and alerts), lookups keyed by it and case entities go; where its
handle appears inside text the bot keeps for other reasons — case notes, case events, the audit log —
the handle is replaced by REDACTED, and buttons whose command names it are deleted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_
from sqlmodel import Session, SQLModel, col, select

from storage.models import (
    AuditEntry,
    ButtonToken,
    CaseEntity,
    CaseEvent,
    CaseLink,
    CaseNote,
    LookupCache,
    OutboxItem,
    PostIOC,
    StoredPost,
    WatchMatch,
)

REDACTED = "[forgotten]"


@dataclass(frozen=True)
class Subject:
    """Whom to forget: a handle (compared without case or a leading @), on one source or on all."""

    handle: str
    source: str | None = None

    @property
    def folded(self) -> str:
        return self.handle.casefold()

    @property
    def mention(self) -> re.Pattern[str]:
        """The handle as a whole word inside free text (`@alice`, `bluesky:alice`), any case."""
        return re.compile(rf"(?<![\w.-])@?{re.escape(self.handle)}(?![\w-]|\.\w)", re.IGNORECASE)


@dataclass
class ErasureReport:
    """What was removed, per kind."""

    counts: dict[str, int] = field(default_factory=dict)
    cases: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _deleted(session: Session, statement: Any) -> int:
    return int(session.exec(statement).rowcount or 0)


def _post_filter(subject: Subject) -> Any:
    who = or_(func.lower(col(StoredPost.author_handle)) == subject.handle.lower(),
              col(StoredPost.author_id) == subject.handle)
    return who if subject.source is None else (col(StoredPost.source) == subject.source) & who


def _forget_posts(session: Session, subject: Subject, report: ErasureReport) -> list[tuple[int, str, str]]:
    posts = [(p.id or 0, p.source, p.source_id) for p in session.exec(select(StoredPost).where(_post_filter(subject)))]
    ids = [p[0] for p in posts]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        report.counts["matches"] = report.counts.get("matches", 0) + _deleted(
            session, delete(WatchMatch).where(col(WatchMatch.post_id).in_(chunk)))
        report.counts["iocs"] = report.counts.get("iocs", 0) + _deleted(
            session, delete(PostIOC).where(col(PostIOC.post_id).in_(chunk)))
        report.counts["posts"] = report.counts.get("posts", 0) + _deleted(
            session, delete(StoredPost).where(col(StoredPost.id).in_(chunk)))
    return posts


def _about(post: dict[str, Any], subject: Subject, ids: set[int]) -> bool:
    if post.get("id") in ids:
        return True
    same = str(post.get("author_handle") or "").casefold().lstrip("@") == subject.folded
    return same and (subject.source is None or post.get("source") == subject.source)


def _forget_outbox(session: Session, subject: Subject, ids: set[int], report: ErasureReport) -> None:
    """Alerts about the subject's posts go; group summaries lose those posts from their top list."""
    removed = redacted = 0
    for row in session.exec(select(OutboxItem)):
        payload = row.payload or {}
        if payload.get("kind") == "group":
            top = [p for p in payload.get("top", []) if not _about(p, subject, ids)]
            if len(top) != len(payload.get("top", [])):
                row.payload = {**payload, "top": top}
                session.add(row)
                redacted += 1
        elif _about(payload.get("post") or {}, subject, ids):
            session.delete(row)
            removed += 1
    report.counts["alerts"] = removed
    report.counts["alert summaries redacted"] = redacted


def _forget_lookups(session: Session, subject: Subject, report: ErasureReport) -> None:
    handle = subject.handle.lower()
    keys = or_(col(LookupCache.key) == handle,
               col(LookupCache.key).endswith(f":{handle}", autoescape=True))
    report.counts["lookups"] = _deleted(session, delete(LookupCache).where(keys))


def _forget_case_entities(session: Session, subject: Subject, posts: list[tuple[int, str, str]],
                          report: ErasureReport, by: str, now: datetime) -> None:
    folded = subject.folded
    account = (col(CaseEntity.key) == f"{subject.source}:{folded}" if subject.source
               else col(CaseEntity.key).endswith(f":{folded}", autoescape=True))
    matches = [(col(CaseEntity.kind) == "account") & account,
               (col(CaseEntity.kind) == "username") & (col(CaseEntity.key) == folded)]
    post_keys = [f"{source}:{source_id}" for _, source, source_id in posts]
    for start in range(0, len(post_keys), 500):
        matches.append((col(CaseEntity.kind) == "post") & col(CaseEntity.key).in_(post_keys[start : start + 500]))
    entities = list(session.exec(select(CaseEntity).where(or_(*matches))))
    ids = [e.id for e in entities]
    report.counts["case links"] = _deleted(session, delete(CaseLink).where(
        or_(col(CaseLink.src_id).in_(ids), col(CaseLink.dst_id).in_(ids)))) if ids else 0
    report.counts["case entities"] = _deleted(session, delete(CaseEntity).where(col(CaseEntity.id).in_(ids))) \
        if ids else 0
    per_case: dict[int, int] = {}
    for entity in entities:
        per_case[entity.case_id] = per_case.get(entity.case_id, 0) + 1
    for case_id, count in sorted(per_case.items()):
        session.add(CaseEvent(case_id=case_id, at=now, by=by, action="forget",
                              detail=f"{count} entit{'y' if count == 1 else 'ies'} removed by /forget"))
    report.cases = sorted(per_case)


def _redact_text(session: Session, subject: Subject, model: type[SQLModel], fields: tuple[str, ...]) -> int:
    """Replace the handle inside `fields` of every `model` row that mentions it; returns the rows changed."""
    needle = subject.handle.lower()
    candidates = or_(*(func.lower(col(getattr(model, f))).contains(needle, autoescape=True) for f in fields))
    changed = 0
    for row in session.exec(select(model).where(candidates)):
        edits = {f: subject.mention.sub(REDACTED, getattr(row, f)) for f in fields}
        if any(edits[f] != getattr(row, f) for f in fields):
            for name, value in edits.items():
                setattr(row, name, value)
            session.add(row)
            changed += 1
    return changed


def _forget_buttons(session: Session, subject: Subject) -> int:
    """Delete buttons whose command names the handle (pressing one now says it expired)."""
    needle = subject.handle.lower()
    rows = session.exec(select(ButtonToken).where(func.lower(col(ButtonToken.command)).contains(needle,
                                                                                               autoescape=True)))
    doomed = [b.token for b in rows if subject.mention.search(b.command)]
    return _deleted(session, delete(ButtonToken).where(col(ButtonToken.token).in_(doomed))) if doomed else 0


def forget(session: Session, subject: Subject, *, by: str, now: datetime) -> ErasureReport:
    """Remove the subject's posts (with matches, IOCs, alerts), lookups keyed by them and case entities;
    redact the handle in case notes, case events and the audit log; delete buttons naming it."""
    report = ErasureReport()
    posts = _forget_posts(session, subject, report)
    _forget_outbox(session, subject, {p[0] for p in posts}, report)
    _forget_lookups(session, subject, report)
    _forget_case_entities(session, subject, posts, report, by, now)
    report.counts["case notes redacted"] = _redact_text(session, subject, CaseNote, ("text",))
    report.counts["case events redacted"] = _redact_text(session, subject, CaseEvent, ("detail",))
    report.counts["buttons"] = _forget_buttons(session, subject)
    report.counts["audit entries redacted"] = _redact_text(session, subject, AuditEntry, ("args", "detail"))
    return report
