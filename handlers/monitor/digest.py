"""Daily digests: per chat at a local time, what its watches matched in the last day.

A digest is short: per-watch counts against the previous period, spikes (a watch's matches
against the previous period, and its term spikes and opted-in negative surges over the period —
the same signals the signal alerts send, from `handlers/analysis/watch_signals`), the top posts, new
authors and one chart; everything else goes into an attached CSV. Scheduled digests go through
the outbox (a `digest` row naming the period), so a crash or a chat outage does not lose one and
`last_sent_period` keeps a restart from sending a day twice.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlmodel import Session

from bot.csvfile import csv_bytes
from bot.reply import Reply, bold, code, link
from handlers.analysis.watch_signals import Signal, detect
from storage import watches
from storage.db import Lane
from storage.models import DigestSchedule, OutboxItem, StoredPost, Watch, WatchMatch

if TYPE_CHECKING:
    from bot.services import Services
    from handlers.monitor.outbox import OutboxWorker

log = logging.getLogger(__name__)

PERIOD = timedelta(days=1)
CATCH_UP = timedelta(hours=12)  # a digest missed while the bot was down is still sent this late
REFRESH_S = 60.0  # the leader re-reads the schedules this often (one may be set through another process)
REFRESH_JOB = "digest:refresh"
SPIKE_MIN = 5  # a spike needs at least this many matches
SPIKE_RATIO = 3.0  # and this many times the previous period
TOP_POSTS = 3
NEW_AUTHORS_SHOWN = 5
CHART_WATCHES = 5
SNIPPET = 160
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class DigestInputError(ValueError):
    """A digest time or time zone that cannot be used; the message says what is expected."""


def parse_time(text: str) -> time:
    """`08:00` → time(8, 0)."""
    m = _HHMM.match(text.strip())
    if not m:
        raise DigestInputError(f"{text!r} is not a time of day: use HH:MM, e.g. 08:00")
    return time(int(m.group(1)), int(m.group(2)))


def parse_zone(text: str) -> ZoneInfo:
    """`Europe/Berlin` → its ZoneInfo."""
    try:
        return ZoneInfo(text.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise DigestInputError(f"unknown time zone {text!r}: use an Area/City name, e.g. Europe/Berlin") from None


def latest_fire(at: str, tz: str, now: datetime) -> datetime:
    """The most recent moment (aware, UTC) at or before `now` when the local clock in `tz` read `at`."""
    zone, local_time = ZoneInfo(tz), parse_time(at)
    local_now = now.astimezone(zone)
    fire = datetime.combine(local_now.date(), local_time, tzinfo=zone)
    if fire > local_now:
        fire = datetime.combine(local_now.date() - timedelta(days=1), local_time, tzinfo=zone)
    return fire.astimezone(now.tzinfo)


def period_label(fire: datetime, tz: str) -> str:
    """The local date a digest fired on, which names its period."""
    return fire.astimezone(ZoneInfo(tz)).date().isoformat()


# the digest's content -------------------------------------------------------------------------------
@dataclass
class WatchLine:
    """One watch's numbers for the period."""

    watch: Watch
    count: int
    previous: int

    @property
    def change(self) -> str:
        if self.previous == 0:
            return "new" if self.count else "–"
        pct = round((self.count - self.previous) * 100 / self.previous)
        return f"{pct:+d}%"

    @property
    def spike(self) -> bool:
        return self.count >= SPIKE_MIN and self.count >= SPIKE_RATIO * max(self.previous, 1)


