"""/user: sweep a username across many sites, with live progress and a full per-site record."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from bot.command import Arg, CommandError, CommandSet, Context, Option, Role, UsageError
from bot.reply import Reply, Span, bold, italic, link
from handlers.lookup.sweep import report
from handlers.lookup.sweep.engine import Limits, SiteResult, Sweeper
from handlers.lookup.sweep.site import FormatError, normalise_username
from handlers.lookup.sweep.sitelist import categories, default_sites, not_asked, select
from handlers.lookup.sweep.verdict import Status

commands = CommandSet()

PROGRESS_INTERVAL_S = 1.0
BAR_CELLS = 10


def progress_text(name: str, done: int, total: int, found: int) -> str:
    """`alice ■■■□□□□□□□ 210/700 · 12 found`."""
    filled = round(BAR_CELLS * done / total) if total else BAR_CELLS
    return f"🔎 {name} {'■' * filled}{'□' * (BAR_CELLS - filled)} {done}/{total} · {found} found"


class ProgressThrottle:
    """Lets an update through at most once per interval (the first one at once)."""

    def __init__(self, interval_s: float = PROGRESS_INTERVAL_S, clock: Callable[[], float] = time.monotonic):
        self.interval_s = interval_s
        self.clock = clock
        self._last: float | None = None

    def ready(self) -> bool:
        now = self.clock()
        if self._last is not None and now - self._last < self.interval_s:
            return False
        self._last = now
        return True


@commands.command(
    "user",
    "Sweep a username across many sites (found / not found / unknown)",
    example="/user johndoe --category coding",
    args=[Arg("name", "the username to look for")],
    options=[
        Option("category", "only sites of this category (social, coding, gaming, …)"),
        Option("only", "only these sites, comma-separated names"),
    ],
    role=Role.ANALYST,
    expensive=True,
)
async def user(ctx: Context, name: str, category: str | None = None, only: str | None = None) -> Reply:
    try:
        username = normalise_username(name)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    settings = ctx.services.settings
    try:
        site_list = default_sites(settings)
    except FormatError as exc:
        raise CommandError(f"The site list cannot be used: {exc}") from None
    sites = select(site_list.sites, category=category, only=(only or "").split(","))
    if not sites:
        raise CommandError(
            "No site matches that choice. Categories: " + ", ".join(categories(site_list.sites)) + "."
        )
    sweeper = Sweeper(ctx.services.http, Limits.from_settings(settings.lookups.sweep, settings.http.max_connections))
    throttle = ProgressThrottle()
    results: list[SiteResult] = []
    found = 0
    started = time.monotonic()
    await ctx.progress(progress_text(username, 0, len(sites), 0))
    throttle.ready()
    async for result in sweeper.sweep(username, sites):
        results.append(result)
        found += result.status is Status.FOUND
        if throttle.ready():
            await ctx.progress(progress_text(username, len(results), len(sites), found))
    skipped = not_asked(site_list.sites, category=category, only=(only or "").split(","))
    return final_reply(username, results, site_list.origin, site_list.credit, time.monotonic() - started, skipped)


def final_reply(username: str, results: list[SiteResult], origin: str, credit: str | None,
                elapsed_s: float, skipped: Sequence[str] = ()) -> Reply:
    """Found profiles by category with links, the unknowns apart with their reasons, and both files."""
    tally = report.counts(results)
    reply = Reply.text(
        bold(username), f": found on {tally[Status.FOUND]} of {len(results)} sites",
        f" · not found {tally[Status.NOT_FOUND]} · unknown {tally[Status.UNKNOWN]} · {elapsed_s:.1f}s",
    )
    for cat, items in report.found_by_category(results).items():
        parts: list[str | Span] = [bold(cat), ": "]
        for i, r in enumerate(items):
            parts += ([", "] if i else []) + [link(r.site.name, r.url)]
        reply.para(*parts)
    reasons = report.unknown_reasons(results)
    if reasons:
        reply.para(
            "Unknown (neither yes nor no): ", "; ".join(f"{count} {reason}" for reason, count in reasons)
        )
    if skipped:
        reply.para("Not asked: ", "; ".join(skipped), ".")
    reply.para(italic(f"Sites: {origin}" + (f". List credit: {credit}" if credit else "")))
    ordered = report.ordered(results)
    stem = f"user-{username}"
    reply.attach(f"{stem}.csv", report.to_csv(ordered).encode(), "text/csv", "every site's outcome")
    reply.attach(f"{stem}.json", report.to_json(ordered).encode(), "application/json", "every site's outcome")
    return reply
