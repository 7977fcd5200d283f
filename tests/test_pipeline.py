"""The ingest pipeline: posts through de-duplication, storage and matching into the outbox."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from bot.render.text import render_text
from bot.reply import Style
from handlers.monitor.pipeline import CursorUpdate, load_cursor, row_values, sampled
from handlers.monitor.slot import MONITOR
from storage.models import OutboxItem, StoredPost, WatchMatch
from tests.fakes.monitor import Clock, engine_of, make_post, start_monitor_bot


async def _count(bot, model) -> int:  # type: ignore[no-untyped-def]
    return await bot.services.db.run(lambda s: s.execute(select(func.count()).select_from(model)).scalar_one())


async def test_matching_posts_become_alerts_in_the_watch_chat(tmp_path: Path) -> None:
    clock = Clock()
    bot, surface = await start_monitor_bot(tmp_path, clock)
    try:
        await bot.run("/watch add lockbit", chat_id=-77)
        monitor = engine_of(bot)
        result = await monitor.ingest([
            make_post("1", "LockBit claims a new victim", author="mallory", score=12),
            make_post("2", "blockbits are not lockbits", author="bob"),
            make_post("3", "Nothing to see here", author="carol"),
        ])
        assert (result.stored, result.matches, result.alerts) == (3, 1, 1)
        assert await monitor.outbox.drain() == 1
        [(chat_id, reply)] = surface.delivered
        assert chat_id == -77
        text = render_text(reply)
        assert "Watch 1" in text and "@mallory" in text and "https://fake.example/1" in text
        bold_spans = [s.text for p in reply.blocks if hasattr(p, "spans") for s in p.spans if s.style is Style.BOLD]
        assert "LockBit" in bold_spans
        commands = [b.command for row in reply.button_rows for b in row]
        post_id = await bot.services.db.run(
            lambda s: s.execute(select(StoredPost.id).where(StoredPost.source_id == "1")).scalar_one())
        assert commands == ["/watch mute 1 1h", f"/case add post:{post_id}", "/profile fake mallory"]
    finally:
        await bot.stop()


async def test_the_same_posts_twice_store_and_alert_once(tmp_path: Path) -> None:
    clock = Clock()
    bot, surface = await start_monitor_bot(tmp_path, clock)
    try:
        await bot.run("/watch add ransomware")
        monitor = engine_of(bot)
        posts = [make_post(str(i), f"ransomware report number {i}") for i in range(5)]
        first = await monitor.ingest(posts + posts[:2])  # repeats inside one batch too
        again = await monitor.ingest(posts)
        cross = await monitor.ingest([make_post("99", "ransomware report number 1", source="other")])
        assert (first.stored, first.alerts) == (5, 5)
        assert (again.stored, again.duplicates, again.alerts) == (0, 5, 0)
        # same author and text from another source: the content hash drops it
        assert (cross.stored, cross.alerts) == (0, 0)
        await monitor.outbox.drain()
        assert len(surface.delivered) == 5
        assert await _count(bot, WatchMatch) == 5
    finally:
        await bot.stop()


async def test_short_texts_are_not_dropped_as_duplicates(tmp_path: Path) -> None:
    bot, _ = await start_monitor_bot(tmp_path, Clock())
    try:
        result = await engine_of(bot).ingest([make_post("a", "+1"), make_post("b", "+1")])
        assert result.stored == 2
    finally:
        await bot.stop()


async def test_muted_paused_and_old_posts_are_matched_but_not_alerted(tmp_path: Path) -> None:
    clock = Clock()
    bot, surface = await start_monitor_bot(tmp_path, clock, alert_max_age_s=3600)
    try:
        await bot.run("/watch add phishing")  # 1
        await bot.run("/watch add phishing kit")  # 2
        await bot.run("/watch add phishing campaign")  # 3
        await bot.run("/watch mute 1 1h")
        await bot.run("/watch pause 3")
        monitor = engine_of(bot)
        result = await monitor.ingest([
            make_post("1", "a phishing kit campaign", at=clock.now),
            make_post("2", "old phishing kit news", at=clock.now - timedelta(hours=2)),
        ])
        # watch 1 matches both (muted), watch 2 both (one too old), watch 3 is paused
        assert (result.matches, result.alerts) == (4, 1)
        imported = await monitor.ingest([make_post("3", "phishing kit sold", at=clock.now)], alert=False)
        assert (imported.matches, imported.alerts) == (2, 0)
        await monitor.outbox.drain()
        assert [render_text(r).count("Watch 2") for _, r in surface.delivered] == [1]
        clock.advance(hours=2)  # the mute ran out
        later = await monitor.ingest([make_post("4", "new phishing kit", at=clock.now)])
        assert (later.matches, later.alerts) == (2, 1)  # one alert in the chat, naming both watches
        await monitor.outbox.drain()
        last = render_text(surface.delivered[-1][1])
        assert "Watch 1" in last and "Watch 2" in last
    finally:
        await bot.stop()


async def test_cursor_is_saved_with_the_batch(tmp_path: Path) -> None:
    bot, _ = await start_monitor_bot(tmp_path, Clock(), ingest_batch=2)
    try:
        monitor = engine_of(bot)
        posts = [make_post(str(i), f"post body number {i}") for i in range(5)]
        result = await monitor.ingest(posts, cursor=CursorUpdate("fake", "watch:1", "c5"))
        assert result.stored == 5
        saved = await bot.services.db.run(lambda s: load_cursor(s, "fake", "watch:1"))
        assert saved == "c5"
    finally:
        await bot.stop()


async def test_only_matching_keeps_firehose_noise_out(tmp_path: Path) -> None:
    bot, _ = await start_monitor_bot(tmp_path, Clock())
    try:
        await bot.run("/watch add #osint")
        result = await engine_of(bot).ingest(
            [make_post("1", "reading about #osint today"), make_post("2", "lunch photos from today")],
            only_matching=True,
        )
        assert (result.stored, result.alerts) == (1, 1)
        assert await _count(bot, StoredPost) == 1
        assert await _count(bot, OutboxItem) == 1
    finally:
        await bot.stop()


async def test_removed_watch_stops_matching_at_once(tmp_path: Path) -> None:
    bot, _ = await start_monitor_bot(tmp_path, Clock())
    try:
        await bot.run("/watch add conti")
        monitor = engine_of(bot)
        assert (await monitor.ingest([make_post("1", "conti leaks again")])).alerts == 1
        await bot.run("/watch remove 1")
        assert (await monitor.ingest([make_post("2", "conti is back")])).matches == 0
        assert await _count(bot, OutboxItem) == 0  # the queued alert went with the watch
    finally:
        await bot.stop()


def test_row_values_match_the_stored_post_model() -> None:
    post = make_post("9", "some text with #tag", score=3, title="A title")
    post.mentions, post.hashtags, post.geo, post.raw = ["bob"], ["tag"], {"lat": 1.0}, {"k": "v"}
    at = post.created_at + timedelta(minutes=1)
    model = post.to_row()
    model.collected_at = at
    values = row_values(post, at)
    columns = {c.name for c in StoredPost.__table__.columns} - {"id"}  # type: ignore[attr-defined]
    assert set(values) == columns
    assert values == {name: getattr(model, name) for name in columns}


async def test_ingest_extracts_iocs_of_every_stored_post(tmp_path):
    """Content analysis runs on every stored post: its indicators are indexed for pivots."""
    from datetime import UTC, datetime

    from handlers.analysis.ioc_index import posts_with
    from handlers.analysis.iocs import IOCKind
    from handlers.monitor.post import Author, Post
    from tests.harness import BotHarness

    bot = BotHarness(tmp_path)
    await bot.start()
    try:
        post = Post("hackernews", "ioc-1", "payload at hxxp://evil[.]example/x from 203.0.113.7, see CVE-2026-1234",
                    datetime(2026, 11, 1, tzinfo=UTC), Author("1", "alice"))
        await bot.services.shared.get(MONITOR).ingest([post])
        found = await bot.services.db.run(lambda s: [p.source_id for p in posts_with(s, IOCKind.CVE, "CVE-2026-1234")])
        assert found == ["ioc-1"]
        hosts = await bot.services.db.run(lambda s: len(posts_with(s, IOCKind.IPV4, "203.0.113.7")))
        assert hosts == 1
    finally:
        await bot.stop()


async def test_lookup_of_a_hash_shows_where_it_was_seen(tmp_path):
    from datetime import UTC, datetime

    from handlers.monitor.post import Author, Post
    from tests.harness import BotHarness

    digest = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    bot = BotHarness(tmp_path)
    await bot.start()
    try:
        post = Post("rss", "h-1", f"dropper sha256 {digest} spotted", datetime(2026, 11, 2, tzinfo=UTC),
                    Author(None, "vendor-blog"), url="https://blog.example/dropper")
        await bot.services.shared.get(MONITOR).ingest([post])
        text = await bot.text(f"/lookup {digest.upper()}")
        assert "SHA-256 hash" in text and "Seen in collected posts" in text and "vendor-blog" in text
        assert "Not seen" in await bot.text("/lookup " + "ab" * 32)
    finally:
        await bot.stop()


async def test_a_post_is_alerted_once_per_chat_naming_its_unmuted_watches(tmp_path: Path) -> None:
    clock = Clock()
    bot, surface = await start_monitor_bot(tmp_path, clock)
    try:
        await bot.run("/watch add lockbit")  # 1
        await bot.run("/watch add lockbit OR alphv")  # 2
        await bot.run("/watch add lockbit", chat_id=-6)  # 3, another chat
        await bot.run("/watch mute 1 1h")
        monitor = engine_of(bot)
        result = await monitor.ingest([make_post("1", "lockbit leaks again")])
        assert (result.matches, result.alerts) == (3, 2)  # one alert per chat
        await monitor.outbox.drain()
        texts = {chat: render_text(reply) for chat, reply in surface.delivered}
        assert "Watch 2" in texts[-5001] and "Watch 1" not in texts[-5001]  # muted: still matched, not named
        assert "Watch 3" in texts[-6]
        await bot.run("/watch mute 2 1h")  # every matching watch of the chat muted: no alert there
        later = await monitor.ingest([make_post("2", "lockbit and alphv again")])
        assert (later.matches, later.alerts) == (3, 1) and later.chats == {("telegram", -6)}
    finally:
        await bot.stop()


async def test_removing_a_watch_hands_its_shared_alerts_to_the_others(tmp_path: Path) -> None:
    bot, surface = await start_monitor_bot(tmp_path, Clock())
    try:
        await bot.run("/watch add lockbit")  # 1
        await bot.run("/watch add lockbit OR alphv")  # 2
        monitor = engine_of(bot)
        await monitor.ingest([make_post("1", "lockbit leaks again"), make_post("2", "lockbit once more today")])
        await bot.run("/watch remove 1")
        assert await monitor.outbox.drain() == 2  # the queued alerts were both watches' and are watch 2's now
        for _chat, reply in surface.delivered:
            text = render_text(reply)
            assert "Watch 2" in text and "Watch 1" not in text
            assert next(b.command for row in reply.button_rows for b in row) == "/watch mute 2 1h"
        rows = await bot.services.db.run(lambda s: s.execute(select(OutboxItem.watch_id)).scalars().all())
        assert rows == [2, 2]
    finally:
        await bot.stop()


async def test_firehose_sample_keeps_a_share_of_unmatched_posts_chosen_by_key(tmp_path: Path) -> None:
    bot, _ = await start_monitor_bot(tmp_path, Clock())
    try:
        await bot.run("/watch add #osint")
        noise = [make_post(f"n{i}", f"lunch photo number {i} from the park") for i in range(400)]
        result = await engine_of(bot).ingest([*noise, make_post("m", "an #osint thread")], only_matching=True,
                                             sample=0.25)
        assert 60 <= result.stored - 1 <= 140  # about a quarter of the noise, and the match
        kept = {p.key for p in noise if sampled(p, 0.25)}
        assert len(kept) == result.stored - 1
        assert all(sampled(p, 0.25) == (p.key in kept) for p in noise)  # the same choice on a replay
        assert not any(sampled(p, 0.0) for p in noise) and all(sampled(p, 1.0) for p in noise)
    finally:
        await bot.stop()
