"""Watchlists and digests from chat: /watch add|list|show|matches|pause|resume|remove|mute|signals|test, /digest.

Watches belong to the chat they were created in. Analysts and above create and change them;
viewers can list and look. The monitoring engine lives in `services.shared` (slot `MONITOR`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from bot.command import Arg, ArgKind, CommandError, CommandSet, Context, Option
from bot.reply import Button, Reply, bold, code
from bot.services import Services
from handlers.analysis.window import WINDOW_HELP, Window, parse_window
from handlers.completers import source_names, watch_ids
from handlers.monitor import backfill
from handlers.monitor.digest import DigestInputError, build_digest, parse_time, parse_zone
from handlers.monitor.engine import Monitor
from handlers.monitor.hits import PAGE_SIZE, check_page, hit_paragraph, pages
from handlers.monitor.query import Query, QueryError, parse_query
from handlers.monitor.slot import MONITOR
from handlers.monitor.stored_scan import StoredScan, single
from storage import watches
from storage.models import OutboxItem, OutboxState, Role, StoredPost, Watch, WatchMatch, WatchState

commands = CommandSet()

MAX_WATCHES_PER_CHAT = 200
TEST_DAYS = 7
TEST_SAMPLES = 5
SHOW_DAYS = 7
MAX_BUTTON_QUERY = 900  # a button's command line is stored in at most 1,000 characters
ADD_EXAMPLE = '/watch add lockbit OR "lock bit" --sources hackernews,mastodon --every 10m'


def engine(services: Services) -> Monitor:
    """The running engine (made on first use when the start hook has not run, e.g. in a bare test)."""
    return services.shared.setdefault(MONITOR, lambda: Monitor(services))


@commands.on_start
async def start_monitor(services: Services) -> None:
    """Compile the watches; in the background, keep them in step with other processes, and as the leader
    deliver alerts and run the polling, digest and signal jobs."""
    monitor = engine(services)
    await monitor.start(background=False)
    if services.background:
        monitor.sync.start()
        await services.leadership.add_duty("monitor", monitor.lead, monitor.follow)
        await backfill.resume_unfinished(services)
    if monitor.status not in services.status_providers:
        services.status_providers.append(monitor.status)


@commands.on_stop
async def stop_monitor(services: Services) -> None:
    await backfill.stop_all(services)
    monitor = services.shared.get(MONITOR)
    if monitor is not None:
        await monitor.stop()


# parsing helpers -----------------------------------------------------------------------------------
def parse_or_reply(text: str, command: str) -> Query | Reply:
    """The parsed query, or the reply explaining where it is malformed."""
    try:
        return parse_query(text)
    except QueryError as exc:
        return query_error_reply(text, exc, command)


def query_error_reply(text: str, exc: QueryError, command: str) -> Reply:
    """Where the query is wrong (a caret under the position) and a query that works."""
    position = max(0, min(exc.position, len(text)))
    reply = Reply.text("⚠️ That query does not parse: ", exc.message, f" (at character {position + 1}).",
                       ephemeral=True)
    reply.code_block(f"{text}\n{' ' * position}^")
    reply.para("Example: ", code(f"{command} {exc.example}"))
    return reply


def _check_term_cap(ctx: Context, session: Session, adding: int) -> None:
    """CommandError when the caller's watches (all chats) would hold more terms than governance allows."""
    cap = ctx.services.settings.governance.max_watch_terms_per_user
    if not cap:
        return
    held = sum(_terms(w.query) for w in watches.created_by(session, ctx.user.key))
    if held + adding > cap:
        raise CommandError(f"Your watches hold {held} query terms and this one adds {adding}; one person may hold "
                           f"{cap} (governance.max_watch_terms_per_user). Remove or narrow some watches first.")


def _terms(query: str) -> int:
    try:
        return len(parse_query(query).terms)
    except QueryError:  # stored before a grammar change: it matches nothing, so it holds nothing
        return 0


