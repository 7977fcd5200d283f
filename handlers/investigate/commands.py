"""/investigate: run an identifier's playbook, then work its manual checklist; one investigation per chat at a time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from bot.command import Arg, ArgKind, CommandError, CommandSet, Context, Option, Role, UsageError
from bot.reply import Reply, bold, code
from bot.services import Services
from bot.shared import Slot
from config.investigate import InvestigateSettings
from handlers.cases.findings import add_to_current_case
from handlers.investigate import checklist, graph, report
from handlers.investigate.playbook import Library, Playbook, load_library
from handlers.investigate.runner import Picture, Runner
from handlers.investigate.subject import NotAnIdentifier, identify
from storage import investigations as store
from storage.models import ChecklistState, Investigation, InvestigationStatus

log = logging.getLogger(__name__)
commands = CommandSet()


@dataclass
class Running:
    """The investigation a chat is running now."""

    task: asyncio.Task[Picture]
    investigation_id: int
    runner: Runner


RUNNING: Slot[dict[str, Running]] = Slot("investigate.running")  # chat key → its investigation
START_LOCK: Slot[asyncio.Lock] = Slot("investigate.start_lock")


def settings_for(services: Services) -> InvestigateSettings:
    """The `investigate` settings section."""
    return services.settings.investigate


def running(services: Services) -> dict[str, Running]:
    return services.shared.setdefault(RUNNING, dict)


def library_for(services: Services) -> Library:
    """The shipped playbooks and the team's, read fresh so an edit applies to the next run."""
    return load_library(settings_for(services).playbooks_dir)


def choose(library: Library, kind: str, name: str | None) -> Playbook:
    """The playbook asked for by name, or the kind's default; CommandError saying why there is none."""
    if name:
        chosen = library.playbooks.get(name.lower())
        if chosen is None:
            raise CommandError(f"There is no playbook {name!r}. Playbooks: {', '.join(sorted(library.playbooks))}.")
        if chosen.kind != kind:
            raise CommandError(f"Playbook {chosen.name} is for a {chosen.kind}, and this is a {kind}.")
        return chosen
    chosen = library.for_kind(kind)
    if chosen is None:
        why = [p.describe() for p in library.problems if p.path.stem == kind]
        raise CommandError(f"There is no usable {kind} playbook" + (f": {why[0]}" if why else "."))
    return chosen


async def _record_in_case(ctx: Context, picture: Picture, investigation_id: int) -> int | None:
    """Add every entity and link to the chat's current case; the case id, or None without a current case."""
    case = await add_to_current_case(ctx.services, ctx.chat, picture.entities.values(), picture.links.values(),
                                     by=ctx.user.key, source=f"investigation:{investigation_id}")
    return case.id if case is not None else None


@commands.command(
    "investigate", "Run the playbook for an identifier: automated lookups and pivots, then a manual checklist",
    example="/investigate jane.doe@example.com",
    args=[Arg("identifier", "a username, email, phone, domain, IP, URL, CVE or social account", ArgKind.TEXT)],
    options=[Option("playbook", "use this playbook instead of the kind's default")],
    role=Role.ANALYST, mutates=True, expensive=True, timeout=900,
)
async def investigate(ctx: Context, identifier: str, playbook: str | None = None) -> Reply:
    return await run_investigation(ctx, identifier, playbook)


@commands.command(
    "investigate start", "Same as /investigate <identifier> (for slash-command menus)",
    example="/investigate start example.com",
    args=[Arg("identifier", "a username, email, phone, domain, IP, URL, CVE or social account", ArgKind.TEXT)],
    options=[Option("playbook", "use this playbook instead of the kind's default")],
    role=Role.ANALYST, mutates=True, expensive=True, timeout=900,
)
async def investigate_start(ctx: Context, identifier: str, playbook: str | None = None) -> Reply:
    return await run_investigation(ctx, identifier, playbook)


def _check_idle(services: Services, chat_key: str) -> None:
    busy = running(services).get(chat_key)
    if busy is not None and not busy.task.done():
        raise CommandError(f"Investigation #{busy.investigation_id} is still running in this chat. "
                           "See /investigate status, or stop it with /investigate cancel.")


