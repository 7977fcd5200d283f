"""The manual part of a playbook: steps the bot cannot do, with links pre-filled for the identifier.

Each investigation keeps its own checklist (done / skipped / pending, with notes) in the database; the
analyst ticks steps off with buttons (`/investigate tick <inv> <step>`), and a note on a step also goes
into the chat's current case.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from bot.command import CommandError
from bot.reply import Button, Reply, Span, bold, code, italic, link
from handlers.cases.entities import Entity
from handlers.investigate.playbook import Playbook
from handlers.investigate.subject import placeholders
from storage import cases as case_store
from storage import investigations as store
from storage.models import CaseStatus, ChecklistItem, ChecklistState, Investigation

MARKS = {ChecklistState.PENDING.value: "☐", ChecklistState.DONE.value: "✅", ChecklistState.SKIPPED.value: "⏭"}
BUTTON_LABEL_CHARS = 24


def items_for(playbook: Playbook, subject: Entity) -> list[dict[str, Any]]:
    """The playbook's manual steps with their URLs filled in for `subject`."""
    values = placeholders(subject)
    return [{"step": m.id, "label": m.label, "url": m.url.format(**values) if m.url else None, "help": m.help}
            for m in playbook.spec.manual]


def left(items: list[ChecklistItem]) -> list[ChecklistItem]:
    return [i for i in items if i.state == ChecklistState.PENDING.value]


def render(reply: Reply, investigation_id: int, items: list[ChecklistItem]) -> Reply:
    """The checklist as lines (links pre-filled, notes shown) and a ✓ / skip button pair per open step."""
    if not items:
        return reply.para(italic("This playbook has no manual steps."))
    pending = left(items)
    done = sum(1 for i in items if i.state == ChecklistState.DONE.value)
    reply.para(bold(f"Checklist #{investigation_id}"), f": {done} done, {len(items) - len(pending) - done} skipped, "
               f"{len(pending)} left")
    for item in items:
        parts: list[str | Span] = [f"{MARKS.get(item.state, '☐')} "]
        parts.append(link(item.label, item.url) if item.url else item.label)
        parts += [" ", code(item.step)]
        if item.help:
            parts += [" — ", item.help]
        reply.para(*parts)
        if item.note:
            reply.para("    📝 ", item.note)
    rows = [[Button(f"✓ {_short(i.label)}", f"/investigate tick {investigation_id} {i.step}"),
             Button("skip", f"/investigate skip {investigation_id} {i.step}")] for i in pending]
    return reply.buttons(*rows)


def _short(text: str) -> str:
    return text if len(text) <= BUTTON_LABEL_CHARS else text[: BUTTON_LABEL_CHARS - 1] + "…"


@dataclass(frozen=True)
class Marked:
    """A checklist change: the investigation, the item, and the checklist after it."""

    investigation: Investigation
    item: ChecklistItem
    items: list[ChecklistItem]
    case_id: int | None = None


def target(session: Session, platform: str, chat_id: int, investigation_id: int | None) -> Investigation:
    """The investigation a checklist command means: the one named, else the chat's latest."""
    found = (store.in_chat(session, platform, chat_id, investigation_id) if investigation_id is not None
             else store.latest(session, platform, chat_id))
    if found is None:
        raise CommandError(f"There is no investigation #{investigation_id} in this chat." if investigation_id
                           else "No investigation in this chat yet. Start one with /investigate <identifier>.")
    return found


def _item(session: Session, investigation: Investigation, step: str) -> ChecklistItem:
    found = store.item(session, investigation.id or 0, step.strip().lower())
    if found is None:
        steps = ", ".join(i.step for i in store.checklist(session, investigation.id or 0)) or "none"
        raise CommandError(f"Investigation #{investigation.id} has no manual step {step!r}. Steps: {steps}.")
    return found


def mark(session: Session, platform: str, chat_id: int, investigation_id: int | None, step: str,
         state: ChecklistState, by: str, now: Any) -> Marked:
    investigation = target(session, platform, chat_id, investigation_id)
    item = _item(session, investigation, step)
    store.mark(session, item, state, by, now)
    session.flush()
    return Marked(investigation, item, store.checklist(session, investigation.id or 0))


def note(session: Session, platform: str, chat_id: int, step: str, text: str, by: str, now: Any) -> Marked:
    """Attach a note to a step of the chat's latest investigation, and to the current case when there is one."""
    investigation = target(session, platform, chat_id, None)
    item = _item(session, investigation, step)
    store.add_note(session, item, text, by, now)
    case = case_store.current(session, platform, chat_id)
    case_id = None
    if case is not None and case.status == CaseStatus.OPEN.value:
        case_store.add_note(session, case, f"Investigation #{investigation.id} ({investigation.kind} "
                            f"{investigation.subject}), step {item.label}: {text}", by, now)
        case_id = case.id
    session.flush()
    return Marked(investigation, item, store.checklist(session, investigation.id or 0), case_id)