def source_list(text: str | None) -> list[str]:
    if not text:
        return []
    return sorted({part.strip().lower() for part in text.replace(" ", ",").split(",") if part.strip()})


async def _own_watch(ctx: Context, watch_id: int) -> Watch:
    found = await ctx.services.db.run(lambda s: watches.in_chat(s, ctx.chat.platform, ctx.chat.id, watch_id))
    if found is None:
        raise CommandError(f"There is no watch {watch_id} in this chat. See /watch list.")
    return found


def _state_label(watch: Watch, now: datetime) -> str:
    if watch.state != WatchState.ACTIVE:
        return "paused"
    if watch.muted_until is not None and watch.muted_until > now:
        return f"muted until {watch.muted_until:%Y-%m-%d %H:%M} UTC"
    return "active"


def _signals_label(watch: Watch) -> str:
    return f"spikes {'on' if watch.spike_alerts else 'off'}, negative surge {'on' if watch.surge_alerts else 'off'}"


def _every(watch: Watch) -> str:
    return _duration(timedelta(seconds=watch.interval_s)) if watch.interval_s else "source default"


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


# commands --------------------------------------------------------------------------------------------
@commands.command(
    "watch add", "Watch public sources for a query and alert this chat",
    example=ADD_EXAMPLE,
    args=[Arg("query", "words, \"phrases\", OR, -term, #tag, @account, source:, lang:, domain:, /regex/",
              ArgKind.TEXT)],
    options=[Option("sources", "comma-separated source names (default: all)", complete=source_names),
             Option("every", "how often to poll, e.g. 5m (default: each source's interval)", ArgKind.DURATION),
             Option("surge", "also alert on negative-sentiment surges (see /watch signals)", flag=True)],
    role=Role.ANALYST, mutates=True,
)
async def watch_add(
    ctx: Context, query: str, sources: str | None, every: timedelta | None, surge: bool = False
) -> Reply:
    parsed = parse_or_reply(query, "/watch add")
    if isinstance(parsed, Reply):
        return parsed
    monitor = engine(ctx.services)
    names = source_list(sources)
    known = set(monitor.polls.sources)
    unknown = [n for n in names if known and n not in known]
    min_poll = ctx.services.settings.monitor.min_poll_s
    interval = None if every is None else int(max(every.total_seconds(), min_poll))
    now = ctx.services.now()

    def create(session: Session) -> tuple[Watch | None, bool]:
        found = watches.for_chat(session, ctx.chat.platform, ctx.chat.id)
        same = next((w for w in found if _same_watch(w, parsed, names, interval, surge)), None)
        if same is not None:
            return same, False
        if len(found) >= MAX_WATCHES_PER_CHAT:
            return None, False
        _check_term_cap(ctx, session, len(parsed.terms))
        return watches.create(session, platform=ctx.chat.platform, chat_id=ctx.chat.id, query=query.strip(),
                              sources=names, interval_s=interval, created_by=ctx.user.key, now=now,
                              surge_alerts=surge), True

    watch, created = await ctx.services.db.run(create)
    if watch is None:
        raise CommandError(f"This chat has {MAX_WATCHES_PER_CHAT} watches already; remove some first.")
    if not created:
        return _already_watching(watch, now)
    await monitor.watch_changed(watch)
    hunted = await backfill.run(ctx.services, watch, backfill.INLINE_BUDGET_S)
    if not hunted.done:
        backfill.continue_in_background(ctx.services, watch)
    reply = Reply.text("✅ ", bold(f"Watch {watch.id}"), " added: ", code(str(parsed)))
    reply.kv([
        ("sources", ", ".join(names) if names else "all"),
        ("every", _every(watch)),
        ("signal alerts", _signals_label(watch)),
    ])
    if every is not None and every.total_seconds() < min_poll:
        reply.para(f"Sources are polled at most every {_duration(timedelta(seconds=min_poll))}.")
    if unknown:
        reply.para("Note: ", ", ".join(unknown), " is not a configured source (known: ", ", ".join(sorted(known)),
                   "); the watch only matches posts stored under that name, e.g. imports.")
    reply.para(_hunted(hunted, watch.id or 0))
    reply.para("Alerts for new matches arrive in this chat.")
    return reply.buttons([Button("Show", f"/watch show {watch.id}"), Button("Pause", f"/watch pause {watch.id}")],
                         [Button("Matches", f"/watch matches {watch.id}")])


