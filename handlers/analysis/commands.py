"""The analysis commands: /profile, /network, /sentiment, /iocs, /geo, /trends and /coord.

Each takes a watch, an account or `all` (every stored post, imported or collected) and a window
(`--since`, `--until`, any age), so an imported archive is analysable the moment it is stored.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, cast, func, or_, select
from sqlmodel import Session

from bot.command import Arg, ArgKind, CommandError, CommandSet, Context, Option, Role, UsageError, parse_duration
from bot.reply import Button, Reply, bold, code, italic, link
from handlers.analysis import coordination, geo, ioc_export, ioc_index, network, sentiment, trends
from handlers.analysis import profile as profile_analysis
from handlers.analysis.charts import Picture, render
from handlers.analysis.selection import Selection, account_selection, resolve
from handlers.analysis.window import WINDOW_OPTIONS, Window, parse_window
from handlers.completers import source_names, watch_ids
from handlers.monitor.post import Post
from storage.models import StoredPost

log = logging.getLogger(__name__)
commands = CommandSet()
TARGET_HELP = "a watch id, an account (source:handle or handle), or all (every stored post)"

PROFILE_POSTS = 5000
NETWORK_POSTS = 20000
SENTIMENT_POSTS = 20000
IOC_POSTS = 20000
GEO_POSTS = 5000
COORD_POSTS = 20000
EXIF_IMAGES = 20
FEED_PAGES = 3
MAX_TREND_WINDOW = timedelta(days=30)


def _load(session: Session, sel: Selection, limit: int) -> list[Post]:
    stmt = sel.where(select(StoredPost)).order_by(StoredPost.created_at.desc()).limit(limit)
    return [Post.from_row(r) for r in session.execute(stmt).scalars()]


async def _select(ctx: Context, target: str, since: str | None, until: str | None,
                  allow: tuple[str, ...] = ("all", "watch", "account")) -> Selection:
    """The posts a command's target and window pick."""
    window = parse_window(since, until, ctx.services.now())
    sel = await ctx.services.db.run(lambda s: resolve(s, target, ctx.chat, allow=allow))
    return sel.within(window)