@dataclass
class DigestData:
    """Everything a digest shows, read from the database for one chat and period."""

    since: datetime
    until: datetime
    lines: list[WatchLine] = field(default_factory=list)
    rows: list[tuple[WatchMatch, StoredPost]] = field(default_factory=list)
    known_authors: set[tuple[str, str]] = field(default_factory=set)
    signals: dict[int, list[Signal]] = field(default_factory=dict)  # watch id → its signals over the period

    @property
    def queries(self) -> dict[int, str]:
        return {line.watch.id or 0: line.watch.query for line in self.lines}

    def top_posts(self) -> list[tuple[StoredPost, list[int]]]:
        """The most engaged posts (then the most watched, then the newest), with their watch ids."""
        by_post: dict[int, tuple[StoredPost, list[int]]] = {}
        for match, post in self.rows:
            by_post.setdefault(post.id or 0, (post, []))[1].append(match.watch_id)
        ranked = sorted(
            by_post.values(),
            key=lambda pw: (sum((pw[0].engagement or {}).values()), len(pw[1]), pw[0].created_at),
            reverse=True,
        )
        return ranked[:TOP_POSTS]

    def new_authors(self) -> list[tuple[str, str]]:
        """Authors matched in this period and never before, most active first."""
        seen = Counter(
            (post.source, post.author_handle) for _, post in self.rows if post.author_handle
        )
        fresh = [(a, n) for a, n in seen.items() if a not in self.known_authors]
        fresh.sort(key=lambda an: (-an[1], an[0]))
        return [a for a, _ in fresh]  # type: ignore[misc]


def read_digest(session: Session, platform: str, chat_id: int, since: datetime, until: datetime) -> DigestData:
    """The chat's watch numbers for [since, until) and the previous period of the same length."""
    chat_watches = watches.for_chat(session, platform, chat_id)
    ids = [w.id or 0 for w in chat_watches]
    length = until - since
    now_counts = watches.match_counts(session, ids, since, until)
    before = watches.match_counts(session, ids, since - length, since)
    data = DigestData(since, until)
    data.lines = [WatchLine(w, now_counts.get(w.id or 0, 0), before.get(w.id or 0, 0)) for w in chat_watches]
    data.rows = watches.matched_posts(session, ids, since, until)
    data.known_authors = watches.known_authors(session, ids, since)
    for line in data.lines:
        if line.count and line.watch.id is not None:
            found = detect(session, line.watch.id, until, length, surge=line.watch.surge_alerts)
            if found:
                data.signals[line.watch.id] = found
    return data


def digest_reply(data: DigestData, tz: str, title: str, chart: bytes | None) -> Reply:
    """The short digest message, with the chart and the CSV of every match attached."""
    zone = ZoneInfo(tz)
    span = f"{_local(data.since, zone)} → {_local(data.until, zone)} ({tz})"
    reply = Reply.text("📰 ", bold(title), " · ", span)
    if not data.lines:
        reply.para("This chat has no watches yet: nothing to report. Add one with ", code("/watch add lockbit"))
        return reply
    total = sum(line.count for line in data.lines)
    previous = sum(line.previous for line in data.lines)
    reply.para(bold(f"{total} matches"), f" across {len(data.lines)} watches (previous period: {previous}).")
    ordered = sorted(data.lines, key=lambda line: (-line.count, line.watch.id or 0))
    reply.table(
        ["id", "query", "matches", "change"],
        [(line.watch.id, _short(line.watch.query, 40), line.count, line.change) for line in ordered],
    )
    spikes = [line for line in ordered if line.spike]
    for line in spikes:
        reply.para("⚡ Spike: ", code(_short(line.watch.query, 60)), f" {line.count} matches vs {line.previous}")
    for line in ordered:
        for signal in data.signals.get(line.watch.id or 0, []):
            icon = "😠 " if signal.kind == "surge" else "⚡ "
            reply.para(icon, code(_short(line.watch.query, 60)), ": ", signal.text)
    for post, watch_ids in data.top_posts():
        parts: list[Any] = [bold(post.source)]
        if post.author_handle:
            parts.append(f" · @{post.author_handle}")
        parts.append(f" · watch {', '.join(str(w) for w in sorted(set(watch_ids)))}: ")
        parts.append(_short(" ".join((post.title or post.text or "").split()), SNIPPET))
        if post.url:
            parts += [" ", link("open", post.url)]
        reply.para("• ", *parts)
    authors = data.new_authors()
    if authors:
        shown = ", ".join(f"@{h} ({s})" for s, h in authors[:NEW_AUTHORS_SHOWN])
        more = f" and {len(authors) - NEW_AUTHORS_SHOWN} more" if len(authors) > NEW_AUTHORS_SHOWN else ""
        reply.para(bold(f"{len(authors)} new authors"), ": ", shown, more)
    if chart is not None:
        reply.attach("digest.png", chart, "image/png", "Matches per hour")
    if data.rows:
        reply.attach("digest.csv", matches_csv(data), "text/csv", f"All {len(data.rows)} matches")
    return reply


