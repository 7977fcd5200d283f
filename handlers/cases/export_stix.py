"""The STIX 2.1 export: a bundle a CTI platform can import, validated with the `stix2` library.

Mapping: domains, IPs, URLs, e-mails and hashes become observables (SCOs), each inside Observed Data
(seen, not judged); only those an analyst tagged `malicious` (`/case tag #4 malicious`; the older tag
`ioc` counts too) also become Indicators with a STIX pattern, based on that Observed Data. A wallet
tagged malicious is an Indicator on `x-cryptocurrency-wallet:value`; STIX 2.1 has no wallet object, so
an untagged one is left out. CVEs are Vulnerabilities; accounts and usernames are user-accounts;
people and organisations are Identities, or Threat Actors when tagged `actor`; posts are Observed
Data over what they contain; case links are Relationships; notes are Notes; a Report holds
everything. Ids are derived from the case and the entity, so a re-export updates the same objects.
Phones, untagged wallets and places without coordinates have no STIX object: the Report says how
many were left out (the JSON export has them).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import stix2

from handlers.cases import tlp
from handlers.cases.bundle import CaseBundle
from handlers.cases.entities import EntityKind
from storage.models import CaseEntity

NAMESPACE = uuid.UUID("6f1c3b1e-5a0e-4c47-9f6b-2f0a4c1d9e21")
HASH_ALGORITHMS = {32: "MD5", 40: "SHA-1", 64: "SHA-256", 128: "SHA-512"}
ACTOR_TAG = "actor"
MALICIOUS_TAGS = frozenset({"malicious", "ioc"})


def _id(kind: str, *parts: object) -> str:
    return f"{kind}--{uuid.uuid5(NAMESPACE, '|'.join(str(p) for p in parts))}"


def _quote(value: str) -> str:
    """A value inside a STIX pattern string literal."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _observable(e: CaseEntity) -> tuple[Any, str] | None:
    """The SCO for an indicator-like entity, and the pattern that matches it."""
    v = e.value
    match e.kind:
        case EntityKind.DOMAIN.value:
            return stix2.DomainName(value=v), f"[domain-name:value = '{_quote(v)}']"
        case EntityKind.IP.value:
            if ":" in v:
                return stix2.IPv6Address(value=v), f"[ipv6-addr:value = '{_quote(v)}']"
            return stix2.IPv4Address(value=v), f"[ipv4-addr:value = '{_quote(v)}']"
        case EntityKind.URL.value:
            return stix2.URL(value=v), f"[url:value = '{_quote(v)}']"
        case EntityKind.EMAIL.value:
            return stix2.EmailAddress(value=v), f"[email-addr:value = '{_quote(v)}']"
        case EntityKind.HASH.value:
            algorithm = HASH_ALGORITHMS[len(e.key)]
            return stix2.File(hashes={algorithm: e.key}), f"[file:hashes.'{algorithm}' = '{_quote(e.key)}']"
    return None


def malicious(e: CaseEntity) -> bool:
    """Whether an analyst marked the entity malicious: only those become STIX Indicators."""
    return not MALICIOUS_TAGS.isdisjoint(e.tags)


