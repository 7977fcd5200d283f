"""The case report as readable sections — what the HTML, PDF and Markdown reports all show, decided once.

Every value is plain text with its indicators defanged (renderers only escape): entities are grouped
into indicators, vulnerabilities and people/accounts, each with what is known about it in words; links
read as sentences; dates are in the report's time zone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from handlers.cases.bundle import CaseBundle, typed
from handlers.cases.defanged_text import defang_text
from handlers.cases.entities import EntityKind, defanged
from handlers.cases.human_dates import HumanDates
from handlers.cases.report_meta import ReportMeta
from storage.models import CaseEntity, CaseStatus

NO_SUMMARY = ("No executive summary has been written for this case yet (an analyst adds it with "
              "/case summary <text>).")
DEFANG_NOTE = "Indicators are defanged (hxxp, [.], [@]) so that none can be followed by accident."
INDICATOR_GROUPS: tuple[tuple[str, str], ...] = (
    (EntityKind.DOMAIN, "Domains"), (EntityKind.IP, "IP addresses"), (EntityKind.URL, "URLs"),
    (EntityKind.EMAIL, "E-mail addresses"), (EntityKind.HASH, "File hashes"),
)
PEOPLE_GROUPS: tuple[tuple[str, str], ...] = (
    (EntityKind.ACCOUNT, "Accounts"), (EntityKind.USERNAME, "Usernames"), (EntityKind.PERSON, "People"),
    (EntityKind.ORGANISATION, "Organisations"), (EntityKind.PHONE, "Phone numbers"),
    (EntityKind.LOCATION, "Places"),
)
KIND_PLURALS = {
    "domain": "domains", "ip": "IP addresses", "url": "URLs", "email": "e-mail addresses", "hash": "file hashes",
    "cve": "CVEs", "account": "accounts", "username": "usernames", "person": "people", "organisation": "organisations",
    "phone": "phone numbers", "location": "places", "post": "posts",
}
_SINGULAR = {"email": "e-mail address", "ip": "IP address", "person": "person", "hash": "file hash", "cve": "CVE",
             "url": "URL", "phone": "phone number", "location": "place"}
_SHOWN_ELSEWHERE = frozenset({EntityKind.POST.value, EntityKind.CVE.value})
_SOURCES = {"analyst": "analyst", "lookup:domain": "domain lookup", "lookup:ip": "IP lookup",
            "lookup:email": "e-mail lookup", "lookup:url": "URL lookup", "lookup:phone": "phone lookup",
            "lookup:cve": "CVE lookup"}


@dataclass(frozen=True)
class Table:
    """A table of plain-text cells, under a heading unless `title` is empty."""

    title: str
    headers: tuple[str, ...]
    rows: list[tuple[str, ...]]

    def without_empty(self, header: str) -> Table:
        """The table without column `header` when no row has anything in it."""
        i = self.headers.index(header)
        if any(row[i] for row in self.rows):
            return self
        return Table(self.title, self.headers[:i] + self.headers[i + 1:], [r[:i] + r[i + 1:] for r in self.rows])


@dataclass(frozen=True)
class KeyPost:
    """A post of the case as the report quotes it."""

    heading: str
    byline: str
    title: str
    text: str
    url: str | None


@dataclass(frozen=True)
class Note:
    """An analyst's note: when, who, what."""

    when: str
    by: str
    text: str


@dataclass
class CaseReport:
    """Everything a stakeholder report shows, in reading order."""

    title: str
    meta: ReportMeta
    exported: str
    summary: list[str]
    has_summary: bool
    details: list[tuple[str, str]]
    indicators: list[Table] = field(default_factory=list)
    vulnerabilities: Table | None = None
    people: list[Table] = field(default_factory=list)
    others: Table | None = None
    relationships: Table | None = None
    posts: list[KeyPost] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    credits: list[tuple[str, str]] = field(default_factory=list)
    changes: Table | None = None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def counted(kinds: Counter[str]) -> str:
    """`4 domains, 1 IP address, 3 posts`, kinds in their usual order."""
    order = list(KIND_PLURALS)
    ranked = sorted(kinds.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order), kv[0]))
    return ", ".join(f"{n} {_SINGULAR.get(k, k)}" if n == 1 else f"{n} {KIND_PLURALS.get(k, k + 's')}"
                     for k, n in ranked)