def _short(text: str, n: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _attach(reply: Reply, pic: Picture) -> Reply:
    return reply.attach(pic.filename, pic.png, "image/png", pic.summary)


def _sources(ctx: Context) -> dict[str, Any]:
    try:
        from handlers.monitor.sources.registry import available_sources
    except ImportError:  # pragma: no cover - the sources package ships with the bot
        return {}
    return available_sources(ctx.services)


def _who(p: Post) -> str:
    return f"@{p.author.handle}" if p.author.handle else "(unknown)"


# /profile ---------------------------------------------------------------------------------------


async def _fetch_account(source: Any, handle: str, need: int) -> tuple[Any, list[Post], list[str]]:
    """The source's profile and recent posts for `handle`, with notes on what could not be fetched."""
    notes: list[str] = []
    prof = None
    try:
        prof = await source.profile(handle)
    except Exception as exc:  # a best-effort enrichment: any source failure becomes a note
        notes.append(f"profile not fetched: {getattr(exc, 'reason', None) or exc.__class__.__name__}")
    posts: list[Post] = []
    cursor = None
    for _ in range(FEED_PAGES if need > 0 else 0):
        try:
            page = await source.account_feed(handle, cursor)
        except Exception as exc:  # same: say what failed, answer with what we have
            notes.append(f"posts not fetched: {getattr(exc, 'reason', None) or exc.__class__.__name__}")
            break
        posts.extend(page.posts)
        cursor = page.cursor
        if not page.posts or not cursor or len(posts) >= need:
            break
    return prof, posts, notes


@commands.command(
    "profile",
    "Profile an account: who, when (heatmap, time zone), topics, sentiment, IOCs",
    example="/profile hackernews pg",
    args=[Arg("source", "where the account lives (hackernews, mastodon, …)", complete=source_names),
          Arg("account", "the handle")],
    options=WINDOW_OPTIONS,
    role=Role.ANALYST,
    expensive=True,
    timeout=120,
)
async def profile_cmd(ctx: Context, source: str, account: str, since: str | None = None,
                      until: str | None = None) -> Reply:
    source = source.lower()
    handle = account.lstrip("@")
    window = parse_window(since, until, ctx.services.now())
    sel = account_selection(handle, source).within(window)
    posts = await ctx.services.db.run(lambda s: _load(s, sel, PROFILE_POSTS))
    notes: list[str] = []
    prof = None
    sources = _sources(ctx)
    if source in sources:
        await ctx.progress(f"Fetching {source}:{handle}…")
        prof, fetched, notes = await _fetch_account(sources[source], handle, max(0, 200 - len(posts)))
        known = {p.key for p in posts}
        posts.extend(p for p in fetched if p.key not in known and window.contains(p.created_at))
    elif not posts:
        names = ", ".join(sorted(sources)) or "none"
        raise CommandError(
            f"No stored posts for {source}:{handle} among {window.searched()}, and {source} is not a source I can "
            f"fetch from (sources: {names}). {window.widen(f'/profile {source} {handle}')}"
        )
    if not posts and prof is None:
        raise CommandError(f"Nothing found for {source}:{handle}" + (f" ({'; '.join(notes)})" if notes else "."))
    report = await asyncio.to_thread(profile_analysis.build, f"{source}:{handle}", posts, prof)
    reply = Reply.text(bold(f"Profile of {source}:{handle}"), "" if window.is_all else f" ({window.searched()})")
    who: list[tuple[str, Any]] = []
    if report.names:
        who.append(("names", ", ".join(report.names)))
    if report.bio:
        who.append(("bio", _short(report.bio, 300)))
    for url in report.links[:5]:
        who.append(("link", link(url, url)))
    if report.created_at:
        who.append(("account since", f"{report.created_at:%Y-%m-%d}"))
    for key, value in report.counts.items():
        who.append((key, str(value)))
    if report.other_handles:
        who.append(("other handles mentioned", ", ".join(f"@{h}" for h in report.other_handles[:8])))
    if who:
        reply.kv(who, title="Who")
    tz = report.timezone
    reply.kv(
        [
            ("activity", report.activity.describe()),
            ("time zone", f"{tz.label} — {tz.describe()}" if tz.offset_h is not None else tz.describe()),
        ],
        title="When",
    )
    reply.kv(
        [
            ("hashtags", profile_analysis.counted(report.hashtags)),
            ("mentions", profile_analysis.counted([(f"@{m}", n) for m, n in report.mentions])),
            ("domains", profile_analysis.counted(report.domains)),
            ("languages", profile_analysis.counted(report.languages)),
            ("mean sentiment", ("—" if report.mean_sentiment is None else f"{report.mean_sentiment:+.2f} (VADER)")
             + (f"; {report.sentiment_unscored}: a language VADER does not read" if report.sentiment_unscored
                else "")),
            ("CVEs", profile_analysis.counted([(i.value, n) for i, n in report.cves])),
            ("IOCs", profile_analysis.counted([(f"{i.kind.value} {i.value}", n) for i, n in report.other_iocs[:8]])),
        ],
        title="Content",
    )
    if notes:
        reply.para(italic("; ".join(notes)))
    if report.posts:
        _attach(reply, await render(report.heatmap))
    return reply.buttons([Button("Network", f"/network {source}:{handle}"), Button("IOCs", f"/iocs {source}:{handle}")])


# /network ---------------------------------------------------------------------------------------


def _network_posts(session: Session, sel: Selection) -> tuple[list[Post], dict[tuple[str, str], str]]:
    conds = list(sel.conditions)
    if sel.kind == "account" and sel.handle:
        mention = f'%"{sel.handle.lower()}"%'
        conds = [or_(sel.conditions[0], func.lower(cast(StoredPost.mentions, String)).like(mention))]
        if sel.source:
            conds.append(StoredPost.source == sel.source)
    stmt = sel.window.where(select(StoredPost).where(*conds))
    stmt = stmt.order_by(StoredPost.created_at.desc()).limit(NETWORK_POSTS)
    posts = [Post.from_row(r) for r in session.execute(stmt).scalars()]
    have = {p.key for p in posts}
    wanted = {p.reply_to for p in posts if p.reply_to and (p.source, p.reply_to) not in have}
    parents: dict[tuple[str, str], str] = {}
    for chunk in [sorted(wanted)[i : i + 500] for i in range(0, len(wanted), 500)]:
        rows = session.execute(
            select(StoredPost.source, StoredPost.source_id, StoredPost.author_handle).where(
                StoredPost.source_id.in_(chunk)
            )
        )
        parents.update({(s, i): h for s, i, h in rows if h})
    return posts, parents


@commands.command(
    "network",
    "Who interacts with whom: central accounts, communities, bridges; graph + GEXF/GraphML",
    example="/network 3",
    args=[Arg("target", TARGET_HELP, complete=watch_ids)],
    options=WINDOW_OPTIONS,
    role=Role.ANALYST,
    expensive=True,
    timeout=180,
)
async def network_cmd(ctx: Context, target: str, since: str | None = None, until: str | None = None) -> Reply:
    sel = await _select(ctx, target, since, until)
    await ctx.progress(f"Building the network of {sel.label}…")
    posts, parents = await ctx.services.db.run(lambda s: _network_posts(s, sel))
    if not posts:
        raise sel.nothing_found(f"/network {target}")
    g = await asyncio.to_thread(network.build_graph, posts, parents)
    if g.number_of_edges() == 0:
        return Reply.text(f"{sel.label}: {len(posts)} posts but no replies, mentions or quotes between accounts.")
    a = await asyncio.to_thread(network.analyse, g)
    seed = sel.handle.lower() if sel.handle else None
    reply = Reply.text(bold(f"Network of {sel.label}: "), network.describe(a))
    rows = []
    for n, pr in a.top("pagerank", 10):
        rows.append((f"@{n}", f"{a.degree[n]:g}", f"{a.betweenness[n]:.3f}", f"{pr:.3f}", a.community_of[n] + 1))
    reply.table(["account", "degree", "betweenness", "pagerank", "community"], rows, title="Most central")
    reply.table(["#", "size", "central members"], network.community_members(a), title="Communities")
    if a.bridges:
        reply.table(["account", "communities touched"], [(f"@{n}", k) for n, k in a.bridges[:5]], title="Bridges")
    if seed:
        near = network.neighbours(a, seed)
        reply.para(bold("Neighbours of "), f"@{seed}: ", ", ".join(f"@{n} ({w:g})" for n, w in near) or "none")
    _attach(reply, await render(network.picture, a, sel.label, seed))
    gexf, graphml = await asyncio.gather(asyncio.to_thread(network.gexf, a), asyncio.to_thread(network.graphml, a))
    reply.attach("network.gexf", gexf, "application/xml", "For Gephi")
    reply.attach("network.graphml", graphml, "application/xml", "For Gephi, Maltego or yEd")
    return reply


# /sentiment -------------------------------------------------------------------------------------


def _text_rows(session: Session, sel: Selection, limit: int) -> list[tuple[Any, ...]]:
    stmt = (
        sel.where(
            select(StoredPost.created_at, StoredPost.text, StoredPost.title, StoredPost.author_handle, StoredPost.url)
        )
        .order_by(StoredPost.created_at.desc())
        .limit(limit)
    )
    return [tuple(r) for r in session.execute(stmt)]


def _sentiment(rows: list[tuple[Any, ...]], label: str) -> tuple[Any, ...]:
    texts = [f"{title}\n{text}" if title else text for _, text, title, _, _ in rows]
    scores = sentiment.scored(texts)
    if not scores.scored.any():
        return scores, None, None, None
    b = sentiment.bucketise([r[0] for r in rows], scores.values)
    surge = sentiment.negative_surge(b)
    return scores, b, surge, sentiment.chart(b, label, surge)


@commands.command(
    "sentiment",
    "How posts feel over time (VADER, English posts), the most negative and positive, negative surges",
    example="/sentiment 3",
    args=[Arg("target", TARGET_HELP, complete=watch_ids)],
    options=WINDOW_OPTIONS,
    role=Role.ANALYST,
    expensive=True,
)
async def sentiment_cmd(ctx: Context, target: str, since: str | None = None, until: str | None = None) -> Reply:
    sel = await _select(ctx, target, since, until)
    rows = await ctx.services.db.run(lambda s: _text_rows(s, sel, SENTIMENT_POSTS))
    if not rows:
        raise sel.nothing_found(f"/sentiment {target}")
    scores, _buckets, surge, pic = await asyncio.to_thread(_sentiment, rows, sel.label)
    unscored = scores.describe_unscored()
    not_read = f"{unscored}: VADER reads English only, and scoring other languages would call them neutral."
    if pic is None:
        return Reply.text(bold(f"Sentiment of {sel.label}: "), f"none of the {len(rows)} posts could be scored; ",
                          not_read)
    values = scores.values
    kept = scores.kept
    neg = int((values[kept] <= sentiment.NEGATIVE).sum())
    pos = int((values[kept] >= sentiment.POSITIVE).sum())
    reply = Reply.text(
        bold(f"Sentiment of {sel.label}: "),
        f"{len(kept)} posts scored, mean {values[kept].mean():+.2f}; {neg} negative, {pos} positive, "
        f"{len(kept) - neg - pos} neutral.",
    )
    if unscored:
        reply.para(not_read[0].upper() + not_read[1:])
    if surge:
        reply.para(bold("⚠️ Negative surge: "), surge.describe(), ".")
    else:
        reply.para("No negative surge (latest bucket within 2σ of its baseline, or too little data).")
    order = kept[values[kept].argsort()]
    for title, idx in (("Most negative", order[:3]), ("Most positive", order[::-1][:3])):
        items = [(f"{values[i]:+.2f}", [f"{_who_row(rows[i])} ", _short(rows[i][1])]) for i in idx]
        reply.kv(items, title=title)
    return _attach(reply, await render(lambda: pic))


def _who_row(row: tuple[Any, ...]) -> str:
    return f"@{row[3]}" if row[3] else "(unknown)"


# /iocs ------------------------------------------------------------------------------------------


@commands.command(
    "iocs",
    "Indicators in posts (URLs, domains, IPs, hashes, CVEs, e-mails, wallets), with CSV/STIX export",
    example="/iocs 3 --format stix",
    args=[Arg("target", "a watch id, an account (source:handle or handle), all, or case:ID", complete=watch_ids)],
    options=[Option("format", "attach an export", kind=ArgKind.CHOICE, choices=("csv", "stix")), *WINDOW_OPTIONS],
    role=Role.ANALYST,
    expensive=True,
)
async def iocs_cmd(ctx: Context, target: str, format: str | None = None, since: str | None = None,
                   until: str | None = None) -> Reply:
    sel = await _select(ctx, target, since, until, allow=("all", "watch", "account", "case"))
    rows = await ctx.services.db.run(lambda s: ioc_index.selection_rows(s, sel, IOC_POSTS))
    if not rows:
        raise sel.nothing_found(f"/iocs {target}")
    sightings = await asyncio.to_thread(ioc_index.summarise, rows)
    if not sightings:
        return Reply.text(f"No indicators in the {len(rows)} posts of {sel.label}.")
    kinds: dict[str, int] = {}
    for s in sightings:
        kinds[s.ioc.kind.value] = kinds.get(s.ioc.kind.value, 0) + 1
    reply = Reply.text(
        bold(f"IOCs in {sel.label}: "),
        f"{len(sightings)} distinct in {len(rows)} posts (",
        ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())),
        ").",
    )
    reply.table(
        ["kind", "value", "posts", "first seen", "last seen"],
        [
            (
                s.ioc.kind.value,
                _short(s.ioc.value, 80),
                s.posts,
                f"{s.first:%Y-%m-%d %H:%M}",
                f"{s.last:%Y-%m-%d %H:%M}",
            )
            for s in sightings[:25]
        ],
    )
    if len(sightings) > 25 and not format:
        reply.para(f"… and {len(sightings) - 25} more: add ", code("--format csv"), " for all of them.")
    if format == "csv":
        reply.attach(
            "iocs.csv",
            await asyncio.to_thread(ioc_export.to_csv, sightings),
            "text/csv",
            f"{len(sightings)} indicators",
        )
    elif format == "stix":
        reply.attach(
            "iocs.stix.json",
            await asyncio.to_thread(ioc_export.to_stix, sightings, sel.label),
            "application/json",
            f"STIX 2.1 bundle, {len(sightings)} indicators",
        )
    return reply


