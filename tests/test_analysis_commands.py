"""The analysis commands end to end through the bot, on planted stored posts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.render.text import render_text
from handlers.analysis.commands import commands
from handlers.monitor.post import Author, Post
from handlers.monitor.sources.base import NotSupported, Page, Profile, Source
from handlers.monitor.sources.registry import SOURCES
from storage.models import Role, Watch, WatchMatch
from tests.analysis_data import EPOCH, assert_png, organic, persona_times, post
from tests.harness import BotHarness
from tests.test_analysis_coordination import planted_campaign
from tests.test_analysis_network import planted

NOW = EPOCH + timedelta(days=41)


@pytest.fixture
async def abot(tmp_path: Path) -> AsyncIterator[BotHarness]:
    harness = BotHarness(tmp_path, sets=[commands], clock=lambda: NOW)
    await harness.start()
    harness.services.shared.put(SOURCES, {})  # no real source is ever reached from these tests
    yield harness
    await harness.stop()


async def store(bot: BotHarness, posts: list[Post], watch_query: str | None = None, chat_id: int = -5001) -> int | None:
    """Store posts; with `watch_query`, also a watch of the chat matching all of them. Returns the watch id."""

    def work(session) -> int | None:  # type: ignore[no-untyped-def]
        rows = [p.to_row() for p in posts]
        session.add_all(rows)
        session.flush()
        if watch_query is None:
            return None
        watch = Watch(chat_platform="telegram", chat_id=chat_id, query=watch_query, created_by="t")
        session.add(watch)
        session.flush()
        session.add_all(WatchMatch(watch_id=watch.id, post_id=r.id, created_at=r.created_at) for r in rows)
        return watch.id

    return await bot.services.db.run(work)


async def test_profile_from_stored_posts(abot: BotHarness) -> None:
    times = persona_times(3, 300, seed=7)
    posts = [
        post(
            "alice",
            t,
            f"patching CVE-2024-3400 on 185.220.101[.]4 #infosec {i}",
            source="hackernews",
            sid=f"a{i}",
            hashtags=["infosec"],
            mentions=["bob"] if i % 3 == 0 else [],
            lang="en",
            urls=["https://www.example.org/x"],
        )
        for i, t in enumerate(times)
    ]
    await store(abot, posts)
    replies = await abot.run("/profile nosuchsource alice", role=Role.ANALYST)
    assert "No stored posts" in render_text(replies[-1])
    replies = await abot.run("/profile hackernews alice", role=Role.ANALYST)
    text = render_text(replies[-1])
    assert "300 posts" in text and "confidence" in text
    assert "UTC+3" in text or "UTC+2" in text or "UTC+4" in text
    assert "CVE-2024-3400 (300)" in text and "#infosec (300)" in text and "@bob (100)" in text
    assert "example.org" in text and "185.220.101.4" in text
    [pic] = replies[-1].attachments
    assert_png(pic.data)
    assert "Activity heatmap" in pic.caption


class FakeSource(Source):
    """A source answering from memory: a profile and one page of an account's posts."""

    name = "fakesrc"
    title = "Fake"

    def __init__(self, posts: list[Post], fail_profile: bool = False) -> None:
        self.posts = posts
        self.fail_profile = fail_profile
        self.feed_calls = 0

    async def profile(self, handle: str) -> Profile:
        if self.fail_profile:
            raise NotSupported("no profiles here")
        return Profile(
            self.name,
            Author(handle, handle, "Frank Fake"),
            bio="also @frank_alt@infosec.exchange",
            url=f"https://fake.example/{handle}",
            links=["https://frank.example"],
            created_at=EPOCH - timedelta(days=400),
            counts={"karma": 42},
        )

    async def account_feed(self, handle: str, cursor: str | None) -> Page:
        self.feed_calls += 1
        return Page(self.posts, None)


async def test_profile_fetches_when_few_posts_are_stored(abot: BotHarness) -> None:
    fetched = [
        post("frank", t, "hello from frank", source="fakesrc", sid=f"f{i}")
        for i, t in enumerate(persona_times(-5, 120, seed=3))
    ]
    source = FakeSource(fetched)
    abot.services.shared.put(SOURCES, {"fakesrc": source})
    reply = (await abot.run("/profile fakesrc frank"))[-1]
    text = render_text(reply)
    assert source.feed_calls == 1
    assert "Frank Fake" in text and "https://frank.example" in text and "2025-01-26" in text
    assert "@frank_alt@infosec.exchange" in text and "karma" in text
    assert "120 posts" in text and any(f"UTC{o}" in text for o in ("-4", "-5", "-6"))
    source.fail_profile = True
    text = render_text((await abot.run("/profile fakesrc frank"))[-1])
    assert "profile not fetched: NotSupported" in text and "120 posts" in text