def seen_in(sources: list[str]) -> str:
    """Where an entity came from, in words: `analyst, Mastodon post, RDAP`."""
    named = [_SOURCES.get(s) or (f"{s.removeprefix('post:')} post" if s.startswith("post:") else s) for s in sources]
    return ", ".join(dict.fromkeys(named))


def _list(value: Any) -> str:
    return ", ".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)


def _percent(value: Any) -> str:
    try:
        return f"{float(value):.1%}"
    except (TypeError, ValueError):
        return str(value)


def _fact_words(dates: HumanDates) -> dict[str, Callable[[Any], str | None]]:
    """How each known fact reads; None leaves a fact out."""

    def date(label: str) -> Callable[[Any], str]:
        return lambda v: f"{label} {dates.day(parsed)}" if (parsed := dates.parse(v)) else f"{label} {v}"

    return {
        "created": date("registered"), "expires": date("expires"),
        "status": lambda v: f"status {_list(v)}", "ports": lambda v: f"open ports {_list(v)}",
        "network": lambda v: f"network {v}", "country": lambda v: f"country {v}",
        "asn": lambda v: f"AS{v}", "algorithm": lambda v: str(v).upper(), "region": lambda v: f"region {v}",
        "service": lambda v: f"on {v}", "name": lambda v: f"name {v}", "url": lambda v: f"profile {v}",
        "lat": lambda v: f"latitude {v}", "lon": lambda v: f"longitude {v}",
        "version": lambda v: None, "handle": lambda v: None, "source": lambda v: None, "unicode": lambda v: None,
    }


def known(e: CaseEntity, dates: HumanDates) -> str:
    """What is known about an entity, in words (`registered 3 May 2021; open ports 80, 443`)."""
    words = _fact_words(dates)
    parts = []
    for key, value in e.attrs.items():
        if value in (None, "", [], {}) or isinstance(value, dict):
            continue
        say = words.get(key, lambda v, k=key: f"{k.replace('_', ' ')}: {_list(v)}")
        if (text := say(value)) is not None:
            parts.append(text)
    return defang_text("; ".join(parts)) or "—"


def shown(e: CaseEntity) -> str:
    """An entity's value as the report shows it: defanged, with its Unicode form beside a punycode name."""
    value = defanged(typed(e))
    unicode = e.attrs.get("unicode")
    return f"{value} ({defang_text(str(unicode))})" if unicode else defang_text(value)


def _group_table(title: str, rows: list[CaseEntity], dates: HumanDates, with_kind: bool = False) -> Table:
    headers = ("value", *(("kind",) if with_kind else ()), "what is known", "tags", "seen in", "added")
    return Table(f"{title} ({len(rows)})", headers, [
        (shown(e), *((e.kind,) if with_kind else ()), known(e, dates), ", ".join(e.tags), seen_in(e.sources),
         dates.day(e.added_at))
        for e in rows
    ]).without_empty("tags")


def _vulnerabilities(rows: list[CaseEntity]) -> Table | None:
    if not rows:
        return None

    def exploited(e: CaseEntity) -> str:
        flag = e.attrs.get("known_exploited")
        return "yes (CISA KEV)" if flag is True else "not known" if flag is False else "—"

    return Table(f"Vulnerabilities ({len(rows)})", ("CVE", "CVSS", "exploited", "EPSS", "description"), [
        (e.value, str(e.attrs.get("cvss", "—")), exploited(e),
         _percent(e.attrs["epss"]) if "epss" in e.attrs else "—", defang_text(str(e.attrs.get("description", ""))))
        for e in rows
    ])


def _label(e: CaseEntity) -> str:
    return f"post {e.value}" if e.kind == EntityKind.POST.value else f"{shown(e)} ({e.kind})"


