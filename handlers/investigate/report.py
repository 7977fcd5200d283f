"""The investigation summary: what was found (by kind, with facts), what was not, and why not."""

from __future__ import annotations

from collections import defaultdict

from bot.reply import Reply, bold, code, italic
from handlers.cases.entities import defanged
from handlers.investigate.playbook import Problem
from handlers.investigate.runner import Picture, StepRecord, StepStatus
from storage.models import Investigation, InvestigationStatus

LISTED_PER_KIND = 15
HEADLINES = {
    InvestigationStatus.DONE.value: "done",
    InvestigationStatus.CANCELLED.value: "cancelled — partial results",
    InvestigationStatus.FAILED.value: "stopped by an error — partial results",
    InvestigationStatus.INTERRUPTED.value: "interrupted by a restart — no results kept",
    InvestigationStatus.RUNNING.value: "running",
}
UNANSWERED = (StepStatus.FAILED, StepStatus.NEEDS_KEY, StepStatus.SKIPPED, StepStatus.BUDGET)


def summary(investigation: Investigation, picture: Picture) -> Reply:
    """The headline, the findings by kind, facts per investigated entity, and the steps that gave nothing."""
    reply = Reply.text(bold(f"Investigation #{investigation.id}"), f" · {investigation.kind} ",
                       code(investigation.subject), f" · playbook {investigation.playbook} · ",
                       HEADLINES.get(investigation.status, investigation.status))
    found = len(picture.entities) - 1 if picture.entities else 0
    reply.para(f"Found {found} entities and {len(picture.links)} links in {len(picture.steps)} steps on "
               f"{len(picture.investigated)} subject(s), using {investigation.requests_used} of "
               f"{investigation.requests_max} requests.")
    by_kind: dict[str, list[str]] = defaultdict(list)
    for ref, entity in picture.entities.items():
        if ref != picture.root:
            by_kind[entity.kind.value].append(defanged(entity))
    if by_kind:
        reply.kv([(f"{kind} ({len(values)})", _listing(values)) for kind, values in sorted(by_kind.items())],
                 title="Found")
    for ref in picture.investigated:
        facts = picture.facts.get(ref)
        if facts:
            reply.kv([(k, v[:300]) for k, v in facts], title=f"About {defanged(picture.entities[ref])}")
    _not_found(reply, picture)
    if picture.not_followed:
        reasons: dict[str, int] = defaultdict(int)
        for why in picture.not_followed.values():
            reasons[why] += 1
        reply.para("Found but not investigated further: ", "; ".join(f"{n} ({why})" for why, n in reasons.items()),
                   ".")
    return reply


def _listing(values: list[str]) -> str:
    shown = ", ".join(values[:LISTED_PER_KIND])
    return shown + (f" (+{len(values) - LISTED_PER_KIND} more)" if len(values) > LISTED_PER_KIND else "")


def _on(picture: Picture, record: StepRecord) -> str:
    entity = picture.entities.get(record.subject)
    return defanged(entity) if entity else record.subject


def _not_found(reply: Reply, picture: Picture) -> None:
    empty = [r for r in picture.steps if r.status is StepStatus.NOTHING]
    if empty:
        reply.para(bold("Nothing found"), ": ", "; ".join(
            f"{r.label} on {_on(picture, r)}" + (f" ({r.detail})" if r.detail else "") for r in empty))
    for status, title in ((StepStatus.NEEDS_KEY, "Needs a key"), (StepStatus.FAILED, "No answer"),
                          (StepStatus.SKIPPED, "Skipped"), (StepStatus.BUDGET, "Not run (request budget spent)")):
        records = [r for r in picture.steps if r.status is status]
        if not records:
            continue
        if status is StepStatus.BUDGET:
            reply.para("⚠️ ", bold(title), f": {len(records)} step(s), e.g. {records[0].label} on "
                       f"{_on(picture, records[0])}. Raise max_requests in the playbook for a fuller picture.")
            continue
        reasons: dict[str, list[str]] = defaultdict(list)
        for r in records:
            reasons[r.detail].append(f"{r.label} on {_on(picture, r)}")
        reply.para("⚠️ " if status is StepStatus.FAILED else "", bold(title), ": ", "; ".join(
            ", ".join(steps) + (f" ({why})" if why else "") for why, steps in reasons.items()))


def problems_note(reply: Reply, problems: list[Problem]) -> Reply:
    """A line per playbook file that was left out, so a team sees its mistake where it works."""
    for problem in problems:
        reply.para("⚠️ Playbook left out: ", problem.describe(), ". ", italic("Check with `socmint playbooks check`."))
    return reply