async def test_profile_not_enough_data(abot: BotHarness) -> None:
    await store(abot, [post("quiet", EPOCH + timedelta(hours=i), "hi there", source="hackernews") for i in range(5)])
    text = render_text((await abot.run("/profile hackernews quiet"))[-1])
    assert "not enough data" in text


async def test_network_of_a_watch_and_exports(abot: BotHarness) -> None:
    wid = await store(abot, planted(), watch_query="hub")
    reply = (await abot.run(f"/network {wid}", role=Role.ANALYST))[-1]
    text = render_text(reply)
    assert "@hub_a" in text and "@hub_b" in text and "Bridges" in text
    names = [a.filename for a in reply.attachments]
    assert names == ["network.png", "network.gexf", "network.graphml"]
    assert_png(reply.attachments[0].data)


async def test_other_chats_watch_is_refused(abot: BotHarness) -> None:
    wid = await store(abot, planted(), watch_query="hub", chat_id=-999)
    text = render_text((await abot.run(f"/network {wid}"))[-1])
    assert f"No watch #{wid} in this chat" in text


async def test_sentiment_of_an_account(abot: BotHarness) -> None:
    posts = [
        post(
            "carol",
            EPOCH + timedelta(hours=6 * i),
            "I love this, wonderful work" if i % 2 else "this is terrible, awful and hateful",
            sid=f"c{i}",
        )
        for i in range(40)
    ]
    await store(abot, posts)
    reply = (await abot.run("/sentiment carol"))[-1]
    text = render_text(reply)
    assert "40 posts scored" in text and "20 negative, 20 positive" in text
    assert "Most negative" in text and "terrible" in text
    assert_png(reply.attachments[0].data)


async def test_sentiment_says_how_many_posts_were_not_scored(abot: BotHarness) -> None:
    texts = ["this is terrible, awful and hateful", "Это ужасно, я ненавижу это", "这太糟糕了，我讨厌它",
             "I love this, wonderful work"]
    await store(abot, [post("olga", EPOCH + timedelta(hours=i), texts[i % 4], sid=f"o{i}") for i in range(40)])
    reply = (await abot.run("/sentiment olga"))[-1]
    text = render_text(reply)
    assert "20 posts scored" in text and "10 negative, 10 positive" in text
    assert "20 not scored (ru 10, zh 10)" in text and "VADER reads English only" in text
    assert "Это" not in text and "这" not in text  # never listed among the most negative or positive

    await store(abot, [post("ivan", EPOCH + timedelta(hours=i), "Это ужасно", sid=f"i{i}") for i in range(5)])
    text = await abot.text("/sentiment ivan")
    assert "none of the 5 posts could be scored; 5 not scored (ru 5)" in text


async def test_iocs_with_csv_and_stix(abot: BotHarness) -> None:
    posts = [
        post("dave", EPOCH + timedelta(hours=i), f"c2 hxxp://evil[.]com/{i % 2} and 45.9.148.12", sid=f"d{i}")
        for i in range(6)
    ]
    await store(abot, posts)
    reply = (await abot.run("/iocs dave --format csv"))[-1]
    text = render_text(reply)
    assert "45.9.148.12" in text and "evil.com" in text
    csv_text = reply.attachments[0].data.decode()
    assert "ipv4,45.9.148.12,6," in csv_text
    stix = (await abot.run("/iocs synthetic:dave --format stix"))[-1].attachments[0].data.decode()
    assert "[ipv4-addr:value = '45.9.148.12']" in stix and '"spec_version": "2.1"' in stix
    assert "not available yet" in render_text((await abot.run("/iocs case:4"))[-1])


async def test_geo_lists_geotagged_posts_only(abot: BotHarness) -> None:
    await store(
        abot,
        [
            post("erin", EPOCH, "here", geo={"lat": 50.45, "lon": 30.52, "place": "Kyiv"}, sid="g1"),
            post("erin", EPOCH + timedelta(hours=1), "somewhere in Paris", sid="g2"),
        ],
    )
    text = render_text((await abot.run("/geo erin"))[-1])
    assert "1 of 2 posts" in text and "Kyiv" in text and "50.45000, 30.52000" in text
    assert "Paris" not in text.split("inferred from text.")[1]