def _hunted(hunted: backfill.BackfillState, watch_id: int) -> str:
    """What matching a new watch over the stored posts found, in a sentence."""
    found = f"{hunted.matched} stored post{'s' if hunted.matched != 1 else ''}"
    if hunted.done:
        return f"It matches {found} already stored ({hunted.scanned} read): /watch matches {watch_id}."
    back = f"{hunted.reached:%Y-%m-%d}" if hunted.reached else "?"
    return (f"It matches {found} so far, reading stored posts back to {back}; the rest goes on in the background "
            f"(/watch show {watch_id} says how far).")


def _same_watch(watch: Watch, query: Query, sources: list[str], interval_s: int | None, surge: bool) -> bool:
    """Whether `watch` is the watch being added: the same normalised query and the same options."""
    if (watch.sources, watch.interval_s, watch.surge_alerts) != (sources, interval_s, surge):
        return False
    try:
        return parse_query(watch.query).root == query.root
    except QueryError:
        return False


def _already_watching(watch: Watch, now: datetime) -> Reply:
    """The answer to adding a watch this chat has: nothing new, and the way to the existing one."""
    if watch.state != WatchState.ACTIVE:
        return Reply.text("⏸ ", bold(f"Watch {watch.id}"), " has this query and options and is paused; nothing new "
                          "was added. Resume it with ", code(f"/watch resume {watch.id}"), ".").buttons(
            [Button("Resume", f"/watch resume {watch.id}"), Button("Show", f"/watch show {watch.id}")])
    return Reply.text("👀 Already watching this as ", bold(f"#{watch.id}"), f" ({_state_label(watch, now)}); "
                      "nothing new was added.").buttons([Button("Show", f"/watch show {watch.id}")])


@commands.command("watch list", "List this chat's watches", example="/watch list")
async def watch_list(ctx: Context) -> Reply:
    now = ctx.services.now()

    def read(session: Session) -> tuple[list[Watch], dict[int, int]]:
        found = watches.for_chat(session, ctx.chat.platform, ctx.chat.id)
        counts = watches.match_counts(session, [w.id or 0 for w in found], now - timedelta(days=1), now)
        return found, counts

    found, counts = await ctx.services.db.run(read)
    if not found:
        return Reply.text("No watches in this chat yet. Add one: ", code('/watch add lockbit OR "lock bit"'))
    reply = Reply.text(bold(f"{len(found)} watches"), " in this chat")
    reply.table(
        ["id", "query", "sources", "every", "state", "24h"],
        [(w.id, _short(w.query, 48), ",".join(w.sources) or "all", _every(w), _state_label(w, now),
          counts.get(w.id or 0, 0)) for w in found],
    )
    return reply


@commands.command("watch show", "Show one watch: its query, state, sources, numbers and its newest matches",
                  example="/watch show 3 --since 400d",
                  args=[Arg("id", "the watch id", ArgKind.INT, complete=watch_ids)],
                  options=[Option("since", f"matches of posts from when: {WINDOW_HELP} (default: {SHOW_DAYS}d)"),
                           Option("until", f"up to when: {WINDOW_HELP}")])