# /geo -------------------------------------------------------------------------------------------


@commands.command(
    "geo",
    "Posts with a location: source geotags and GPS in attached images (EXIF)",
    example="/geo 3 --exif",
    args=[Arg("target", TARGET_HELP, complete=watch_ids)],
    options=[Option("exif", f"also download up to {EXIF_IMAGES} attached images to read GPS", flag=True),
             *WINDOW_OPTIONS],
    role=Role.ANALYST,
    expensive=True,
    timeout=120,
)
async def geo_cmd(ctx: Context, target: str, exif: bool = False, since: str | None = None,
                  until: str | None = None) -> Reply:
    sel = await _select(ctx, target, since, until)
    posts = await ctx.services.db.run(lambda s: _load(s, sel, GEO_POSTS))
    if not posts:
        raise sel.nothing_found(f"/geo {target}")
    located: list[tuple[Post, geo.Location]] = []
    unlocated_images: list[tuple[Post, str]] = []
    for p in posts:
        loc = geo.geotag(p) or geo.media_gps(p)
        if loc:
            located.append((p, loc))
        else:
            unlocated_images.extend((p, u) for u in geo.image_urls(p))
    checked = 0
    if exif and unlocated_images:
        await ctx.progress(f"Reading EXIF of up to {EXIF_IMAGES} images…")
        todo = unlocated_images[:EXIF_IMAGES]
        guard = geo.image_guard(ctx.services)
        found = await asyncio.gather(*(geo.fetch_image_gps(ctx.services.http, url, guard) for _, url in todo))
        checked = len(todo)
        done: set[tuple[str, str]] = set()
        for (p, _), loc in zip(todo, found, strict=True):
            if loc and p.key not in done:
                done.add(p.key)
                located.append((p, loc))
    reply = Reply.text(
        bold(f"Locations in {sel.label}: "),
        f"{len(located)} of {len(posts)} posts have coordinates (geotag or EXIF GPS); "
        "no location is inferred from text.",
    )
    if exif:
        reply.para(f"EXIF checked on {checked} image(s).")
    elif unlocated_images:
        reply.para(f"{len(unlocated_images)} attached image(s) not checked: add ", code("--exif"), " to read GPS.")
    for p, loc in sorted(located, key=lambda pl: pl[0].created_at, reverse=True)[:15]:
        place = f" {loc.place}" if loc.place else ""
        reply.para(
            f"{p.created_at:%Y-%m-%d %H:%M} {_who(p)}{place} ",
            link(loc.coords, loc.map_url),
            f" ({loc.origin})" + (" " if p.url else ""),
            *([link("post", p.url)] if p.url else []),
        )
    return reply


