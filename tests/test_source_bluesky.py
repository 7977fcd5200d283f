"""Bluesky source: AppView feeds and profiles, searchPosts behind an app password, facets parsed."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from config.sources import BlueskySettings
from handlers.fetch import FetchError
from handlers.monitor.sources.base import NeedsKey
from handlers.monitor.sources.bluesky import BlueskySource, event_to_post, normalise_actor, post_view_to_post
from tests.fakes_sources_a import FakeApi, fixture_bytes, fixture_json, json_response, make_fetcher

FEED = "/xrpc/app.bsky.feed.getAuthorFeed"
SEARCH = "/xrpc/app.bsky.feed.searchPosts"
SESSION = "/xrpc/com.atproto.server.createSession"


def source(api: FakeApi, **kw: object) -> BlueskySource:
    fetcher, _ = make_fetcher(api)
    settings = BlueskySettings(base_url="https://appview.test", pds_url="https://pds.test", rate_per_s=1000, **kw)
    return BlueskySource(settings, fetcher)


def feed_views() -> list[dict]:
    return [item["post"] for item in fixture_json("bluesky", "getAuthorFeed.json")["feed"]]


def test_post_view_facets_use_utf8_byte_offsets() -> None:
    post = post_view_to_post(feed_views()[0])
    assert post is not None
    assert post.source_id == "at://did:plc:alice111/app.bsky.feed.post/3mabc000003"
    assert post.url == "https://bsky.app/profile/did:plc:alice111/post/3mabc000003"
    assert post.mentions == ["bob.test"]
    assert post.hashtags == ["OSINT"]
    assert post.urls == ["https://exa.mple/x/full-path"]  # the shortened display URL is not trusted
    assert post.lang == "uk" and post.author.handle == "alice.bsky.social" and post.author.name == "Alice 🦋"
    assert post.media == [{"type": "image", "alt": "a map",
                           "url": "https://cdn.bsky.app/img/feed_fullsize/plain/did:plc:alice111/bafkreiimg1@jpeg"}]
    assert post.engagement == {"likes": 5, "reposts": 2, "replies": 1, "quotes": 0}


def test_reply_with_bad_date_falls_back_to_indexed_at_and_keeps_text_verbatim() -> None:
    post = post_view_to_post(feed_views()[2])
    assert post is not None
    assert post.created_at == datetime(2026, 10, 30, 9, 58, tzinfo=UTC)
    assert post.text == "replying &amp; quoting"  # Bluesky text is plain: nothing to decode
    assert post.reply_to == "at://did:plc:par/app.bsky.feed.post/3par"
    assert post.thread_id == "at://did:plc:root/app.bsky.feed.post/3root"


def test_actor_forms() -> None:
    assert normalise_actor("@alice.bsky.social") == "alice.bsky.social"
    assert normalise_actor("https://bsky.app/profile/did:plc:abc") == "did:plc:abc"


async def test_author_feed_skips_reposts_and_malformed_and_sets_cursor() -> None:
    api = FakeApi()
    api.route(FEED, httpx.Response(200, content=fixture_bytes("bluesky", "getAuthorFeed.json")))
    bsky = source(api)
    page = await bsky.account_feed("alice.bsky.social", None)
    assert [p.source_id.rsplit("/", 1)[1] for p in page.posts] == ["3mabc000001", "3mabc000003"]
    assert page.cursor == "2026-10-30T10:00:04.000Z"
    assert api.requests[0].url.params["filter"] == "posts_with_replies"
    again = await bsky.account_feed("alice.bsky.social", page.cursor)
    assert again.posts == [] and again.cursor == page.cursor
    assert len(api.requests) == 2  # the first page already reached known posts: no further paging


async def test_profile() -> None:
    api = FakeApi()
    profile_json = fixture_bytes("bluesky", "getProfile.json")
    api.route("/xrpc/app.bsky.actor.getProfile", httpx.Response(200, content=profile_json))
    profile = await source(api).profile("@alice.bsky.social")
    assert profile.counts == {"followers": 120, "following": 80, "posts": 3400}
    assert profile.links == ["https://alice.example"] and profile.author.id == "did:plc:alice111"
    assert api.requests[0].url.params["actor"] == "alice.bsky.social"


async def test_search_needs_an_app_password() -> None:
    api = FakeApi()
    bsky = source(api)
    with pytest.raises(NeedsKey, match="app password"):
        await bsky.search(["leak"], None)
    assert api.requests == [] and bsky.configured()


async def test_search_logs_in_once_and_renews_an_expired_session() -> None:
    api = FakeApi()
    api.route(SESSION, json_response({"accessJwt": "jwt-1", "did": "did:plc:me"}),
              json_response({"accessJwt": "jwt-2", "did": "did:plc:me"}))
    api.route(SEARCH, httpx.Response(200, content=fixture_bytes("bluesky", "searchPosts.json")),
              json_response({"error": "ExpiredToken"}, status=400),
              httpx.Response(200, content=fixture_bytes("bluesky", "searchPosts.json")))
    bsky = source(api, handle="me.test", app_password="abcd-efgh-ijkl-mnop")
    page = await bsky.search(["leak"], None)
    assert [p.text for p in page.posts] == ["new leak of customer data"]
    assert page.cursor == "2026-10-30T12:00:01.000Z"
    assert api.calls(SEARCH)[0].headers["Authorization"] == "Bearer jwt-1"
    assert json.loads(api.calls(SESSION)[0].content) == {"identifier": "me.test", "password": "abcd-efgh-ijkl-mnop"}
    await bsky.search(["leak"], "2026-10-30T11:00:00.000Z")
    assert len(api.calls(SESSION)) == 2
    assert api.calls(SEARCH)[-1].headers["Authorization"] == "Bearer jwt-2"
    assert api.calls(SEARCH)[-1].url.params["since"] == "2026-10-30T11:00:00.000Z"


async def test_refused_login_is_reported_as_needing_a_key() -> None:
    api = FakeApi()
    api.route(SESSION, json_response({"error": "AuthenticationRequired"}, status=401))
    bsky = source(api, handle="me.test", app_password="wrong")
    with pytest.raises(NeedsKey, match="refused"):
        await bsky.search(["leak"], None)
    assert bsky.fetcher.breaker("bluesky").last_error == "login refused"


async def test_wrong_shape_counts_against_health() -> None:
    api = FakeApi()
    api.route(FEED, json_response({"feed": "nope"}))
    bsky = source(api)
    with pytest.raises(FetchError):
        await bsky.account_feed("alice.bsky.social", "2026-10-30T10:00:00Z")
    assert bsky.fetcher.breaker("bluesky").failures == 1


def test_jetstream_events_to_posts() -> None:
    lines = (fixture_bytes("bluesky", "jetstream_events.jsonl").decode().splitlines())
    first = event_to_post(json.loads(lines[0]))
    assert first.author.id == "did:plc:q235v55g5unth4zjjdpacfdr" and first.author.handle is None
    tagged = event_to_post(json.loads(lines[4]))
    assert tagged.hashtags == ["утечка"] and tagged.lang == "ru" and tagged.text == "#утечка данных 😂"
    linked = event_to_post(json.loads(lines[7]))
    assert linked.urls == ["https://www.youtube.com/watch?v=V5lDo-jw8mA"]
    undated = event_to_post(json.loads(lines[8]))
    assert undated.created_at == datetime.fromtimestamp(1793361600.000009, UTC)