async def watch_show(ctx: Context, id: int, since: str | None = None, until: str | None = None) -> Reply:
    watch = await _own_watch(ctx, id)
    now = ctx.services.now()
    window = parse_window(since, until, now, default=timedelta(days=SHOW_DAYS))
    monitor = engine(ctx.services)

    def read(session: Session) -> tuple[int, int, datetime | None, int, int, int, list[tuple[StoredPost, list[str]]]]:
        day = watches.match_counts(session, [id], now - timedelta(days=1), now).get(id, 0)
        week = watches.match_counts(session, [id], now - timedelta(days=7), now).get(id, 0)
        last = session.execute(select(func.max(WatchMatch.created_at)).where(WatchMatch.watch_id == id)).scalar()
        queued = session.execute(select(func.count()).select_from(OutboxItem).where(
            OutboxItem.watch_id == id, OutboxItem.state == OutboxState.PENDING.value)).scalar_one()
        total = _match_count(session, id, Window())
        in_window, newest = _matches_page(session, id, window, 1, TEST_SAMPLES)
        return day, week, last, int(queued), total, in_window, newest

    day, week, last, queued, total, in_window, newest = await ctx.services.db.run(read)
    hunted = await backfill.state(ctx.services, id)
    try:
        query = parse_query(watch.query)
        terms = ", ".join(str(t) for t in query.terms)
        normal = str(query)
    except QueryError as exc:
        terms, normal = "—", f"no longer parses: {exc}"
    polled = [name for name, plan in monitor.polls.plans.items() if any(p.watch_id == id for p in plan)]
    items: list[tuple[str, Any]] = [
        ("query", code(watch.query)),
        ("read as", normal),
        ("terms", terms),
        ("sources", ", ".join(watch.sources) or "all"),
        ("polled on", ", ".join(sorted(polled)) or ("—" if monitor.running else "not polling in this process")),
        ("every", _every(watch)),
        ("state", _state_label(watch, now)),
        ("matches", f"{day} in 24 h, {week} in 7 days, {total} stored in all"),
        (f"posts {window.label}", str(in_window)),
        ("matched over", hunted),
        ("last match", f"{last:%Y-%m-%d %H:%M} UTC" if last else "never"),
        ("alerts queued", str(queued)),
        ("signal alerts", _signals_label(watch)),
        ("created", f"{watch.created_at:%Y-%m-%d %H:%M} UTC by {watch.created_by}"),
    ]
    reply = Reply()
    reply.kv(items, title=f"Watch {watch.id}")
    if newest:
        reply.para(bold(f"Newest matches ({window.searched()})"))
        for post, found in newest:
            hit_paragraph(reply, post, found)
    elif total:
        reply.para(f"No matches among {window.searched()}. " + window.widen(f"/watch show {id}"))
    toggle = ("Resume", f"/watch resume {id}") if watch.state != WatchState.ACTIVE else ("Pause", f"/watch pause {id}")
    row = [Button(*toggle), Button("Mute 1h", f"/watch mute {id} 1h"), Button("Matches", f"/watch matches {id}")]
    if len(watch.query) <= MAX_BUTTON_QUERY:
        row.append(Button("Test", f"/watch test {watch.query}"))
    return reply.buttons(row)


def _matched(watch_id: int, window: Window) -> Any:
    """The watch's stored matches whose posts fall in the window."""
    stmt = select(func.count()).select_from(WatchMatch).join(StoredPost, col(StoredPost.id) == WatchMatch.post_id)
    return window.where(stmt.where(WatchMatch.watch_id == watch_id))


def _match_count(session: Session, watch_id: int, window: Window) -> int:
    return int(session.execute(_matched(watch_id, window)).scalar_one())


def _matches_page(session: Session, watch_id: int, window: Window, page: int,
                  size: int = PAGE_SIZE) -> tuple[int, list[tuple[StoredPost, list[str]]]]:
    """How many of the watch's matches fall in the window, and one page of them, newest post first."""
    total = _match_count(session, watch_id, window)
    stmt = window.where(select(StoredPost, WatchMatch.terms).join(WatchMatch, WatchMatch.post_id == StoredPost.id)
                        .where(WatchMatch.watch_id == watch_id))
    stmt = stmt.order_by(col(StoredPost.created_at).desc(), col(StoredPost.id).desc())
    rows = session.execute(stmt.offset((page - 1) * size).limit(size)).all()
    return total, [(post, list(terms or [])) for post, terms in rows]