async def run_investigation(ctx: Context, identifier: str, playbook_name: str | None) -> Reply:
    services = ctx.services
    _check_idle(services, ctx.chat.key)
    try:
        root = identify(identifier, services.settings.lookups.default_region)
    except NotAnIdentifier as exc:
        raise UsageError(str(exc)) from None
    library = library_for(services)
    playbook = choose(library, root.kind.value, playbook_name)
    limits = settings_for(services)
    runner = Runner(services, library, playbook, root, user=ctx.user, chat=ctx.chat, progress=ctx.progress,
                    max_depth=limits.max_depth, max_requests=limits.max_requests)
    items = checklist.items_for(playbook, root)
    async with services.shared.setdefault(START_LOCK, asyncio.Lock):  # check and claim the chat at once
        _check_idle(services, ctx.chat.key)
        investigation = await services.db.run(lambda s: store.create(
            s, platform=ctx.chat.platform, chat_id=ctx.chat.id, kind=root.kind.value, subject=root.value,
            playbook=playbook.name, by=ctx.user.key, requests_max=runner.budget.limit, now=services.now(),
            checklist=items))
        inv_id = investigation.id or 0
        task = asyncio.create_task(runner.run(), name=f"investigate:{inv_id}")
        running(services)[ctx.chat.key] = Running(task, inv_id, runner)
    try:
        await asyncio.wait({task})
    finally:
        if not task.done():  # the command itself was stopped (timeout): stop the work too
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            await _finish(services, inv_id, InvestigationStatus.CANCELLED, runner, None)
        running(services).pop(ctx.chat.key, None)
    status = InvestigationStatus.DONE
    if task.cancelled():
        status = InvestigationStatus.CANCELLED
    elif task.exception() is not None:
        log.error("investigation failed", exc_info=task.exception())
        services.record_error("/investigate", f"{type(task.exception()).__name__} in #{inv_id}")
        status = InvestigationStatus.FAILED
    case_id = await _record_in_case(ctx, runner.picture, inv_id)
    await _finish(services, inv_id, status, runner, case_id)
    return await result_reply(services, inv_id, runner.picture, library, case_id)


async def _finish(services: Services, inv_id: int, status: InvestigationStatus, runner: Runner,
                  case_id: int | None) -> None:
    await services.db.run(lambda s: store.finish(
        s, inv_id, status=status, result=runner.picture.to_json(), requests_used=runner.budget.used,
        case_id=case_id, now=services.now()))


async def result_reply(services: Services, inv_id: int, picture: Picture, library: Library | None,
                       case_id: int | None) -> Reply:
    """The summary, the pivot graph, where the findings went, and the checklist with its buttons."""
    investigation, items = await services.db.run(lambda s: (s.get(Investigation, inv_id), store.checklist(s, inv_id)))
    assert investigation is not None
    reply = report.summary(investigation, picture)
    if case_id is not None:
        reply.para(f"Every finding was added to case #{case_id} as linked entities.")
    else:
        reply.para("This chat has no current case, so nothing was added to one (", code("/case new <title>"),
                   " first to collect findings).")
    if library is not None:
        report.problems_note(reply, library.problems)
    if picture.entities:
        png = await graph.draw(picture, f"{investigation.kind}: {investigation.subject}")
        reply.attach(f"investigation-{inv_id}.png", png, "image/png", graph.describe(picture))
    return checklist.render(reply, inv_id, items)


@commands.command("investigate status", "What the chat's investigation found so far, and what is left to do",
                  example="/investigate status", role=Role.VIEWER)
async def investigate_status(ctx: Context) -> Reply:
    live = running(ctx.services).get(ctx.chat.key)
    if live is not None and not live.task.done():
        runner = live.runner
        reply = Reply.text(bold(f"Investigation #{live.investigation_id}"), f" on {runner.root.value} is running: "
                           f"{len(runner.picture.steps)} step(s) done, {len(runner.picture.entities) - 1} found, "
                           f"{runner.budget.used}/{runner.budget.limit} requests.")
        items = await ctx.services.db.run(lambda s: store.checklist(s, live.investigation_id))
        return checklist.render(reply, live.investigation_id, items)
    investigation = await ctx.services.db.run(lambda s: store.latest(s, ctx.chat.platform, ctx.chat.id))
    if investigation is None:
        return Reply.text("No investigation in this chat yet. Start one with ", code("/investigate <identifier>"), ".")
    if investigation.status == InvestigationStatus.RUNNING.value:  # left running by a previous process
        investigation.status = InvestigationStatus.INTERRUPTED.value
    picture = Picture.from_json(investigation.result) if investigation.result else Picture("")
    reply = report.summary(investigation, picture)
    items = await ctx.services.db.run(lambda s: store.checklist(s, investigation.id or 0))
    return checklist.render(reply, investigation.id or 0, items)


