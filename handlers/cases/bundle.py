"""A whole case loaded at once — what every export and picture is drawn from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from config.settings import Settings
from handlers.cases.attribution import attributions
from handlers.cases.entities import Entity, EntityKind
from handlers.cases.report_meta import ReportMeta, report_meta
from storage import cases as store
from storage.models import Case, CaseEntity, CaseEvent, CaseLink, CaseNote


@dataclass(frozen=True)
class CaseBundle:
    """A case with its entities, links, notes, change log and source credits, as of `exported_at`, and how
    its reports present it (`meta`: TLP, author, time zone)."""

    case: Case
    entities: list[CaseEntity]
    links: list[CaseLink]
    notes: list[CaseNote]
    events: list[CaseEvent]
    credits: list[tuple[str, str]]
    exported_at: datetime
    meta: ReportMeta = field(default_factory=ReportMeta)

    @property
    def by_id(self) -> dict[int, CaseEntity]:
        return {e.id or 0: e for e in self.entities}

    @property
    def posts(self) -> list[CaseEntity]:
        """The post entities, oldest first."""
        found = [e for e in self.entities if e.kind == EntityKind.POST.value]
        return sorted(found, key=lambda e: str(e.attrs.get("created_at", "")))

    @property
    def chat(self) -> str:
        return f"{self.case.chat_platform}:{self.case.chat_id}"


def typed(row: CaseEntity) -> Entity:
    """A stored entity as the typed value the exporters format."""
    return Entity(EntityKind(row.kind), row.value, row.key, dict(row.attrs))


def load(session: Session, case: Case, now: datetime, settings: Settings | None = None) -> CaseBundle:
    """Everything about `case` (presented as `settings.reports` says; defaults without settings)."""
    entities = store.entities(session, case.id or 0)
    links = store.links(session, case.id or 0)
    sources = [s for e in entities for s in e.sources] + [lk.source for lk in links if lk.source]
    return CaseBundle(case, entities, links, store.notes(session, case.id or 0), store.events(session, case.id or 0),
                      attributions(sources), now, report_meta(case, settings))