@commands.command(
    "watch matches", "List a watch's stored matches, newest post first",
    example="/watch matches 3 --since 400d --page 2",
    args=[Arg("id", "the watch id", ArgKind.INT, complete=watch_ids)],
    options=[Option("since", f"posts from when: {WINDOW_HELP} (default: all)"),
             Option("until", f"up to when: {WINDOW_HELP}"),
             Option("page", f"which page of {PAGE_SIZE}", ArgKind.INT)],
)
async def watch_matches(ctx: Context, id: int, since: str | None = None, until: str | None = None,
                        page: int | None = None) -> Reply:
    number = check_page(page)
    watch = await _own_watch(ctx, id)
    window = parse_window(since, until, ctx.services.now())
    total, rows = await ctx.services.db.run(lambda s: _matches_page(s, id, window, number))
    reply = Reply.text("👀 ", bold(f"Watch {id}"), " ", code(watch.query), ": ", bold(str(total)),
                       f" match{'es' if total != 1 else ''} among {window.searched()}"
                       + (f", page {number} of {pages(total)}." if total else "."))
    for index, (post, terms) in enumerate(rows, (number - 1) * PAGE_SIZE + 1):
        hit_paragraph(reply, post, terms, index)
    if not total:
        hunted = await backfill.state(ctx.services, id)
        reply.para(f"Matched over {hunted}. " + window.widen(f"/watch matches {id}"))
    elif not rows:
        reply.para(f"Page {number} is past the last one ({pages(total)}).")
    if total > number * PAGE_SIZE:
        line = " ".join(filter(None, [f"/watch matches {id}", f"--since {since}" if since else "",
                                      f"--until {until}" if until else "", f"--page {number + 1}"]))
        reply.para("More: ", code(line))
        reply.buttons([Button("Next page", line)])
    return reply


async def _set_state(ctx: Context, watch_id: int, state: WatchState, unmute: bool) -> Watch:
    await _own_watch(ctx, watch_id)

    def change(session: Session) -> Watch:
        watch = session.get(Watch, watch_id)
        assert watch is not None
        watch.state = state.value
        if unmute:
            watch.muted_until = None
        session.add(watch)
        return watch

    watch = await ctx.services.db.run(change)
    await engine(ctx.services).watch_changed(watch)
    return watch


@commands.command("watch pause", "Stop matching a watch until resumed", example="/watch pause 3",
                  args=[Arg("id", "the watch id", ArgKind.INT, complete=watch_ids)], role=Role.ANALYST, mutates=True)
async def watch_pause(ctx: Context, id: int) -> Reply:
    await _set_state(ctx, id, WatchState.PAUSED, unmute=False)
    return Reply.text("⏸ Watch ", bold(str(id)), " paused. ").buttons([Button("Resume", f"/watch resume {id}")])


@commands.command("watch resume", "Match a paused or muted watch again", example="/watch resume 3",
                  args=[Arg("id", "the watch id", ArgKind.INT, complete=watch_ids)], role=Role.ANALYST, mutates=True)
async def watch_resume(ctx: Context, id: int) -> Reply:
    await _set_state(ctx, id, WatchState.ACTIVE, unmute=True)
    return Reply.text("▶️ Watch ", bold(str(id)), " is active and alerting.")


@commands.command("watch remove", "Delete a watch with its matches", example="/watch remove 3",
                  args=[Arg("id", "the watch id", ArgKind.INT, complete=watch_ids)], role=Role.ANALYST, mutates=True)
async def watch_remove(ctx: Context, id: int) -> Reply:
    watch = await _own_watch(ctx, id)

    def drop(session: Session) -> None:
        row = session.get(Watch, id)
        if row is not None:
            watches.remove(session, row)
        backfill.forget(session, id)

    await ctx.services.db.run(drop)
    await engine(ctx.services).watch_removed(id)
    return Reply.text("🗑 Watch ", bold(str(id)), " removed: ", code(watch.query))


