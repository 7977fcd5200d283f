"""Lemmy API v3: search, community paging with page_cursor, user feeds, faults."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from config.sources import LemmySettings
from handlers.fetch import FetchError
from handlers.monitor.sources.lemmy import LemmySource, feed_target, parse_posts
from tests.fakes_sources_a import FakeApi, fixture_json, json_response, make_fetcher

BASE = "https://lemmy.example"


def source(api: FakeApi) -> LemmySource:
    fetcher, _ = make_fetcher(api, retries=1)
    return LemmySource(LemmySettings(base_url=BASE, rate_per_s=1000), fetcher)


def test_parse_post_views() -> None:
    posts = parse_posts(fixture_json("lemmy", "search_posts.json"))
    assert [p.source_id for p in posts] == ["9103", "9101"]  # deleted and malformed ones dropped
    first, second = posts
    assert first.title == "Ransomware gang & the port strike"
    assert "#ransomware" in first.text and first.hashtags == ["ransomware"]
    assert first.urls[0] == "https://news.example/ransom" and "https://example.org/report" in first.urls
    assert first.mentions == ["analyst@infosec.pub"]
    assert first.author.handle == "alice@lemmy.example" and first.author.name == "Alice"
    assert first.url == "https://lemmy.example/post/9103"
    assert first.engagement == {"score": 48, "upvotes": 50, "downvotes": 2, "comments": 12}
    assert first.created_at == datetime(2026, 10, 31, 8, 15, 2, 123456, tzinfo=UTC)
    assert second.title == "Забастовка в порту" and second.text == ""
    assert second.created_at.tzinfo is not None  # naive timestamps from old Lemmy are UTC
    assert second.author.handle == "boris@feddit.example"


@pytest.mark.parametrize(("handle", "expected"), [
    ("!security@lemmy.example", ("community", "security@lemmy.example")),
    ("c/security", ("community", "security")),
    ("@alice@lemmy.example", ("user", "alice@lemmy.example")),
    ("u/alice", ("user", "alice")),
])
def test_feed_targets(handle: str, expected: tuple[str, str]) -> None:
    assert feed_target(handle) == expected


async def test_search_sends_v3_params_and_moves_cursor() -> None:
    api = FakeApi()
    api.route("/api/v3/search", json_response(fixture_json("lemmy", "search_posts.json")))
    src = source(api)
    page = await src.search(["ransomware"], None)
    params = api.requests[0].url.params
    sent = (params["q"], params["type_"], params["sort"], params["listing_type"])
    assert sent == ("ransomware", "Posts", "New", "All")
    assert [p.source_id for p in page.posts] == ["9101", "9103"] and page.cursor == "9103"
    again = await src.search(["ransomware"], page.cursor)
    assert again.posts == [] and again.cursor == "9103"


async def test_community_feed_follows_page_cursor_until_the_cursor() -> None:
    api = FakeApi()

    def answer(request: httpx.Request) -> httpx.Response:
        name = "community_page2.json" if request.url.params.get("page_cursor") == "Pa304" else "community_page1.json"
        return json_response(fixture_json("lemmy", name))

    api.route("/api/v3/post/list", answer)
    page = await source(api).account_feed("!security@lemmy.example", "302")
    assert [p.source_id for p in page.posts] == ["303", "305"]  # 304 was removed by a moderator
    assert page.cursor == "305"
    assert [r.url.params.get("page_cursor") for r in api.requests] == [None, "Pa304"]
    assert api.requests[0].url.params["community_name"] == "security@lemmy.example"


async def test_user_feed_and_profile() -> None:
    api = FakeApi()
    api.route("/api/v3/user", json_response(fixture_json("lemmy", "user.json")))
    src = source(api)
    page = await src.account_feed("@alice@lemmy.example", None)
    assert [p.source_id for p in page.posts] == ["500"]
    profile = await src.profile("@alice@lemmy.example")
    assert profile.counts == {"post_count": 17, "comment_count": 230}
    assert profile.links == ["https://alice.example"]


async def test_truncated_json_is_a_fetch_error_and_counts_against_health() -> None:
    api = FakeApi()
    api.route("/api/v3/search", httpx.Response(200, content=b'{"posts": [{"post": {"id": 1'))
    src = source(api)
    with pytest.raises(FetchError, match="not valid JSON"):
        await src.search(["x"], "5")
    assert src.fetcher.breaker("lemmy").failures == 1


async def test_429_with_retry_after_is_retried() -> None:
    api = FakeApi()
    api.route("/api/v3/search", httpx.Response(429, headers={"Retry-After": "0"}),
              json_response(fixture_json("lemmy", "search_posts.json")))
    page = await source(api).search(["x"], None)
    assert len(api.requests) == 2 and len(page.posts) == 2


async def test_timeouts_raise_fetch_error() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    api = FakeApi()
    api.route("/api/v3/search", timeout)
    with pytest.raises(FetchError, match="timed out"):
        await source(api).search(["x"], "5")
