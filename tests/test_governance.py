"""Governance: rate limits on expensive commands, retention purge, /forget, export-data and backup."""

from __future__ import annotations

import io
import json
import sqlite3
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from bot.command import CommandSet, Context
from bot.ratelimit import CommandRateLimiter
from bot.render.text import render_text
from bot.reply import Reply
from config.governance import RateLimitSettings, RetentionSettings
from handlers import admin, basics, governance
from handlers.governance_cli import backup_main, export_main, purge_main
from storage import audit
from storage.db import Database, migrate
from storage.models import (
    AuditEntry,
    ButtonToken,
    Case,
    CaseEntity,
    CaseEvent,
    CaseLink,
    LookupCache,
    OutboxItem,
    PostIOC,
    Role,
    StoredPost,
    Watch,
    WatchMatch,
)
from storage.retention import purge
from tests.harness import BotHarness

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=400)

heavy = CommandSet()


@heavy.command("heavy", "An expensive command", example="/heavy", expensive=True)
async def heavy_cmd(ctx: Context) -> Reply:
    return Reply.text("ran")


@heavy.command("light", "A cheap command", example="/light")
async def light_cmd(ctx: Context) -> Reply:
    return Reply.text("ran")


# --------------------------------------------------------------------------- rate limits
class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_limiter_sliding_window_per_user_and_chat() -> None:
    clock = Clock()
    limiter = CommandRateLimiter(RateLimitSettings(window_s=60, per_user=2, per_chat=3), clock)
    assert limiter.acquire("u1", "c") is None
    clock.t += 10
    assert limiter.acquire("u1", "c") is None
    refusal = limiter.acquire("u1", "c")
    assert refusal and refusal.scope == "user" and refusal.retry_after_s == 50  # the first run leaves at t+60
    assert limiter.acquire("u2", "c") is None  # chat: 3rd run
    refusal = limiter.acquire("u3", "c")
    assert refusal and refusal.scope == "chat"
    assert limiter.acquire("u3", "other") is None  # another chat, another budget
    clock.t += 50.5
    assert limiter.acquire("u1", "c") is None  # the oldest run slid out of the window


def test_limiter_refusal_counts_nothing() -> None:
    clock = Clock()
    limiter = CommandRateLimiter(RateLimitSettings(window_s=10, per_user=1, per_chat=0), clock)
    assert limiter.acquire("u", "c") is None
    for _ in range(5):
        clock.t += 1
        assert limiter.acquire("u", "c") is not None
    clock.t = 1010.5  # 10 s after the one counted run, however many refusals came between
    assert limiter.acquire("u", "c") is None


@pytest.fixture
async def limited(tmp_path: Path) -> AsyncIterator[BotHarness]:
    bot = BotHarness(tmp_path, sets=[basics.commands, admin.commands, heavy, governance.commands],
                     governance={"rate_limits": {"per_user": 2, "per_chat": 3, "window_s": 3600}})
    await bot.start()
    yield bot
    await bot.stop()


async def test_router_refuses_over_limit_with_wait_and_audits(limited: BotHarness) -> None:
    for _ in range(2):
        assert await limited.text("/heavy", role=Role.ANALYST) == "ran"
    text = await limited.text("/heavy", role=Role.ANALYST)
    assert "Try again in" in text and "3600 s" not in text.split("Try again in")[1][:3]
    wait = int(text.split("Try again in ")[1].split(" s")[0])
    assert 3590 <= wait <= 3600
    entries = await limited.services.db.run(lambda s: audit.recent(s, 1))
    assert (entries[0].command, entries[0].outcome) == ("heavy", "refused")
    assert "rate limit" in entries[0].detail
    assert await limited.text("/light", role=Role.ANALYST) == "ran"  # cheap commands are not limited


async def test_chat_limit_spans_users_and_admins_are_exempt(limited: BotHarness) -> None:
    for uid in (1, 2, 3):
        assert await limited.text("/heavy", role=Role.ANALYST, user_id=uid) == "ran"
    assert "this chat" in await limited.text("/heavy", role=Role.ANALYST, user_id=4)
    assert await limited.text("/heavy", role=Role.ADMIN, user_id=5) == "ran"
    assert await limited.text("/heavy", role=Role.ANALYST, user_id=4, chat_id=-6000) == "ran"


async def test_invalid_usage_does_not_spend_the_budget(limited: BotHarness) -> None:
    for _ in range(3):
        await limited.text("/heavy unexpected", role=Role.ANALYST)
    assert await limited.text("/heavy", role=Role.ANALYST) == "ran"


