"""/search: stored posts (collected or imported) matching a query in the watch language, newest first, paged."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlmodel import Session

from bot.command import Arg, ArgKind, CommandSet, Context, Option, Role
from bot.reply import Button, Reply, bold, code
from handlers.analysis.window import WINDOW_HELP, Window, parse_window
from handlers.completers import source_names
from handlers.monitor.hits import PAGE_SIZE, check_page, hit_paragraph, pages
from handlers.monitor.query import Query
from handlers.monitor.stored_scan import Found, StoredScan, single
from handlers.watch import MAX_BUTTON_QUERY, parse_or_reply, source_list

commands = CommandSet()

SEARCH_EXAMPLE = '/search lockbit OR "lock bit" --since 30d --source rss,telegram'


@dataclass
class SearchPage:
    """What a search found: the hits of the asked page, the count so far and how far the scan got."""

    scan: StoredScan
    page: int
    matched: int = 0
    hits: list[Found] = field(default_factory=list)
    by_source: Counter[str] = field(default_factory=Counter)

    @property
    def page_full(self) -> bool:
        return len(self.hits) >= PAGE_SIZE


def run_search(session: Session, query: Query, window: Window, sources: list[str], page: int) -> SearchPage:
    """Scan the window newest first, keeping the hits of `page` and counting all (runs in a worker thread)."""
    scan = StoredScan(single(query), window, sources)
    result = SearchPage(scan, page)
    skip = (page - 1) * PAGE_SIZE
    for found in scan.batches(session):
        for hit in found:
            if skip <= result.matched < skip + PAGE_SIZE:
                result.hits.append(hit)
            result.matched += 1
            result.by_source[hit.row.source] += 1
    return result


def command_line(query: str, since: str | None, until: str | None, sources: list[str], page: int | None) -> str:
    """The /search line for the same search (another page)."""
    parts = ["/search", query]
    for name, value in (("since", since), ("until", until), ("source", ",".join(sources)),
                        ("page", str(page) if page and page > 1 else None)):
        if value:
            parts.append(f"--{name} {value}")
    return " ".join(parts)


@commands.command(
    "search", "Search stored posts (collected and imported) with the watch query language, newest first",
    example=SEARCH_EXAMPLE,
    args=[Arg("query", "words, \"phrases\", OR, -term, #tag, @account, source:, lang:, domain:, /regex/",
              ArgKind.TEXT)],
    options=[Option("since", f"from when: {WINDOW_HELP} (default: all)"),
             Option("until", f"up to when: {WINDOW_HELP}"),
             Option("source", "only these sources, comma-separated", complete=source_names),
             Option("page", f"which page of {PAGE_SIZE} hits", ArgKind.INT)],
    role=Role.ANALYST, expensive=True,
)
async def search_cmd(ctx: Context, query: str, since: str | None, until: str | None, source: str | None,
                     page: int | None) -> Reply:
    parsed = parse_or_reply(query, "/search")
    if isinstance(parsed, Reply):
        return parsed
    number = check_page(page)
    window = parse_window(since, until, ctx.services.now())
    sources = source_list(source)
    await ctx.progress(f"Searching {window.searched()}…")
    found = await ctx.services.db.run(lambda s: run_search(s, parsed, window, sources, number))
    return search_reply(query.strip(), parsed, window, sources, since, until, found)


def search_reply(text: str, query: Query, window: Window, sources: list[str], since: str | None, until: str | None,
                 found: SearchPage) -> Reply:
    scan = found.scan
    where = window.searched() + (f" of {', '.join(sources)}" if sources else "")
    count = f"{found.matched}" if scan.complete else f"at least {found.matched}"
    reply = Reply.text("🔎 ", code(str(query)), ": ", bold(count), f" matching {where} "
                       f"({scan.scanned} read, newest first).")
    if not scan.complete:
        reply.para(_incomplete(scan, found, text, sources))
    if found.by_source:
        reply.kv([(name, str(n)) for name, n in found.by_source.most_common()], title="By source")
    first = (found.page - 1) * PAGE_SIZE + 1
    for number, hit in enumerate(found.hits, first):
        hit_paragraph(reply, hit.row, hit.terms, number)
    if found.matched == 0 and scan.complete:
        reply.para("No stored post matches. " + window.widen(command_line(text, None, until, sources, None)))
    elif not found.hits:
        reply.para(f"Page {found.page} is past the last hit (page {pages(found.matched)}).")
    buttons: list[Button] = []
    line = command_line(text, since, until, sources, found.page + 1)
    more = found.matched > found.page * PAGE_SIZE
    if more and len(line) <= MAX_BUTTON_QUERY:
        buttons.append(Button("Next page", line))
        reply.para("More: ", code(line))
    if len(text) <= MAX_BUTTON_QUERY:
        buttons.append(Button("Watch this", f"/watch add {text}"))
    return reply.buttons(buttons) if buttons else reply


def _incomplete(scan: StoredScan, found: SearchPage, text: str, sources: list[str]) -> str:
    """What a scan stopped by its time budget covered, and a narrower window to ask for."""
    reached = scan.reached
    day = f"{reached:%Y-%m-%d}" if reached else "?"
    covered = f"Stopped after {scan.seconds:.0f} s, having read back to {day}"
    if found.page_full:
        return f"{covered}: older posts were not counted. Narrow the window for an exact count, e.g. --since {day}."
    return (f"The window is too large to scan within the time limit ({covered}; page {found.page} is not "
            f"full yet). Narrow it, e.g. {command_line(text, day, None, sources, None)} for the part read, or "
            f"--until {day} for older posts.")