# /trends ----------------------------------------------------------------------------------------


def _trend_rows(session: Session, sel: Selection, since: Any) -> list[tuple[Any, ...]]:
    stmt = sel.where(select(StoredPost.created_at, StoredPost.text, StoredPost.title, StoredPost.hashtags), since=since)
    return [tuple(r) for r in session.execute(stmt)]


def _trends(rows: list[tuple[Any, ...]], end: Any, window: timedelta, label: str) -> tuple[Any, Picture]:
    terms = [trends.terms_of(f"{title}\n{text}" if title else text, tags or ()) for _, text, title, tags in rows]
    report = trends.analyse([r[0] for r in rows], terms, end, window)
    return report, trends.chart(report, label)


def _window(text: str) -> timedelta:
    try:
        window = parse_duration(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if window > MAX_TREND_WINDOW or window < timedelta(hours=1):
        raise UsageError("The window must be between 1h and 30d.")
    return window


def _span_of(session: Session, sel: Selection) -> tuple[datetime | None, datetime | None]:
    """The oldest and newest post times of a selection."""
    stmt = sel.where(select(func.min(StoredPost.created_at), func.max(StoredPost.created_at)))
    first, last = session.execute(stmt).one()
    return first, last


def _period(window: Window, now: datetime, span: tuple[datetime | None, datetime | None]) -> tuple[datetime, timedelta]:
    """The end and window width that cover an explicit --since/--until period in BASELINE_WINDOWS + 1 windows."""
    first, last = span
    start = window.since or first or now
    end = window.until or (now if window.since else (last or now) + timedelta(seconds=1))
    width = (end - start) / (trends.BASELINE_WINDOWS + 1)
    unit = timedelta(days=1) if width > timedelta(days=2) else timedelta(hours=1)
    return end, max(unit, unit * round(width / unit))


@commands.command(
    "trends",
    "What is spiking: volume and terms against the previous 7 windows, emerging terms, chart",
    example="/trends 3 1d",
    args=[
        Arg("watch", "a watch id or all (all stored posts when left out)", required=False, complete=watch_ids),
        Arg("window", "how far back to look, e.g. 6h, 1d, 7d (default 1d)", required=False),
    ],
    options=[Option("since", "analyse a period instead: from when (30d, 2025-01-01, all), split in 8 windows"),
             Option("until", "the period's end (default: now, or the newest post with --since all)")],
    role=Role.ANALYST,
    expensive=True,
)
async def trends_cmd(ctx: Context, watch: str | None = None, window: str | None = None, since: str | None = None,
                     until: str | None = None) -> Reply:
    if watch and window is None and watch.lower() != "all" and not watch.lower().startswith("watch:") \
            and not watch.isdigit():
        watch, window = None, watch
    target = watch or "all"
    allow = ("watch",) if target.lower() != "all" else ("all",)
    sel = await ctx.services.db.run(lambda s: resolve(s, target, ctx.chat, allow=allow))
    now = ctx.services.now()
    if since or until:
        if window:
            raise UsageError("Give a window (e.g. 1d) or a period (--since/--until), not both.")
        period = parse_window(since, until, now)
        sel = sel.within(period)
        end, span = _period(period, now, await ctx.services.db.run(lambda s: _span_of(s, sel)))
        searched = period.searched()
    else:
        span = _window(window) if window else timedelta(days=1)
        end = now
        searched = f"the last {span * (trends.BASELINE_WINDOWS + 1)}"
    start = end - span * (trends.BASELINE_WINDOWS + 1)
    rows = await ctx.services.db.run(lambda s: _trend_rows(s, sel, start))
    rows = [r for r in rows if r[0] < end]
    if not rows:
        hint = (sel.window.widen(f"/trends {target}") if since or until
                else f"Widen it: /trends {target} --since all (every stored post, split in 8 windows).")
        raise CommandError(f"No stored posts for {sel.label} in {searched}. {hint}")
    report, pic = await asyncio.to_thread(_trends, rows, end, span, sel.label)
    reply = Reply.text(bold("Trends: "), trends.describe(report, sel.label))
    if report.spikes:
        reply.table(
            ["term", "now", "baseline/window", "×", "z"],
            [(t.term, t.count, f"{t.baseline_mean:.1f}", f"{t.ratio:.1f}", f"{t.z:.1f}") for t in report.spikes[:10]],
            title="Spiking",
        )
    if report.emerging:
        reply.table(["term", "now"], [(t.term, t.count) for t in report.emerging[:10]], title="Emerging (new)")
    return _attach(reply, await render(lambda: pic))


# /coord -----------------------------------------------------------------------------------------


@commands.command(
    "coord",
    "Coordination signals for review: near-duplicate texts across accounts, synchronised bursts, new accounts",
    example="/coord 3",
    args=[Arg("watch", "a watch id, or all", complete=watch_ids)],
    options=WINDOW_OPTIONS,
    role=Role.ANALYST,
    expensive=True,
    timeout=180,
)
async def coord_cmd(ctx: Context, watch: str, since: str | None = None, until: str | None = None) -> Reply:
    sel = await _select(ctx, watch, since, until, allow=("all", "watch"))
    await ctx.progress(f"Comparing the posts of {sel.label}…")
    posts = await ctx.services.db.run(lambda s: _load(s, sel, COORD_POSTS))
    if not posts:
        raise sel.nothing_found(f"/coord {watch}")
    clusters = await asyncio.to_thread(coordination.near_duplicate_clusters, posts)
    reply = Reply.text(
        bold(f"Coordination signals in {sel.label}: "),
        f"{len(clusters)} cluster(s) of near-identical posts by {coordination.MIN_ACCOUNTS}+ accounts "
        f"among {len(posts)} posts. ",
        italic("These are signals for review, not verdicts: fans, bots and press releases look alike."),
    )
    for i, c in enumerate(clusters[:5], start=1):
        more = len(c.accounts) - 10
        accounts = ", ".join(f"@{a}" for a in c.accounts[:10]) + (f" +{more}" if more > 0 else "")
        reply.kv(
            [
                ("signals", "; ".join(c.signals())),
                ("accounts", accounts),
                ("timing", f"{c.first:%Y-%m-%d %H:%M} → {c.last:%Y-%m-%d %H:%M} UTC"),
                ("sample", _short(c.sample, 200)),
            ],
            title=f"Cluster {i}",
        )
    return reply
