"""Governance in chat: /forget an account, /purge by the retention settings, and the daily purge job."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

from apscheduler.triggers.cron import CronTrigger
from sqlmodel import Session

from bot.command import Arg, CommandSet, Context, UsageError
from bot.reply import Button, Reply, bold, code
from bot.services import Services, StatusSection
from bot.shared import Slot
from storage import audit
from storage.db import Lane
from storage.erasure import ErasureReport, Subject, forget
from storage.models import Role
from storage.retention import purge

log = logging.getLogger(__name__)
commands = CommandSet()

PURGE_JOB = "governance:purge"
LAST_PURGE: Slot[tuple[datetime, dict[str, int]]] = Slot("governance.last_purge")  # (when, rows per table)
SYSTEM = "system:0"
_SOURCE_PREFIX = re.compile(r"^([a-z][a-z0-9_]{0,31}):(.+)$")
MAX_HANDLE = 256


def parse_subject(text: str) -> Subject:
    """`handle`, `@handle` or `source:handle` as a Subject; UsageError when empty or too long.

    Any characters are allowed (collected handles can hold spaces or control characters): quote them,
    `/forget "john doe"`.
    """
    text = text.strip()
    source = None
    if m := _SOURCE_PREFIX.match(text):
        source, text = m.group(1), m.group(2)
    handle = text.strip().lstrip("@")
    if not handle.strip():
        raise UsageError('the subject must be a handle like alice, @alice, bluesky:alice.bsky.social or "john doe"')
    if len(handle) > MAX_HANDLE:
        raise UsageError(f"the handle is longer than {MAX_HANDLE} characters")
    return Subject(handle, source)


def quoted(text: str) -> str | None:
    """`text` as one word of a command line (quoted when it needs to be); None when no quoting can hold it."""
    if text and not any(c.isspace() or not c.isprintable() or c in "\"'“”" for c in text):
        return text
    for quote in ('"', "'"):
        if quote not in text and not any(c in "“”" for c in text):
            return f"{quote}{text}{quote}"
    return None


async def run_purge(services: Services, by: str = SYSTEM) -> dict[str, int]:
    """Delete everything past its retention now, audit it, and remember when (shown in /status)."""
    retention = services.settings.governance.retention
    now = services.now()

    def work(session: Session) -> dict[str, int]:
        counts = purge(session, retention, now)
        detail = ", ".join(f"{k} {v}" for k, v in counts.items())
        audit.record(session, user=by, chat=SYSTEM, command="purge", args="", outcome="ok", detail=detail)
        return counts

    counts = await services.db.run(work, lane=Lane.BULK)
    services.shared.put(LAST_PURGE, (now, counts))
    log.info("purge", extra={"deleted": counts})
    return counts


async def _scheduled_purge(services: Services) -> None:
    try:
        await run_purge(services)
    except Exception as exc:
        log.exception("the daily purge failed")
        services.record_error("purge", f"{type(exc).__name__}: {exc}")


async def governance_status(services: Services) -> StatusSection:
    """The /status section: retention, rate limits and the last purge."""
    g = services.settings.governance
    r = g.retention
    days = lambda n: "forever" if n == 0 else f"{n} d"  # noqa: E731
    last = services.shared.get(LAST_PURGE)
    last_text = "not yet in this run" if last is None else (
        f"{last[0]:%Y-%m-%d %H:%M} UTC, {sum(last[1].values())} rows deleted")
    limits = g.rate_limits
    return ("Governance", [
        ("retention", f"posts {days(r.posts_days)}, lookups {days(r.lookups_days)}, audit {days(r.audit_days)}, "
                      f"outbox {days(r.outbox_days)}, buttons {days(r.buttons_days)}"),
        ("daily purge", _purge_where(services)),
        ("last purge", last_text),
        ("rate limits", f"{limits.per_user or '∞'} per user, {limits.per_chat or '∞'} per chat, "
                        f"per {limits.window_s:g} s" + (" (admins exempt)" if limits.exempt_admins else "")),
    ])


def _purge_where(services: Services) -> str:
    if not services.background:
        return "off (console mode)"
    when = f"{services.settings.governance.retention.purge_at} UTC"
    return when if services.leadership.leading else f"{when}, by the leader process"


@commands.on_start
async def start(services: Services) -> None:
    """Show governance in /status and, in the background, schedule the daily purge (in the leader only)."""
    services.add_status(governance_status)
    if services.background:
        await services.leadership.add_duty("daily purge", lambda: _schedule_purge(services),
                                           lambda: _unschedule_purge(services))


async def _schedule_purge(services: Services) -> None:
    hour, minute = (int(p) for p in services.settings.governance.retention.purge_at.split(":"))
    services.scheduler.add_job(
        _scheduled_purge, CronTrigger(hour=hour, minute=minute, timezone=UTC), args=[services], id=PURGE_JOB,
        name="daily purge", replace_existing=True, coalesce=True, max_instances=1, misfire_grace_time=6 * 3600,
    )


async def _unschedule_purge(services: Services) -> None:
    if services.scheduler.get_job(PURGE_JOB) is not None:
        services.scheduler.remove_job(PURGE_JOB)


@commands.on_stop
async def stop(services: Services) -> None:
    """Remove the purge job."""
    await _unschedule_purge(services)


def _report_table(reply: Reply, report: ErasureReport) -> Reply:
    rows = [(kind, str(n)) for kind, n in report.counts.items()]
    return reply.table(["what", "rows"], rows)


@commands.command(
    "forget", "Remove an account's posts, alerts, lookups and case entities; redact it in notes and the audit log",
    example="/forget bluesky:alice.bsky.social",
    args=[Arg("subject", 'handle, @handle or source:handle; quote one with spaces: "john doe"'),
          Arg("confirm", "the word confirm", required=False)],
    role=Role.ADMIN, mutates=True, audit_args=False,
)
async def forget_cmd(ctx: Context, subject: str, confirm: str | None) -> Reply:
    who = parse_subject(subject)
    shown = f"{who.source}:{who.handle}" if who.source else who.handle
    word = quoted(shown)
    now = ctx.services.now()
    if confirm is None:
        def preview(session: Session) -> ErasureReport:
            found = forget(session, who, by=ctx.user.key, now=now)
            session.rollback()  # a dry run: the same code, nothing kept
            return found

        found = await ctx.services.db.run(preview)
        if found.total == 0:
            return Reply.text("Nothing stored about ", code(shown), " (handles compare without case or @).")
        reply = Reply.text(bold("This would remove, for "), code(shown), bold(":"))
        _report_table(reply, found)
        if word is None:  # both kinds of quote in the handle: no command line can hold it
            reply.para("This handle holds both kinds of quote, so it cannot be confirmed from chat; "
                       "run the erasure from the console or contact the operator.")
            return reply
        reply.para("Nothing is removed until you confirm: ", code(f"/forget {word} confirm"),
                   ". The audit log keeps that /forget ran, not whom it was about.")
        return reply.buttons([Button("Remove all of it", f"/forget {word} confirm")])
    if confirm.lower() != "confirm":
        raise UsageError("the second word must be confirm (or leave it out to see what would go)")
    report = await ctx.services.db.run(lambda s: forget(s, who, by=ctx.user.key, now=now))
    if report.total == 0:
        return Reply.text("Nothing stored about ", code(shown), "; nothing removed.")
    reply = Reply.text(bold("Removed, for "), code(shown), bold(f": {report.total} rows."))
    _report_table(reply, report)
    if report.cases:
        reply.para("Cases changed (each logged): " + ", ".join(f"#{c}" for c in report.cases) + ".")
    reply.para("Posts collected again later are stored again: pause or remove watches that follow this account.")
    return reply


@commands.command(
    "purge", "Delete data older than the retention settings now (it also runs daily)",
    example="/purge", role=Role.ADMIN, mutates=True,
)
async def purge_cmd(ctx: Context) -> Reply:
    counts = await run_purge(ctx.services, by=ctx.user.key)
    reply = Reply.text(bold("Purge done: "), f"{sum(counts.values())} rows older than their retention deleted.")
    reply.table(["what", "rows"], [(k, str(v)) for k, v in counts.items()])
    return reply