def matches_csv(data: DigestData) -> bytes:
    """Every match of the period as CSV (UTF-8 with BOM so spreadsheets read it)."""
    queries = data.queries
    return csv_bytes(
        ["matched_at", "watch", "query", "source", "author", "posted_at", "url", "text"],
        ([match.created_at.isoformat(), match.watch_id, queries.get(match.watch_id, ""), post.source,
          post.author_handle or "", post.created_at.isoformat(), post.url or "",
          _short(" ".join(((post.title or "") + " " + post.text).split()), 1000)] for match, post in data.rows))


def hourly_series(data: DigestData) -> tuple[list[datetime], dict[int, list[int]]]:
    """Hour starts of the period and per-watch match counts per hour (the busiest watches only)."""
    hours = max(1, int((data.until - data.since).total_seconds() // 3600))
    starts = [data.since + timedelta(hours=h) for h in range(hours)]
    busiest = [line.watch.id or 0 for line in sorted(data.lines, key=lambda x: -x.count) if line.count]
    busiest = busiest[:CHART_WATCHES]
    series = {w: [0] * hours for w in busiest}
    for match, _ in data.rows:
        if match.watch_id in series:
            index = min(hours - 1, int((match.created_at - data.since).total_seconds() // 3600))
            series[match.watch_id][index] += 1
    return starts, series


def draw_chart(data: DigestData, tz: str) -> bytes | None:
    """A PNG line chart of matches per hour for the busiest watches (None when nothing matched)."""
    starts, series = hourly_series(data)
    if not series:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import DateFormatter
    from matplotlib.figure import Figure

    zone = ZoneInfo(tz)
    xs = [s.astimezone(zone) for s in starts]
    figure = Figure(figsize=(8, 3.2), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    queries = data.queries
    for watch_id, counts in series.items():
        axes.plot(xs, counts, marker=".", label=f"{watch_id}: {_short(queries.get(watch_id, ''), 30)}")
    axes.xaxis.set_major_formatter(DateFormatter("%H:%M", tz=zone))
    axes.set_ylabel("matches / hour")
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small", loc="upper left")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


async def build_digest(
    services: Services, platform: str, chat_id: int, since: datetime, until: datetime, tz: str, title: str
) -> Reply:
    """Read, draw (in a worker thread) and assemble one chat's digest."""
    data = await services.db.run(lambda s: read_digest(s, platform, chat_id, since, until), lane=Lane.BULK)
    chart = await asyncio.to_thread(draw_chart, data, tz) if data.rows else None
    return digest_reply(data, tz, title, chart)


def _local(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%d %b %H:%M")


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# scheduling ------------------------------------------------------------------------------------------
class DigestScheduler:
    """One cron job per chat with a digest time; each firing queues a `digest` outbox row once."""

    def __init__(self, services: Services, outbox: OutboxWorker) -> None:
        self.services = services
        self.outbox = outbox
        self.jobs: set[str] = set()

    async def rebuild(self) -> None:
        """Jobs for every schedule in the database, and a catch-up for a digest missed while down."""
        schedules = await self.services.db.run(watches.digest_schedules)
        wanted = set()
        for schedule in schedules:
            wanted.add(self._schedule_job(schedule))
            fire = latest_fire(schedule.time, schedule.tz, self.services.now())
            if schedule.last_sent_period != period_label(fire, schedule.tz) and \
                    self.services.now() - fire <= CATCH_UP:
                await self.fire(schedule.chat_platform, schedule.chat_id)
        for job_id in self.jobs - wanted:
            if self.services.scheduler.get_job(job_id) is not None:
                self.services.scheduler.remove_job(job_id)
        self.jobs = wanted

    def start(self) -> None:
        """Re-read the schedules every REFRESH_S, so a digest set through another process is scheduled here."""
        self.services.scheduler.add_job(
            self.rebuild, IntervalTrigger(seconds=REFRESH_S), id=REFRESH_JOB, name="digest schedules",
            replace_existing=True, coalesce=True, max_instances=1,
        )

    def stop(self) -> None:
        """Remove every digest job (this process no longer leads)."""
        for job_id in [*self.jobs, REFRESH_JOB]:
            if self.services.scheduler.get_job(job_id) is not None:
                self.services.scheduler.remove_job(job_id)
        self.jobs = set()

    def _schedule_job(self, schedule: DigestSchedule) -> str:
        at = parse_time(schedule.time)
        job_id = f"digest:{schedule.chat_platform}:{schedule.chat_id}"
        self.services.scheduler.add_job(
            self.fire, CronTrigger(hour=at.hour, minute=at.minute, timezone=ZoneInfo(schedule.tz)),
            id=job_id, name=f"digest {schedule.chat_platform}:{schedule.chat_id}",
            args=[schedule.chat_platform, schedule.chat_id], replace_existing=True,
            coalesce=True, max_instances=1, misfire_grace_time=int(CATCH_UP.total_seconds()),
        )
        return job_id

    async def set(self, platform: str, chat_id: int, at: time, tz: str, by: str) -> DigestSchedule:
        """Create or change a chat's digest time; the first digest is the next one due."""
        hhmm = at.strftime("%H:%M")
        now = self.services.now()
        period = period_label(latest_fire(hhmm, tz, now), tz)

        def save(session: Session) -> DigestSchedule:
            row = watches.digest_for_chat(session, platform, chat_id) or DigestSchedule(
                chat_platform=platform, chat_id=chat_id, time=hhmm, tz=tz, created_by=by, created_at=now
            )
            row.time, row.tz, row.last_sent_period = hhmm, tz, period
            session.add(row)
            return row

        row = await self.services.db.run(save)
        if self.services.background and self.services.leadership.leading:
            self.jobs.add(self._schedule_job(row))
        return row

    async def off(self, platform: str, chat_id: int) -> bool:
        """Stop a chat's digests; False when there were none."""

        def drop(session: Session) -> bool:
            row = watches.digest_for_chat(session, platform, chat_id)
            if row is None:
                return False
            session.delete(row)
            return True

        found = await self.services.db.run(drop)
        job_id = f"digest:{platform}:{chat_id}"
        self.jobs.discard(job_id)
        if self.services.scheduler.get_job(job_id) is not None:
            self.services.scheduler.remove_job(job_id)
        return found

    def next_run(self, platform: str, chat_id: int) -> datetime | None:
        job = self.services.scheduler.get_job(f"digest:{platform}:{chat_id}")
        return getattr(job, "next_run_time", None) if job is not None else None

    async def fire(self, platform: str, chat_id: int) -> bool:
        """Queue the digest due now for a chat, unless its period was already queued.

        The period is claimed with one conditional UPDATE in the same transaction as the outbox row, so
        two processes firing the same digest at once queue it once.
        """
        now = self.services.now()

        def queue(session: Session) -> bool:
            schedule = watches.digest_for_chat(session, platform, chat_id)
            if schedule is None or schedule.id is None:
                return False
            until = latest_fire(schedule.time, schedule.tz, now)
            period = period_label(until, schedule.tz)
            if not watches.claim_digest_period(session, schedule.id, period):
                return False
            session.add(OutboxItem(
                chat_platform=platform, chat_id=chat_id, created_at=now, next_attempt_at=now,
                payload={"kind": "digest", "since": (until - PERIOD).isoformat(), "until": until.isoformat(),
                         "tz": schedule.tz, "period": period},
            ))
            return True

        queued = await self.services.db.run(queue)
        if queued:
            self.services.metrics.alerts_queued.labels("digest").inc()
            self.outbox.wake()
        return queued

    async def build_from_payload(self, payload: dict[str, Any], platform: str, chat_id: int) -> Reply:
        """The Reply for a queued `digest` outbox row."""
        return await build_digest(
            self.services, platform, chat_id, datetime.fromisoformat(payload["since"]),
            datetime.fromisoformat(payload["until"]), payload["tz"], f"Daily digest {payload['period']}",
        )