# --------------------------------------------------------------------------- fixtures for data
def _post(source: str, sid: str, handle: str, collected: datetime = NOW) -> StoredPost:
    return StoredPost(source=source, source_id=sid, author_handle=handle, text=f"post {sid} by {handle}",
                      created_at=collected, collected_at=collected, content_hash=f"h-{source}-{sid}")


def _seed(session: Session) -> dict[str, int]:
    """Posts by alice (two sources) and bob, with matches, IOCs, alerts, lookups and a case."""
    watch = Watch(chat_platform="telegram", chat_id=-5001, query="x", created_by="t")
    session.add(watch)
    posts = [_post("bluesky", "1", "alice.bsky.social"), _post("mastodon", "2", "Alice.bsky.social"),
             _post("bluesky", "3", "bob.bsky.social")]
    session.add_all(posts)
    session.flush()
    for p in posts:
        session.add(WatchMatch(watch_id=watch.id, post_id=p.id, terms=["x"]))
        session.add(PostIOC(post_id=p.id, kind="domain", value="evil.example", seen_at=NOW))
        payload = {"kind": "alert", "watch_id": watch.id, "query": "x",
                   "post": {"id": p.id, "source": p.source, "author_handle": p.author_handle}}
        session.add(OutboxItem(chat_platform="telegram", chat_id=-5001, watch_id=watch.id, payload=payload))
    group = {"kind": "group", "watch_id": watch.id, "query": "x", "count": 3,
             "top": [{"id": p.id, "source": p.source, "author_handle": p.author_handle} for p in posts]}
    session.add(OutboxItem(chat_platform="telegram", chat_id=-5001, watch_id=watch.id, payload=group))
    session.add(LookupCache(provider="sweep", key="alice.bsky.social", value={}, fetched_at=NOW,
                            expires_at=NOW + timedelta(days=1)))
    session.add(LookupCache(provider="rdap", key="domain:alice.bsky.social", value={}, fetched_at=NOW,
                            expires_at=NOW + timedelta(days=1)))
    session.add(LookupCache(provider="sweep", key="bob.bsky.social", value={}, fetched_at=NOW,
                            expires_at=NOW + timedelta(days=1)))
    case = Case(chat_platform="telegram", chat_id=-5001, title="c", created_by="t")
    session.add(case)
    session.flush()
    alice = CaseEntity(case_id=case.id, kind="account", key="bluesky:alice.bsky.social",
                       value="bluesky:alice.bsky.social", added_by="t")
    post_entity = CaseEntity(case_id=case.id, kind="post", key="bluesky:1", value="bluesky:1", added_by="t")
    bob = CaseEntity(case_id=case.id, kind="account", key="bluesky:bob.bsky.social",
                     value="bluesky:bob.bsky.social", added_by="t")
    session.add_all([alice, post_entity, bob])
    session.flush()
    session.add(CaseLink(case_id=case.id, src_id=alice.id, dst_id=bob.id, kind="replied_to", added_by="t"))
    return {"case": case.id or 0, "watch": watch.id or 0}


def _counts(session: Session) -> dict[str, int]:
    return {m.__name__: len(list(session.exec(select(m)))) for m in
            (StoredPost, WatchMatch, PostIOC, OutboxItem, LookupCache, CaseEntity, CaseLink)}


@pytest.fixture
async def gbot(tmp_path: Path) -> AsyncIterator[BotHarness]:
    bot = BotHarness(tmp_path, sets=[basics.commands, admin.commands, governance.commands], clock=lambda: NOW)
    await bot.start()
    yield bot
    await bot.stop()