@commands.command("investigate cancel", "Stop the investigation running in this chat (its findings so far are kept)",
                  example="/investigate cancel", role=Role.ANALYST, mutates=True)
async def investigate_cancel(ctx: Context) -> Reply:
    live = running(ctx.services).get(ctx.chat.key)
    if live is None or live.task.done():
        raise CommandError("No investigation is running in this chat.")
    live.task.cancel()
    return Reply.text(f"Stopping investigation #{live.investigation_id}; its partial results follow.")


def _target(first: str, second: str | None) -> tuple[int | None, str]:
    """(investigation id, step) from `<step>` or `<inv> <step>`."""
    if second is None:
        return None, first
    if not first.lstrip("#").isdigit():
        raise UsageError(f"{first!r} is not an investigation number")
    return int(first.lstrip("#")), second


async def _mark(ctx: Context, first: str, second: str | None, state: ChecklistState) -> Reply:
    inv_id, step = _target(first, second)
    marked = await ctx.services.db.run(lambda s: checklist.mark(
        s, ctx.chat.platform, ctx.chat.id, inv_id, step, state, ctx.user.key, ctx.services.now()))
    verb = "done" if state is ChecklistState.DONE else "skipped"
    reply = Reply.text(f"{checklist.MARKS[state.value]} {marked.item.label}: {verb}.")
    return checklist.render(reply, marked.investigation.id or 0, marked.items)


_STEP_ARGS = [Arg("step", "the step id, or the investigation number then the step id"),
              Arg("step_id", "the step id when an investigation number comes first", required=False)]


@commands.command("investigate tick", "Mark a manual step of the investigation done", example="/investigate tick web",
                  args=_STEP_ARGS, role=Role.ANALYST, mutates=True)
async def investigate_tick(ctx: Context, step: str, step_id: str | None = None) -> Reply:
    return await _mark(ctx, step, step_id, ChecklistState.DONE)


@commands.command("investigate skip", "Mark a manual step of the investigation skipped",
                  example="/investigate skip pastes", args=_STEP_ARGS, role=Role.ANALYST, mutates=True)
async def investigate_skip(ctx: Context, step: str, step_id: str | None = None) -> Reply:
    return await _mark(ctx, step, step_id, ChecklistState.SKIPPED)


@commands.command("investigate note", "Attach a note to a manual step (it also goes into the current case)",
                  example="/investigate note forums account on example-forum since 2019, posts about lockers",
                  args=[Arg("step", "the step id"), Arg("text", "the note", ArgKind.TEXT)],
                  role=Role.ANALYST, mutates=True)
async def investigate_note(ctx: Context, step: str, text: str) -> Reply:
    marked = await ctx.services.db.run(lambda s: checklist.note(
        s, ctx.chat.platform, ctx.chat.id, step, text, ctx.user.key, ctx.services.now()))
    where = (f"and added to case #{marked.case_id}" if marked.case_id is not None
             else "(no current case in this chat, so only on the checklist)")
    return Reply.text(f"📝 Noted on “{marked.item.label}” of investigation #{marked.investigation.id} {where}.")


@commands.command("investigate playbooks", "List the playbooks in effect, and any playbook file left out and why",
                  example="/investigate playbooks", role=Role.VIEWER)
async def investigate_playbooks(ctx: Context) -> Reply:
    library = library_for(ctx.services)
    reply = Reply.text(bold("Playbooks"), f" ({len(library.playbooks)})")
    reply.table(["name", "kind", "from", "steps", "manual", "depth", "requests"],
                [(p.name, p.kind, p.origin, len(p.spec.steps), len(p.spec.manual), p.spec.max_depth,
                  p.spec.max_requests) for p in sorted(library.playbooks.values(), key=lambda p: p.name)])
    return report.problems_note(reply, library.problems)


@commands.on_start
async def mark_interrupted(services: Services) -> None:
    """Runs a previous process left `running` can never finish: say they were interrupted."""
    count = await services.db.run(store.interrupt_stale)
    if count:
        log.info("investigations interrupted by a restart", extra={"count": count})