class _Builder:
    """Collects the STIX objects for one case."""

    def __init__(self, bundle: CaseBundle) -> None:
        self.bundle = bundle
        self.case_id = bundle.case.id
        self.objects: dict[str, Any] = {}
        self.node: dict[int, str] = {}  # entity id → the STIX id its links attach to
        self.indicator: dict[int, str] = {}
        self.actor: dict[int, str] = {}
        self.left_out: dict[str, int] = {}
        self.author = stix2.Identity(id=_id("identity", "socmint-bot"), name="socmint-bot", identity_class="system",
                                     created=bundle.case.created_at, modified=bundle.case.created_at)
        self.add(self.author)

    def add(self, obj: Any) -> str:
        self.objects[obj.id] = obj
        return obj.id

    def sdo(self, cls: Any, kind: str, e: CaseEntity, **props: Any) -> str:
        return self.add(cls(id=_id(kind, self.case_id, e.kind, e.key), created=e.added_at, modified=e.added_at,
                            created_by_ref=self.author.id, **props))

    def entity(self, e: CaseEntity) -> None:
        eid = e.id or 0
        observed = _observable(e)
        if observed is not None:
            sco, pattern = observed
            self.node[eid] = self.add(sco)
            seen = self.sdo(stix2.ObservedData, "observed-data", e, first_observed=e.added_at,
                            last_observed=e.added_at, number_observed=1, object_refs=[sco.id])
            if malicious(e):
                self.indicate(e, pattern, based_on=seen)
            return
        if e.kind == EntityKind.WALLET.value:
            if malicious(e):
                self.indicate(e, f"[x-cryptocurrency-wallet:value = '{_quote(e.key)}']")
                self.node[eid] = self.indicator[eid]
            else:
                self.left_out[e.kind] = self.left_out.get(e.kind, 0) + 1
            return
        match e.kind:
            case EntityKind.CVE.value:
                refs = [{"source_name": "cve", "external_id": e.key}]
                self.node[eid] = self.sdo(stix2.Vulnerability, "vulnerability", e, name=e.key,
                                          external_references=refs,
                                          **({"description": e.attrs["description"]}
                                             if e.attrs.get("description") else {}))
            case EntityKind.ACCOUNT.value | EntityKind.USERNAME.value:
                props = {"account_login": e.attrs.get("handle", e.value)}
                if e.attrs.get("source"):
                    props["account_type"] = e.attrs["source"]
                if e.attrs.get("name"):
                    props["display_name"] = e.attrs["name"]
                self.node[eid] = self.add(stix2.UserAccount(**props))
            case EntityKind.PERSON.value | EntityKind.ORGANISATION.value if ACTOR_TAG not in e.tags:
                cls = "individual" if e.kind == EntityKind.PERSON.value else "organization"
                self.node[eid] = self.sdo(stix2.Identity, "identity", e, name=e.value, identity_class=cls)
            case EntityKind.LOCATION.value if "lat" in e.attrs and "lon" in e.attrs:
                self.node[eid] = self.sdo(stix2.Location, "location", e, name=e.value,
                                          latitude=float(e.attrs["lat"]), longitude=float(e.attrs["lon"]))
            case EntityKind.POST.value:
                return  # after every other entity: observed data refers to them
            case _ if ACTOR_TAG not in e.tags:
                self.left_out[e.kind] = self.left_out.get(e.kind, 0) + 1
        if ACTOR_TAG in e.tags:
            self.actor[eid] = self.sdo(stix2.ThreatActor, "threat-actor", e, name=e.value)
            if eid in self.node:
                self.relate(self.actor[eid], "related-to", self.node[eid], e.added_at)
            else:
                self.node[eid] = self.actor[eid]

    def indicate(self, e: CaseEntity, pattern: str, based_on: str | None = None) -> None:
        """An Indicator for an entity an analyst marked malicious."""
        eid = e.id or 0
        self.indicator[eid] = self.sdo(stix2.Indicator, "indicator", e, name=e.value, pattern=pattern,
                                       pattern_type="stix", valid_from=e.added_at,
                                       indicator_types=["malicious-activity"])
        if based_on:
            self.relate(self.indicator[eid], "based-on", based_on, e.added_at)

    def post(self, e: CaseEntity) -> None:
        eid = e.id or 0
        refs = [self.node[lk.dst_id] for lk in self.bundle.links
                if lk.src_id == eid and self.node.get(lk.dst_id, "").split("--")[0] in _SCO_TYPES]
        refs += [self.node[lk.src_id] for lk in self.bundle.links
                 if lk.dst_id == eid and self.node.get(lk.src_id, "").split("--")[0] in _SCO_TYPES]
        url = e.attrs.get("url")
        if isinstance(url, str) and url.lower().startswith(("http://", "https://")):
            refs.append(self.add(stix2.URL(value=url)))
        if not refs:
            self.left_out["post"] = self.left_out.get("post", 0) + 1
            return
        seen = datetime.fromisoformat(e.attrs["created_at"]) if e.attrs.get("created_at") else e.added_at
        self.node[eid] = self.sdo(stix2.ObservedData, "observed-data", e, first_observed=seen, last_observed=seen,
                                  number_observed=1, object_refs=list(dict.fromkeys(refs)))

    def relate(self, src: str, kind: str, dst: str, when: datetime, *parts: object) -> None:
        if src == dst:
            return
        rid = _id("relationship", self.case_id, src, kind, dst, *parts)
        self.add(stix2.Relationship(id=rid, source_ref=src, relationship_type=kind, target_ref=dst,
                                    created=when, modified=when, created_by_ref=self.author.id))

    def links(self) -> None:
        for lk in self.bundle.links:
            src, dst = self.node.get(lk.src_id), self.node.get(lk.dst_id)
            if src and dst:
                self.relate(src, lk.kind, dst, lk.added_at)
            for ind_end, other in ((lk.src_id, lk.dst_id), (lk.dst_id, lk.src_id)):
                if ind_end in self.indicator and other in self.actor:
                    self.relate(self.indicator[ind_end], "indicates", self.actor[other], lk.added_at)

    def report(self) -> None:
        case, when = self.bundle.case, self.bundle.exported_at
        report_id = _id("report", self.case_id)
        for note in self.bundle.notes:
            self.add(stix2.Note(id=_id("note", self.case_id, note.id), content=note.text, authors=[note.by],
                                created=note.at, modified=note.at, object_refs=[report_id],
                                created_by_ref=self.author.id))
        description = f"socmint-bot case {case.id} ({case.status}), chat {self.bundle.chat}."
        if self.left_out:
            description += " Not representable in STIX 2.1 and left out (see the JSON export): " + ", ".join(
                f"{n} {k}" for k, n in sorted(self.left_out.items())) + "."
        refs = [i for i in self.objects if i != self.author.id]
        self.add(stix2.Report(id=report_id, name=case.title, description=description, published=when,
                              created=case.created_at, modified=when, created_by_ref=self.author.id,
                              report_types=["threat-report"], object_refs=refs or [self.author.id]))


_SCO_TYPES = frozenset({"domain-name", "ipv4-addr", "ipv6-addr", "url", "email-addr", "file", "user-account"})


def build(bundle: CaseBundle) -> stix2.Bundle:
    """The case as a STIX 2.1 bundle."""
    builder = _Builder(bundle)
    for e in bundle.entities:
        builder.entity(e)
    for e in bundle.posts:
        builder.post(e)
    builder.links()
    builder.report()
    return stix2.Bundle(objects=list(builder.objects.values()), id=_id("bundle", bundle.case.id,
                                                                        bundle.exported_at.isoformat()))


def render(bundle: CaseBundle) -> bytes:
    """The bundle serialised, every object marked with the case's TLP 2.0 level (the OASIS marking definition
    travels in the bundle), after checking it parses back strictly (no custom content)."""
    data = json.loads(build(bundle).serialize())  # (stix2's pretty=True sorts keys in quadratic time: indent ourselves)
    data["objects"] = tlp.mark(data["objects"], bundle.meta.tlp)
    text = json.dumps(data, indent=2, ensure_ascii=False)
    stix2.parse(text, allow_custom=False)
    return text.encode("utf-8")