def _relationships(bundle: CaseBundle) -> Table | None:
    ids = bundle.by_id
    rows = [(_label(ids[lk.src_id]), lk.kind.replace("-", " "), _label(ids[lk.dst_id]), seen_in([lk.source]))
            for lk in bundle.links if lk.src_id in ids and lk.dst_id in ids]
    return Table("", ("from", "relationship", "to", "according to"), rows) if rows else None


def _posts(bundle: CaseBundle, dates: HumanDates) -> list[KeyPost]:
    out = []
    for p in bundle.posts:
        a = p.attrs
        when = dates.parse(a.get("created_at"))
        who = a.get("author_handle") or "unknown author"
        name = f" ({a['author_name']})" if a.get("author_name") else ""
        url = a.get("url") if isinstance(a.get("url"), str) and a["url"].lower().startswith(("http://", "https://")) \
            else None
        out.append(KeyPost(
            f"{str(a.get('source') or p.value.split(':')[0]).title()} post {p.value.split(':', 1)[-1]}",
            defang_text(f"by {who}{name}" + (f", {dates.when(when)}" if when else "")),
            defang_text(str(a.get("title") or "")), defang_text(str(a.get("text") or "")), url))
    return out


def _details(bundle: CaseBundle, dates: HumanDates) -> list[tuple[str, str]]:
    case, meta = bundle.case, bundle.meta
    contents = counted(Counter(e.kind for e in bundle.entities)) or "no entities yet"
    rows = [
        ("Marking", f"{meta.tlp.label}: {meta.tlp.meaning}"),
        ("Status", case.status + (f" since {dates.when(case.closed_at)}" if case.closed_at else "")),
        ("Opened", f"{dates.when(case.created_at)} by {defang_text(case.created_by)}"),
        ("Last change", dates.when(case.updated_at)),
        ("Contents", f"{contents}; {_plural(len(bundle.links), 'link')}, {_plural(len(bundle.notes), 'note')}"),
        ("Dates", f"shown in {dates.name} time"),
    ]
    if meta.byline:
        rows.insert(1, ("Prepared by", meta.byline))
    return rows


def build(bundle: CaseBundle) -> CaseReport:
    """The report of `bundle`, section by section."""
    dates = bundle.meta.dates
    case = bundle.case
    by_kind: dict[str, list[CaseEntity]] = {}
    for e in bundle.entities:
        by_kind.setdefault(e.kind, []).append(e)
    summary = [defang_text(p.strip()) for p in (case.summary or "").split("\n") if p.strip()]
    grouped = {k for k, _ in INDICATOR_GROUPS + PEOPLE_GROUPS} | _SHOWN_ELSEWHERE
    rest = [e for e in bundle.entities if e.kind not in grouped]
    status = "" if case.status == CaseStatus.OPEN.value else f" ({case.status})"
    return CaseReport(
        title=defang_text(f"Case {case.id}: {case.title}{status}"),
        meta=bundle.meta,
        exported=dates.when(bundle.exported_at),
        summary=summary or [NO_SUMMARY],
        has_summary=bool(summary),
        details=_details(bundle, dates),
        indicators=[_group_table(t, by_kind[k], dates) for k, t in INDICATOR_GROUPS if by_kind.get(k)],
        vulnerabilities=_vulnerabilities(by_kind.get(EntityKind.CVE.value, [])),
        people=[_group_table(t, by_kind[k], dates) for k, t in PEOPLE_GROUPS if by_kind.get(k)],
        others=_group_table("Other entities", rest, dates, with_kind=True) if rest else None,
        relationships=_relationships(bundle),
        posts=_posts(bundle, dates),
        notes=[Note(dates.when(n.at), n.by, defang_text(n.text)) for n in bundle.notes],
        credits=bundle.credits,
        changes=Table("", ("when", "who", "what", "detail"),
                      [(dates.when(ev.at), ev.by, ev.action, defang_text(ev.detail)) for ev in bundle.events]),
    )