# --------------------------------------------------------------------------- /forget
async def test_forget_previews_then_removes_only_the_subject(gbot: BotHarness) -> None:
    ids = await gbot.services.db.run(_seed)
    before = await gbot.services.db.run(_counts)
    preview = await gbot.run("/forget @alice.bsky.social", role=Role.ADMIN)
    text = render_text(preview[0])
    assert "would remove" in text and "Nothing is removed until you confirm" in text
    assert preview[0].button_rows[0][0].command == "/forget alice.bsky.social confirm"
    assert await gbot.services.db.run(_counts) == before  # a dry run keeps everything

    text = await gbot.text("/forget alice.bsky.social confirm", role=Role.ADMIN)
    after = await gbot.services.db.run(_counts)
    assert "Removed" in text
    assert after["StoredPost"] == 1 and after["WatchMatch"] == 1 and after["PostIOC"] == 1
    assert after["OutboxItem"] == 2  # bob's alert and the redacted group summary
    assert after["LookupCache"] == 1 and after["CaseEntity"] == 1 and after["CaseLink"] == 0

    def remaining(session: Session) -> tuple[list[str | None], list[str], list[dict], list[str]]:
        handles = [p.author_handle for p in session.exec(select(StoredPost))]
        keys = [e.key for e in session.exec(select(CaseEntity))]
        groups = [o.payload for o in session.exec(select(OutboxItem)) if o.payload["kind"] == "group"]
        events = [e.action for e in session.exec(select(CaseEvent).where(CaseEvent.case_id == ids["case"]))]
        return handles, keys, groups, events

    handles, keys, groups, events = await gbot.services.db.run(remaining)
    assert handles == ["bob.bsky.social"] and keys == ["bluesky:bob.bsky.social"]
    assert [p["author_handle"] for p in groups[0]["top"]] == ["bob.bsky.social"]
    assert events == ["forget"]
    for kind in ("posts", "matches", "iocs", "alerts", "lookups", "case entities"):
        assert kind in text
    entries = await gbot.services.db.run(lambda s: audit.recent(s, 1))
    assert (entries[0].command, entries[0].outcome) == ("forget", "ok")


async def test_forget_with_source_keeps_other_sources(gbot: BotHarness) -> None:
    await gbot.services.db.run(_seed)
    await gbot.text("/forget mastodon:alice.bsky.social confirm", role=Role.ADMIN)

    def sources(session: Session) -> list[tuple[str, str | None]]:
        return sorted((p.source, p.author_handle) for p in session.exec(select(StoredPost)))

    assert await gbot.services.db.run(sources) == [("bluesky", "alice.bsky.social"), ("bluesky", "bob.bsky.social")]


async def test_forget_is_admin_only_and_handles_sql_metacharacters(gbot: BotHarness) -> None:
    await gbot.services.db.run(_seed)
    assert "needs the admin role" in await gbot.text("/forget alice.bsky.social confirm", role=Role.ANALYST)
    before = await gbot.services.db.run(_counts)
    for nasty in ("%", "_", "x'); DROP TABLE posts; --", "%alice%"):
        text = await gbot.text(f'/forget "{nasty}" confirm', role=Role.ADMIN)
        assert "Nothing stored" in text or "one handle" in text, nasty
    assert await gbot.services.db.run(_counts) == before


# --------------------------------------------------------------------------- retention
def _seed_ages(session: Session, now: datetime = NOW) -> None:
    old_at = now - timedelta(days=400)
    watch = Watch(chat_platform="telegram", chat_id=1, query="x", created_by="t")
    session.add(watch)
    old, new = _post("hn", "old", "a", old_at), _post("hn", "new", "a", now)
    session.add_all([old, new])
    session.flush()
    for p in (old, new):
        session.add(WatchMatch(watch_id=watch.id, post_id=p.id, terms=[]))
        session.add(PostIOC(post_id=p.id, kind="ip", value="1.2.3.4", seen_at=p.created_at))
    for at, state in ((old_at, "sent"), (old_at, "pending"), (now, "sent")):
        session.add(OutboxItem(chat_platform="telegram", chat_id=1, payload={}, state=state, created_at=at))
    session.add(LookupCache(provider="p", key="old", value=1, fetched_at=old_at, expires_at=now + timedelta(days=9)))
    session.add(LookupCache(provider="p", key="expired", value=1, fetched_at=now, expires_at=now - timedelta(1)))
    session.add(LookupCache(provider="p", key="fresh", value=1, fetched_at=now, expires_at=now + timedelta(1)))
    session.add(AuditEntry(at=old_at, user="u", chat="c", command="x", outcome="ok"))
    session.add(AuditEntry(at=now, user="u", chat="c", command="y", outcome="ok"))
    session.add(ButtonToken(token="old", command="/x", chat="c", created_at=old_at))
    session.add(ButtonToken(token="new", command="/x", chat="c", created_at=now))