async def test_trends_finds_the_planted_spike(abot: BotHarness) -> None:
    posts = organic(600, seed=5, start=NOW - timedelta(days=8), days=8)
    posts += [
        post(f"x{k}", NOW - timedelta(minutes=10 + k), "exploit for CVE-2026-1234 released", sid=f"t{k}")
        for k in range(25)
    ]
    posts += [
        post(f"y{d}", NOW - timedelta(days=d, hours=2), "old CVE-2026-1234 note", sid=f"u{d}") for d in range(1, 8)
    ]
    wid = await store(abot, posts, watch_query="cve")
    for line in (f"/trends {wid} 1d", "/trends 1d", "/trends"):
        reply = (await abot.run(line))[-1]
        assert "mentions of CVE-2026-1234 up 25× vs its 7-day baseline" in render_text(reply), line
        assert_png(reply.attachments[0].data)
    assert "between 1h and 30d" in render_text((await abot.run("/trends 90d"))[-1])


async def test_coord_shows_signals_not_verdicts(abot: BotHarness) -> None:
    wid = await store(abot, organic(300, seed=8) + planted_campaign(), watch_query="energy")
    text = render_text((await abot.run(f"/coord {wid}"))[-1])
    assert "1 cluster(s)" in text and "signals for review" in text
    assert "12 accounts within 5 min" in text and "12 of 12 accounts with a known age" in text


async def test_watch_signals_for_alerts_and_digest(abot: BotHarness) -> None:
    from handlers.analysis.watch_signals import signals_for_watch

    posts = [
        post(f"x{k}", NOW - timedelta(minutes=10 + k), "exploit for CVE-2026-1234 released", sid=f"t{k}")
        for k in range(25)
    ]
    posts += [
        post(f"y{d}", NOW - timedelta(days=d, hours=2), "old CVE-2026-1234 note", sid=f"u{d}") for d in range(1, 8)
    ]
    wid = await store(abot, posts, watch_query="cve")
    lines = await abot.services.db.run(lambda s: signals_for_watch(s, wid, NOW))
    assert lines == ["mentions of CVE-2026-1234 up 25× vs its 7-day baseline (25 vs 1.0 per 1-day)"]


async def test_analyses_take_all_and_any_window(abot: BotHarness) -> None:
    """An archive a year old is analysable with `all` and a window; empty windows say what was searched."""
    old = NOW - timedelta(days=400)
    posts = [post(f"user{i % 4}", old + timedelta(hours=i),
                  f"terrible awful outage at evil-corp.com again {i} @user{(i + 1) % 4} #outage",
                  sid=f"o{i}", mentions=[f"user{(i + 1) % 4}"], hashtags=["outage"]) for i in range(40)]
    await store(abot, posts)
    sentiment = await abot.text("/sentiment all", role=Role.ANALYST)
    assert "Sentiment of all stored posts" in sentiment and "40 posts scored" in sentiment
    recent = await abot.text("/sentiment all --since 30d", role=Role.ANALYST)
    assert "No stored posts for all stored posts among stored posts from the last 30 days" in recent
    assert "Widen it: /sentiment all --since all" in recent
    year = await abot.text("/iocs all --since 401d --until 399d", role=Role.ANALYST)
    assert "evil-corp.com" in year
    assert "Network of all stored posts" in await abot.text("/network all --since 2000-01-01", role=Role.ANALYST)
    assert "No stored posts" in await abot.text(f"/geo all --until {old:%Y-%m-%d}", role=Role.ANALYST)
    assert "Coordination signals in all stored posts" in await abot.text("/coord all", role=Role.ANALYST)
    trends_now = await abot.text("/trends all", role=Role.ANALYST)
    assert "No stored posts" in trends_now and "/trends all --since all" in trends_now
    trends = await abot.text("/trends all --since all", role=Role.ANALYST)
    assert "5 posts in the last 5-hour vs 5.0 per 5-hour before" in trends  # 40 hours of posts in 8 windows
    bad = await abot.text("/sentiment all --since soon", role=Role.ANALYST)
    assert "--since takes a duration back from now (30d, 12h), a date (2025-01-01) or all" in bad
