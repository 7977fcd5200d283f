"""RSS/Atom source: entries normalised, conditional GET, seen-id dedupe, SSRF guard, faults."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from config.sources import RssSettings
from handlers.fetch import FetchError
from handlers.lookup.ssrf import SsrfGuard
from handlers.monitor.sources.base import NotSupported
from handlers.monitor.sources.rss import FeedCursor, RssSource
from tests.fakes_sources_a import FakeApi, fixture_bytes, make_fetcher

FEED = "https://vendor.example/feed.xml"
FETCHED = datetime(2026, 10, 31, 0, 0, tzinfo=UTC)
ADDRESSES = {"vendor.example": ["93.184.215.14"], "forum.example": ["93.184.215.15"], "evil.example": ["127.0.0.1"]}


async def resolver(host: str, port: int) -> list[str]:
    return ADDRESSES.get(host, [])


def source(api: FakeApi, feeds: list[str] | None = None) -> RssSource:
    fetcher, _ = make_fetcher(api)
    rss = RssSource(RssSettings(feeds=feeds or [], rate_per_s=1000), fetcher, guard=SsrfGuard(resolver))
    rss.clock = lambda: FETCHED
    return rss


def feed_response(name: str, **headers: str) -> httpx.Response:
    return httpx.Response(200, content=fixture_bytes("rss", name), headers={"content-type": "application/rss+xml",
                                                                             **headers})


async def test_rss_items_are_normalised() -> None:
    api = FakeApi()
    api.route("/feed.xml", feed_response("advisories.rss.xml"))
    page = await source(api).account_feed(FEED, None)
    advisory = next(p for p in page.posts if p.source_id == f"{FEED}#ADV-1234")
    assert advisory.title == "CVE-2026-1234: RCE in Widget <3.2"
    assert advisory.text == "Patch now — see KB1.\n\nExploited by #LockBit"
    assert advisory.created_at == datetime(2026, 10, 30, 9, 0, tzinfo=UTC)
    assert advisory.urls == ["https://vendor.example/adv/1234", "https://vendor.example/kb/1"]
    assert advisory.hashtags == ["LockBit", "ransomware"]
    assert advisory.media == [{"type": "application", "url": "https://vendor.example/adv/1234.pdf",
                               "mime": "application/pdf"}]
    assert advisory.author.name == "PSIRT Team" and advisory.lang == "en-us"
    russian = next(p for p in page.posts if p.url == "https://vendor.example/adv/ru-77")
    assert russian.source_id == "https://vendor.example/adv/ru-77"  # no guid: the link is the id
    assert russian.text == "Обновите прошивку & перезагрузите." and russian.created_at == FETCHED
    bare = [p for p in page.posts if p.source_id.startswith(f"{FEED}#sha1:")]
    assert len(bare) == 1 and bare[0].title is None
    assert len(page.posts) == 3


async def test_atom_threading_geo_and_html_title() -> None:
    api = FakeApi()
    api.route("/feed.atom", httpx.Response(200, content=fixture_bytes("rss", "thread.atom.xml")))
    rss = source(api)
    page = await rss.account_feed("https://forum.example/feed.atom", None)
    (post,) = page.posts
    assert post.source_id == "tag:forum.example,2026:post-2"
    assert post.reply_to == "tag:forum.example,2026:post-1"
    assert post.geo == {"lat": 45.256, "lon": -71.92}
    assert post.created_at == datetime(2026, 10, 30, 16, 59, tzinfo=UTC)
    assert post.author.name == "Ghost" and post.urls[-1] == "https://files.example/dump.zip"
    profile = await rss.profile("https://forum.example/feed.atom")
    assert profile.author.name == "Forum leaks" and profile.counts == {"entries": 1}


async def test_conditional_get_and_dedupe_on_ids() -> None:
    api = FakeApi()
    api.route("/feed.xml", feed_response("advisories.rss.xml", ETag='"v1"', **{"Last-Modified": "Fri, 30 Oct 2026"}),
              httpx.Response(304), feed_response("advisories.rss.xml", ETag='"v2"'))
    rss = source(api)
    first = await rss.account_feed(FEED, None)
    assert len(first.posts) == 3
    state = FeedCursor.load(first.cursor)
    assert state.etag == '"v1"' and len(state.seen) == 3
    second = await rss.account_feed(FEED, first.cursor)
    sent = api.requests[1].headers
    assert sent["If-None-Match"] == '"v1"' and sent["If-Modified-Since"] == "Fri, 30 Oct 2026"
    assert second.posts == [] and second.cursor == first.cursor
    third = await rss.account_feed(FEED, second.cursor)
    assert third.posts == [] and FeedCursor.load(third.cursor).etag == '"v2"'


async def test_private_addresses_are_refused_even_after_a_redirect() -> None:
    api = FakeApi()
    api.route("/go", httpx.Response(302, headers={"Location": "https://evil.example/feed"}))
    rss = source(api)
    with pytest.raises(FetchError, match="refused"):
        await rss.account_feed("https://evil.example/feed", None)
    with pytest.raises(FetchError, match="refused"):
        await rss.account_feed("https://vendor.example/go", None)
    assert [r.url.path for r in api.requests] == ["/go"]


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (httpx.Response(503), "HTTP 503"),
        (httpx.Response(200, content=b"<html><body>Just a moment...</body></html>"), "could not be parsed"),
        (httpx.Response(200, content=b""), "could not be parsed"),
    ],
    ids=["503", "html-page", "empty"],
)
async def test_broken_feeds_raise_and_count_against_health(response: httpx.Response, reason: str) -> None:
    api = FakeApi()
    api.route("/feed.xml", response)
    rss = source(api)
    with pytest.raises(FetchError, match=reason):
        await rss.account_feed(FEED, None)
    assert rss.fetcher.breaker("rss").failures == 1


async def test_truncated_feed_still_yields_its_complete_entries() -> None:
    body = fixture_bytes("rss", "advisories.rss.xml")
    api = FakeApi()
    api.route("/feed.xml", httpx.Response(200, content=body[: body.index(b"<item>", body.index(b"ADV-1234"))]))
    page = await source(api).account_feed(FEED, None)
    assert [p.source_id for p in page.posts] == [f"{FEED}#ADV-1234"]


async def test_search_filters_configured_feeds_and_keeps_a_failing_feeds_cursor() -> None:
    api = FakeApi()
    api.route("/feed.xml", feed_response("advisories.rss.xml"))
    api.route("/down.xml", httpx.Response(500))
    down = "https://vendor.example/down.xml"
    rss = source(api, feeds=[FEED, down])
    old = json.dumps({down: FeedCursor(etag='"keep"').dump()})
    page = await rss.search(["widget"], old)
    assert [p.source_id for p in page.posts] == [f"{FEED}#ADV-1234"]
    state = json.loads(page.cursor or "")
    assert FeedCursor.load(state[down]).etag == '"keep"' and FEED in state


async def test_search_without_configured_feeds_says_so() -> None:
    with pytest.raises(NotSupported, match="no feeds"):
        await source(FakeApi()).search(["x"], None)


def test_a_cursor_that_is_not_ours_starts_afresh():
    """A damaged or foreign saved cursor must not break every later poll of the feed."""
    from handlers.monitor.sources.rss import FeedCursor

    for bad in ("not json", "[1, 2]", '{"etag": 5, "seen": "x"}', "null"):
        assert FeedCursor.load(bad) == FeedCursor()
    assert FeedCursor.load('{"etag": "W/1", "seen": ["a"]}').seen == ("a",)