@commands.command("watch mute", "Keep matching but send no alerts for a while", example="/watch mute 3 2h",
                  args=[Arg("id", "the watch id", ArgKind.INT, complete=watch_ids),
                        Arg("duration", "how long, e.g. 30m, 2h, 1d", ArgKind.DURATION)],
                  role=Role.ANALYST, mutates=True)
async def watch_mute(ctx: Context, id: int, duration: timedelta) -> Reply:
    await _own_watch(ctx, id)
    until = ctx.services.now() + duration

    def mute(session: Session) -> Watch:
        watch = session.get(Watch, id)
        assert watch is not None
        watch.muted_until = until
        session.add(watch)
        return watch

    watch = await ctx.services.db.run(mute)
    await engine(ctx.services).watch_changed(watch)
    return Reply.text("🔕 Watch ", bold(str(id)), f" muted until {until:%Y-%m-%d %H:%M} UTC. Matches are still "
                      "recorded for digests.").buttons([Button("Unmute", f"/watch resume {id}")])


@commands.command(
    "watch signals", "Alert on term spikes (on by default) and negative-sentiment surges (opt-in)",
    example="/watch signals 3 on surge",
    args=[Arg("id", "the watch id", ArgKind.INT, complete=watch_ids),
          Arg("state", "turn the alerts on or off", ArgKind.CHOICE, choices=("on", "off")),
          Arg("kind", "spikes (a term far above its baseline) or surge (hostility ≥ 2σ up); default both",
              ArgKind.CHOICE, choices=("spikes", "surge"), required=False)],
    role=Role.ANALYST, mutates=True,
)
async def watch_signals(ctx: Context, id: int, state: str, kind: str | None) -> Reply:
    await _own_watch(ctx, id)
    wanted = state == "on"

    def change(session: Session) -> Watch:
        watch = session.get(Watch, id)
        assert watch is not None
        if kind in (None, "spikes"):
            watch.spike_alerts = wanted
        if kind in (None, "surge"):
            watch.surge_alerts = wanted
        session.add(watch)
        return watch

    watch = await ctx.services.db.run(change)
    every = _duration(timedelta(seconds=ctx.services.settings.monitor.signals_every_s))
    window = _duration(timedelta(seconds=ctx.services.settings.monitor.signals_window_s))
    reply = Reply.text("📊 Watch ", bold(str(id)), " signal alerts: ", _signals_label(watch), ".")
    if watch.spike_alerts or watch.surge_alerts:
        reply.para(f"Checked every {every} over the last {window}; each signal is alerted once per {window}. "
                   "Signals also appear in /digest.")
    return reply.buttons([Button("Trends", f"/trends {id}"), Button("Show", f"/watch show {id}")])


@commands.command(
    "watch test", f"Show what a query would have matched in stored posts (default: the last {TEST_DAYS} days)",
    example='/watch test lockbit OR "lock bit" --since 400d',
    args=[Arg("query", "the query to try", ArgKind.TEXT)],
    options=[Option("since", f"from when: {WINDOW_HELP} (default: {TEST_DAYS}d)"),
             Option("until", f"up to when: {WINDOW_HELP}")],
    role=Role.ANALYST, expensive=True,
)
async def watch_test(ctx: Context, query: str, since: str | None = None, until: str | None = None) -> Reply:
    parsed = parse_or_reply(query, "/watch test")
    if isinstance(parsed, Reply):
        return parsed
    window = parse_window(since, until, ctx.services.now(), default=timedelta(days=TEST_DAYS))
    await ctx.progress(f"Matching {window.searched()}…")
    found = await ctx.services.db.run(lambda s: run_test(s, parsed, window))
    return test_reply(query.strip(), parsed, window, found)


class TrialResult:
    """What a trial query found over stored posts."""

    def __init__(self, scan: StoredScan) -> None:
        self.scan = scan
        self.matched = 0
        self.by_source: dict[str, int] = {}
        self.samples: list[tuple[Any, list[str]]] = []