def test_purge_deletes_each_kind_past_its_retention(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    migrate(url)
    db = Database(url)
    with db.session() as s:
        _seed_ages(s)
    with db.session() as s:
        counts = purge(s, RetentionSettings(), NOW)
    assert counts == {"matches": 1, "iocs": 1, "posts": 1, "lookups": 2, "audit": 1, "outbox": 1, "buttons": 1}
    with db.session() as s:
        assert [p.source_id for p in s.exec(select(StoredPost))] == ["new"]
        assert sorted(o.state for o in s.exec(select(OutboxItem))) == ["pending", "sent"]  # pending is never purged
        assert [c.key for c in s.exec(select(LookupCache))] == ["fresh"]
    with db.session() as s:  # zero days keeps forever
        keep = RetentionSettings(posts_days=0, lookups_days=0, audit_days=0, outbox_days=0, buttons_days=0)
        s.add(AuditEntry(at=OLD, user="u", chat="c", command="x", outcome="ok"))
        s.flush()
        assert purge(s, keep, NOW) == {"lookups": 0}
    db.close()


async def test_purge_command_and_daily_job(tmp_path: Path) -> None:
    bot = BotHarness(tmp_path, sets=[basics.commands, admin.commands, governance.commands], clock=lambda: NOW,
                     background=True, governance={"retention": {"purge_at": "04:15"}})
    await bot.start()
    try:
        job = bot.services.scheduler.get_job(governance.PURGE_JOB)
        assert job is not None and "hour='4', minute='15'" in str(job.trigger)
        await bot.services.db.run(_seed_ages)
        text = await bot.text("/purge", role=Role.ADMIN)
        assert "Purge done" in text and "posts" in text
        assert "last purge" in await bot.text("/status", role=Role.ADMIN)
        entries = await bot.services.db.run(lambda s: list(s.exec(select(AuditEntry).where(
            AuditEntry.command == "purge"))))
        assert entries and "posts 1" in entries[0].detail
    finally:
        await bot.stop()


def _seed_each_kind(session: Session) -> None:
    """One row of each kind 5 days old ("young") and one 15 days old ("old"), plus an old pending alert."""
    watch = Watch(chat_platform="telegram", chat_id=1, query="x", created_by="t")
    session.add(watch)
    for age, days in (("young", 5), ("old", 15)):
        at = NOW - timedelta(days=days)
        post = _post("hn", age, "a", at)
        session.add(post)
        session.flush()
        session.add(WatchMatch(watch_id=watch.id, post_id=post.id, terms=[]))
        session.add(PostIOC(post_id=post.id, kind="ip", value=age, seen_at=at))
        session.add(LookupCache(provider="p", key=age, value=1, fetched_at=at, expires_at=NOW + timedelta(days=99)))
        session.add(AuditEntry(at=at, user="u", chat="c", command=age, outcome="ok"))
        session.add(OutboxItem(chat_platform="telegram", chat_id=1, payload={"age": age}, state="sent",
                               created_at=at))
        session.add(ButtonToken(token=age, command="/x", chat="c", created_at=at))
    session.add(OutboxItem(chat_platform="telegram", chat_id=1, payload={"age": "old"}, state="pending",
                           created_at=NOW - timedelta(days=15)))


def _kept(session: Session) -> dict[str, list[str]]:
    """What is left of each kind `_seed_each_kind` wrote."""
    ages = {p.id: p.source_id for p in session.exec(select(StoredPost))}
    return {
        "posts": sorted(ages.values()),
        "matches": sorted(ages.get(m.post_id, "?") for m in session.exec(select(WatchMatch))),
        "iocs": sorted(i.value for i in session.exec(select(PostIOC))),
        "lookups": sorted(c.key for c in session.exec(select(LookupCache))),
        "audit": sorted(e.command for e in session.exec(select(AuditEntry)) if e.command != "purge"),
        "outbox": sorted(f"{o.state} {o.payload['age']}" for o in session.exec(select(OutboxItem))),
        "buttons": sorted(b.token for b in session.exec(select(ButtonToken))),
    }


EVERYTHING = {"posts": ["old", "young"], "matches": ["old", "young"], "iocs": ["old", "young"],
              "lookups": ["old", "young"], "audit": ["old", "young"],
              "outbox": ["pending old", "sent old", "sent young"], "buttons": ["old", "young"]}
REMOVES = {  # a retention setting at 10 days → what is left of the kinds it governs (the others: everything)
    "posts_days": {"posts": ["young"], "matches": ["young"], "iocs": ["young"]},
    "lookups_days": {"lookups": ["young"]},
    "audit_days": {"audit": ["young"]},
    "outbox_days": {"outbox": ["pending old", "sent young"]},  # a pending alert is never purged
    "buttons_days": {"buttons": ["young"]},
}


def test_every_retention_setting_is_covered() -> None:
    assert set(REMOVES) == {name for name in RetentionSettings.model_fields if name.endswith("_days")}


@pytest.mark.parametrize("setting", sorted(REMOVES))
async def test_the_daily_purge_applies_each_retention_setting(tmp_path: Path, setting: str) -> None:
    forever = {name: 0 for name in REMOVES}
    bot = BotHarness(tmp_path, sets=[basics.commands, governance.commands], clock=lambda: NOW, background=True,
                     governance={"retention": {**forever, setting: 10}})
    await bot.start()
    try:
        await bot.services.db.run(_seed_each_kind)
        await governance._scheduled_purge(bot.services)  # what the daily job runs
        assert await bot.services.db.run(_kept) == EVERYTHING | REMOVES[setting]
    finally:
        await bot.stop()


async def test_no_purge_job_in_console_mode(gbot: BotHarness) -> None:
    assert gbot.services.scheduler.get_job(governance.PURGE_JOB) is None


# --------------------------------------------------------------------------- CLI: export, backup, purge
@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("SOCMINT_DATABASE__URL", url)
    monkeypatch.setenv("SOCMINT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SOCMINT_TELEGRAM__TOKEN", "123456:SECRET-telegram-token")
    migrate(url)
    return url


def test_export_data_writes_every_table_and_masks_secrets(configured: str, tmp_path: Path) -> None:
    db = Database(configured)
    with db.session() as s:
        _seed(s)
        s.add(AuditEntry(user="u", chat="c", command="x", outcome="ok", detail="leaked 123456:SECRET-telegram-token"))
    db.close()
    out, err = io.StringIO(), io.StringIO()
    assert export_main(["--out", str(tmp_path / "exp")], out, err) == 0, err.getvalue()
    files = {p.name for p in (tmp_path / "exp").iterdir()}
    assert {"posts.jsonl", "audit.jsonl", "case_entities.jsonl", "outbox.jsonl", "manifest.json"} <= files
    posts = [json.loads(line) for line in (tmp_path / "exp" / "posts.jsonl").read_text().splitlines()]
    assert len(posts) == 3 and posts[0]["created_at"].startswith("2026-11-01")
    everything = "".join(p.read_text() for p in (tmp_path / "exp").iterdir())
    assert "SECRET-telegram-token" not in everything and "leaked ***" in everything
    manifest = json.loads((tmp_path / "exp" / "manifest.json").read_text())
    assert manifest["tables"]["posts"] == 3
    assert export_main(["--out", str(tmp_path / "exp")], out, err) == 2  # never overwrites


def test_backup_is_consistent_while_another_connection_writes(configured: str, tmp_path: Path) -> None:
    db = Database(configured)
    stop = threading.Event()
    written = [0]

    def writer() -> None:
        while not stop.is_set():
            with db.session() as s:
                s.add(AuditEntry(user="w", chat="c", command="write", outcome="ok", detail="x" * 500))
            written[0] += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while written[0] < 20:
            stop.wait(0.01)
        out, err = io.StringIO(), io.StringIO()
        target = tmp_path / "b" / "copy.db"
        assert backup_main([str(target)], out, err) == 0, err.getvalue()
    finally:
        stop.set()
        thread.join()
        db.close()
    copy = sqlite3.connect(target)
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = copy.execute("SELECT count(*) FROM audit").fetchone()[0]
    copy.close()
    assert 20 <= rows <= written[0]
    assert not target.with_name("copy.db.partial").exists()
    assert backup_main([str(target)], io.StringIO(), err) == 1 and "exists" in err.getvalue()


def test_backup_of_postgres_points_to_pg_dump(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCMINT_DATABASE__URL", "postgresql+psycopg://u:p@localhost/db")
    err = io.StringIO()
    assert backup_main([], io.StringIO(), err) == 1
    assert "pg_dump" in err.getvalue()


def test_purge_cli_runs_once_and_audits(configured: str) -> None:
    db = Database(configured)
    with db.session() as s:
        _seed_ages(s, datetime.now(UTC))
    out = io.StringIO()
    assert purge_main([], out, io.StringIO()) == 0
    assert "deleted 8 rows" in out.getvalue()
    with db.session() as s:
        entry = s.exec(select(AuditEntry).where(AuditEntry.command == "purge")).one()
        assert entry.user == "cli:0"
    db.close()
