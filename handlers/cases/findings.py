"""Findings — entities and links from one action (a post, a lookup, an analyst) — and recording them in a case.

Other features add to a chat's current case with `add_to_current_case(services, chat, entities, links, by)`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from sqlmodel import Session

from bot.command import ChatRef, CommandError
from bot.services import Services
from handlers.analysis.iocs import IOCKind, extract_iocs
from handlers.cases import entities as ent
from handlers.cases.entities import Entity, EntityError, EntityKind
from handlers.cases.links import Link, LinkKind
from handlers.lookup.detect import parse_ip
from storage import cases as store
from storage.models import Case, CaseStatus, StoredPost

POST_TEXT_CHARS = 4000
_IOC_KINDS = {
    IOCKind.URL: EntityKind.URL, IOCKind.DOMAIN: EntityKind.DOMAIN, IOCKind.IPV4: EntityKind.IP,
    IOCKind.IPV6: EntityKind.IP, IOCKind.EMAIL: EntityKind.EMAIL, IOCKind.MD5: EntityKind.HASH,
    IOCKind.SHA1: EntityKind.HASH, IOCKind.SHA256: EntityKind.HASH, IOCKind.SHA512: EntityKind.HASH,
    IOCKind.CVE: EntityKind.CVE, IOCKind.BTC: EntityKind.WALLET, IOCKind.ETH: EntityKind.WALLET,
    IOCKind.XMR: EntityKind.WALLET,
}


@dataclass
class Findings:
    """What one action found: entities, links between them, and where it came from."""

    source: str
    entities: list[Entity] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # provider → why it gave nothing
    remarks: list[str] = field(default_factory=list)  # e.g. "12 more subdomains not added"

    def add(self, entity: Entity) -> Entity:
        self.entities.append(entity)
        return entity

    def link(self, src: Entity, kind: LinkKind, dst: Entity, source: str = "") -> None:
        self.links.append(Link(src, kind, dst, source or self.source))


@dataclass(frozen=True)
class Recorded:
    """What recording findings changed in the case."""

    case: Case
    new_entities: int
    known_entities: int
    new_links: int
    ids: dict[str, int]  # Entity.ref → entity id

    def summary(self) -> str:
        known = f" ({self.known_entities} already in the case)" if self.known_entities else ""
        return f"+{self.new_entities} entities{known}, +{self.new_links} links"


class CaseClosed(CommandError):
    """The case is closed and takes no changes."""


def record(session: Session, case: Case, findings: Findings, *, by: str, action: str, now: datetime) -> Recorded:
    """Merge the findings into the case (deduplicated on each entity's key) and log one event."""
    if case.status != CaseStatus.OPEN.value:
        raise CaseClosed(f"Case {case.id} is closed; reopen it with /case reopen {case.id} to change it.")
    explicit = {e.ref for e in findings.entities}
    origin: dict[str, str] = {}
    for lk in findings.links:
        for end in (lk.src, lk.dst):
            if end.ref not in explicit and lk.source:
                origin.setdefault(end.ref, lk.source)
    ordered: dict[str, Entity] = {}
    for e in [*findings.entities, *(x for lk in findings.links for x in (lk.src, lk.dst))]:
        seen = ordered.get(e.ref)
        ordered[e.ref] = e if seen is None else Entity(e.kind, seen.value, e.key, {**e.attrs, **seen.attrs})
    ids: dict[str, int] = {}
    new = known = 0
    for ref, entity in ordered.items():
        row, created = store.upsert_entity(
            session, case.id or 0, kind=entity.kind.value, key=entity.key, value=entity.value,
            attrs=entity.attrs, source=origin.get(ref, findings.source), by=by, now=now)
        ids[ref] = row.id or 0
        new, known = new + created, known + (not created)
    new_links = sum(
        store.add_link(session, case.id or 0, src_id=ids[lk.src.ref], dst_id=ids[lk.dst.ref], kind=lk.kind.value,
                       source=lk.source or findings.source, by=by, now=now)
        for lk in findings.links
    )
    result = Recorded(case, new, known, new_links, ids)
    store.log(session, case, by, action, f"{findings.source}: {result.summary()}", now)
    return result


async def add_to_current_case(
    services: Services, chat: ChatRef, entities: Iterable[Entity], links: Iterable[Link], by: str,
    source: str = "analyst",
) -> Case | None:
    """Add entities and links to the chat's current case; None when the chat has no open current case."""
    findings = Findings(source, list(entities), list(links))

    def apply(session: Session) -> Case | None:
        case = store.current(session, chat.platform, chat.id)
        if case is None or case.status != CaseStatus.OPEN.value:
            return None
        return record(session, case, findings, by=by, action="added", now=services.now()).case

    return await services.db.run(apply)


def from_post(row: StoredPost) -> Findings:
    """A stored post as findings: the post, its author, who it mentions and the indicators in its text."""
    source = f"post:{row.source}"
    findings = Findings(source)
    attrs = {
        "post_id": row.id, "source": row.source, "url": row.url, "title": row.title,
        "text": (row.text or "")[:POST_TEXT_CHARS], "created_at": row.created_at.isoformat(),
        "author_handle": row.author_handle, "author_name": row.author_name, "lang": row.lang,
    }
    post = findings.add(ent.post_entity(row.source, row.source_id, {k: v for k, v in attrs.items() if v}))
    if row.author_handle:
        author = ent.account_entity(row.source, row.author_handle, name=row.author_name)
        findings.link(author, LinkKind.POSTED, post)
    for handle in row.mentions:
        try:
            findings.link(post, LinkKind.MENTIONS, ent.account_entity(row.source, handle))
        except EntityError:
            continue
    full_text = f"{row.title}\n{row.text}" if row.title else row.text
    for ioc in extract_iocs(full_text):
        kind = _IOC_KINDS.get(ioc.kind)
        if kind is None:
            continue
        try:
            indicator = ent.make(kind, ioc.value)
        except EntityError:
            continue
        findings.link(post, LinkKind.MENTIONS, indicator)
        if kind is EntityKind.URL:
            host_link(findings, indicator)
    return findings


def host_link(findings: Findings, url: Entity, source: str = "") -> None:
    """Link a URL to the domain or IP it is on."""
    host = urlsplit(url.value).hostname or ""
    try:
        host_entity = ent.ip_entity(host) if parse_ip(host) else ent.domain_entity(host)
    except EntityError:
        return
    findings.link(url, LinkKind.HOSTED_ON, host_entity, source)