def run_test(session: Session, query: Query, window: Window) -> TrialResult:
    """Match `query` over stored posts of the window, newest first (runs in a worker thread)."""
    result = TrialResult(StoredScan(single(query), window))
    for found in result.scan.batches(session):
        for hit in found:
            result.matched += 1
            result.by_source[hit.row.source] = result.by_source.get(hit.row.source, 0) + 1
            if len(result.samples) < TEST_SAMPLES:
                result.samples.append((hit.row, hit.terms))
    return result


def test_reply(text: str, query: Query, window: Window, found: TrialResult) -> Reply:
    scan = found.scan
    reply = Reply.text("🧪 ", code(str(query)), " would have matched ", bold(str(found.matched)),
                       f" of {scan.scanned} {window.searched()}.")
    if not scan.complete:
        back = f"{scan.reached:%Y-%m-%d}" if scan.reached else "?"
        reply.para(f"The window is too large to scan within the time limit: stopped after {scan.seconds:.0f} s "
                   f"at posts of {back}. Narrow it, e.g. --since {back}, or --until {back} for older posts.")
    if found.by_source:
        reply.kv([(s, str(n)) for s, n in sorted(found.by_source.items(), key=lambda sn: -sn[1])],
                 title="By source")
    for post, terms in found.samples:
        hit_paragraph(reply, post, terms)
    if found.matched == 0:
        reply.para("No posts are stored yet: they arrive as watches poll their sources, or with /import."
                   if scan.scanned == 0 and window.is_all else window.widen(f"/watch test {text}"))
    return reply.buttons([Button("Add this watch", f"/watch add {text}")] if len(text) <= MAX_BUTTON_QUERY else [])


# digests ---------------------------------------------------------------------------------------------
@commands.command(
    "digest at", "Send this chat a daily digest at a local time", example="/digest at 08:00 Europe/Berlin",
    args=[Arg("time", "HH:MM, 24-hour"), Arg("tz", "time zone, Area/City (default: the bot's)", required=False)],
    role=Role.ANALYST, mutates=True,
)
async def digest_at(ctx: Context, time: str, tz: str | None) -> Reply:
    zone_name = tz or ctx.services.settings.timezone
    try:
        at = parse_time(time)
        parse_zone(zone_name)
    except DigestInputError as exc:
        return Reply.error(str(exc), "/digest at 08:00 Europe/Berlin")
    digests = engine(ctx.services).digests
    await digests.set(ctx.chat.platform, ctx.chat.id, at, zone_name, ctx.user.key)
    reply = Reply.text("📰 Daily digest for this chat at ", bold(f"{at:%H:%M}"), f" {zone_name}.")
    next_run = digests.next_run(ctx.chat.platform, ctx.chat.id)
    if next_run is not None:
        reply.para(f"Next one: {next_run:%Y-%m-%d %H:%M %Z}.")
    return reply.buttons([Button("Preview now", "/digest now"), Button("Turn off", "/digest off")])


@commands.command("digest off", "Stop this chat's daily digest", example="/digest off",
                  role=Role.ANALYST, mutates=True)
async def digest_off(ctx: Context) -> Reply:
    if await engine(ctx.services).digests.off(ctx.chat.platform, ctx.chat.id):
        return Reply.text("Daily digest turned off for this chat.")
    return Reply.text("This chat has no daily digest. Set one with ", code("/digest at 08:00 Europe/Berlin"))


@commands.command("digest now", "The digest of the last 24 hours, now", example="/digest now", expensive=True)
async def digest_now(ctx: Context) -> Reply:
    schedule = await ctx.services.db.run(lambda s: watches.digest_for_chat(s, ctx.chat.platform, ctx.chat.id))
    tz = schedule.tz if schedule else ctx.services.settings.timezone
    until = ctx.services.now()
    await ctx.progress("Building the digest…")
    return await build_digest(ctx.services, ctx.chat.platform, ctx.chat.id, until - timedelta(days=1), until, tz,
                              "Digest, last 24 h")


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
