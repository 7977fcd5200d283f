"""Running a playbook: a breadth-first chain of automated steps and pivots, bounded by depth and a request budget.

The identifier is investigated with its playbook at depth 0. Each step's findings are merged into one
deduplicated picture (entities by kind and normalised key, links by ends and kind); findings of a kind the
step `follow`s are investigated in turn with their own kind's playbook, one level deeper, until the root
playbook's `max_depth`. Every step is audited like a hand-typed lookup and shown as progress in place.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.command import ChatRef, CommandError, UserRef
from bot.services import Services
from handlers.cases.entities import Entity, EntityKind
from handlers.cases.links import Link, LinkKind
from handlers.investigate.actions import ACTIONS, Skip, StepResult
from handlers.investigate.budget import Budget, BudgetedEnv, BudgetSpent
from handlers.investigate.playbook import Library, Playbook, StepSpec
from handlers.lookup.provider import NeedsKey, describe_failure
from storage import audit

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 1.0
Progress = Callable[[str], Awaitable[None]]


class StepStatus(StrEnum):
    """How an automated step ended."""

    FOUND = "found"
    NOTHING = "nothing"
    FAILED = "failed"
    NEEDS_KEY = "needs key"
    SKIPPED = "skipped"
    BUDGET = "budget"


@dataclass
class StepRecord:
    """One automated step on one entity: what it was, how it ended, and what it added."""

    step: str
    action: str
    label: str
    subject: str  # the entity's ref
    depth: int
    status: StepStatus
    detail: str = ""
    found: int = 0
    requests: int = 0


@dataclass
class Picture:
    """Everything an investigation found so far: entities, links, facts and the steps that ran."""

    root: str
    entities: dict[str, Entity] = field(default_factory=dict)
    depth: dict[str, int] = field(default_factory=dict)
    links: dict[tuple[str, str, str], Link] = field(default_factory=dict)
    facts: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    steps: list[StepRecord] = field(default_factory=list)
    not_followed: dict[str, str] = field(default_factory=dict)  # ref → why it was not investigated
    investigated: list[str] = field(default_factory=list)

    def add_entity(self, entity: Entity, depth: int) -> Entity:
        """Merge `entity` in (attrs combined, the shallowest depth kept); the merged entity."""
        known = self.entities.get(entity.ref)
        if known is None:
            self.entities[entity.ref] = entity
            self.depth[entity.ref] = depth
            return entity
        merged = Entity(known.kind, known.value, known.key, {**entity.attrs, **known.attrs})
        self.entities[entity.ref] = merged
        self.depth[entity.ref] = min(self.depth[entity.ref], depth)
        return merged

    def add_link(self, link: Link) -> bool:
        """Add a link between known entities; False when the same link is already there."""
        key = (link.src.ref, link.kind.value, link.dst.ref)
        if key in self.links:
            return False
        self.links[key] = link
        return True

    def to_json(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "entities": [{"kind": e.kind.value, "value": e.value, "key": e.key, "attrs": e.attrs,
                          "depth": self.depth[r]} for r, e in self.entities.items()],
            "links": [{"src": lk.src.ref, "kind": lk.kind.value, "dst": lk.dst.ref, "source": lk.source}
                      for lk in self.links.values()],
            "facts": {ref: [list(f) for f in facts] for ref, facts in self.facts.items()},
            "steps": [{**s.__dict__, "status": s.status.value} for s in self.steps],
            "not_followed": self.not_followed,
            "investigated": self.investigated,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Picture:
        picture = cls(data.get("root", ""))
        for e in data.get("entities", []):
            entity = Entity(EntityKind(e["kind"]), e["value"], e["key"], e.get("attrs") or {})
            picture.entities[entity.ref] = entity
            picture.depth[entity.ref] = e.get("depth", 0)
        for lk in data.get("links", []):
            src, dst = picture.entities.get(lk["src"]), picture.entities.get(lk["dst"])
            if src and dst:
                picture.add_link(Link(src, LinkKind(lk["kind"]), dst, lk.get("source", "")))
        picture.facts = {ref: [(k, v) for k, v in facts] for ref, facts in data.get("facts", {}).items()}
        picture.steps = [StepRecord(**{**s, "status": StepStatus(s["status"])}) for s in data.get("steps", [])]
        picture.not_followed = dict(data.get("not_followed", {}))
        picture.investigated = list(data.get("investigated", []))
        return picture


class Runner:
    """Runs one playbook for one identifier on behalf of a user in a chat."""

    def __init__(self, services: Services, library: Library, playbook: Playbook, root: Entity, *,
                 user: UserRef, chat: ChatRef, progress: Progress, max_depth: int, max_requests: int) -> None:
        self.services = services
        self.library = library
        self.playbook = playbook
        self.root = root
        self.user = user
        self.chat = chat
        self.progress = progress
        self.max_depth = min(playbook.spec.max_depth, max_depth)
        self.budget = Budget(min(playbook.spec.max_requests, max_requests))
        self.env = BudgetedEnv(services, self.budget)
        self.picture = Picture(root.ref)
        self._shown_at: float | None = None

    async def run(self) -> Picture:
        """Investigate the root and everything followed from it; the picture (also kept on self)."""
        self.picture.add_entity(self.root, 0)
        queue: deque[tuple[str, Playbook]] = deque([(self.root.ref, self.playbook)])
        queued = {self.root.ref}
        while queue:
            ref, playbook = queue.popleft()
            self.picture.investigated.append(ref)
            for step in playbook.spec.steps:
                new = await self._step(step, ref)
                for entity in self._to_follow(step, new, queued):
                    follow = self.library.for_kind(entity.kind.value)
                    if follow is None:
                        self.picture.not_followed[entity.ref] = "no playbook for its kind"
                        continue
                    queued.add(entity.ref)
                    self.picture.not_followed.pop(entity.ref, None)
                    queue.append((entity.ref, follow))
        return self.picture

    def _to_follow(self, step: StepSpec, found: list[Entity], queued: set[str]) -> list[Entity]:
        """The entities a step reached that its `follow` asks to investigate, within the depth and follow limits."""
        wanted = [e for e in found if e.kind.value in step.follow and e.ref not in queued]
        too_deep = [e for e in wanted if self.picture.depth[e.ref] > self.max_depth]
        for e in too_deep:
            self.picture.not_followed.setdefault(e.ref, f"depth limit ({self.max_depth})")
        wanted = [e for e in wanted if e not in too_deep]
        for e in wanted[step.follow_limit:]:
            self.picture.not_followed.setdefault(e.ref, f"follow limit of step {step.id} ({step.follow_limit})")
        return wanted[: step.follow_limit]

    async def _step(self, step: StepSpec, ref: str) -> list[Entity]:
        """Run one step on one entity: record it, audit it, merge what it found; the entities it reached."""
        subject = self.picture.entities[ref]
        depth = self.picture.depth[ref]
        action = ACTIONS[step.action]
        label = step.label or action.label
        await self._show(f"{label} · {subject.value}")
        before = self.budget.used
        record = StepRecord(step.id, step.action, label, ref, depth, StepStatus.NOTHING)
        reached: list[Entity] = []
        try:
            result = await action.fn(self.env, subject, step.options)
        except NeedsKey as exc:
            record.status, record.detail = StepStatus.NEEDS_KEY, str(exc)
        except Skip as exc:
            record.status, record.detail = StepStatus.SKIPPED, str(exc)
        except BudgetSpent as exc:
            record.status, record.detail = StepStatus.BUDGET, f"not run: request budget spent ({exc})"
        except CommandError as exc:
            record.status, record.detail = StepStatus.FAILED, str(exc)
        except Exception as exc:  # a provider failure costs this step, never the investigation
            record.status, record.detail = StepStatus.FAILED, describe_failure(exc)
        else:
            reached, record.found = self._merge(result, subject, depth)
            record.detail = "; ".join(result.remarks)
            if result.links or result.facts:
                record.status = StepStatus.FOUND
        record.requests = self.budget.used - before
        self.picture.steps.append(record)
        await self._audit(record, subject)
        return reached

    def _merge(self, result: StepResult, subject: Entity, depth: int) -> tuple[list[Entity], int]:
        """Add the step's facts and links to the picture; the other entities it reached, and how many are new."""
        if result.facts:
            self.picture.facts.setdefault(subject.ref, []).extend(result.facts)
        reached: dict[str, Entity] = {}
        new = 0
        for link in result.links:
            ends = []
            for end in (link.src, link.dst):
                new += end.ref not in self.picture.entities
                merged = self.picture.add_entity(end, depth if end.ref == subject.ref else depth + 1)
                if end.ref != subject.ref:
                    reached[end.ref] = merged
                ends.append(merged)
            self.picture.add_link(Link(ends[0], link.kind, ends[1], link.source))
        return list(reached.values()), new

    async def _audit(self, record: StepRecord, subject: Entity) -> None:
        outcome = {StepStatus.FOUND: "ok", StepStatus.NOTHING: "ok"}.get(record.status, record.status.value)
        detail = f"step {record.step}: {record.found} new, {record.requests} request(s)" + (
            f"; {record.detail}" if record.detail else "")
        await self.services.db.run(lambda s: audit.record(
            s, user=self.user.key, chat=self.chat.key, command=f"investigate:{record.action}",
            args=subject.value, outcome=outcome, detail=detail))

    async def _show(self, doing: str) -> None:
        now = time.monotonic()
        if self._shown_at is not None and now - self._shown_at < PROGRESS_INTERVAL_S:
            return
        self._shown_at = now
        await self.progress(f"🔎 {self.root.value}: {doing} · {len(self.picture.steps)} step(s) done · "
                            f"{len(self.picture.entities) - 1} found · {self.budget.used}/{self.budget.limit} "
                            "requests")
