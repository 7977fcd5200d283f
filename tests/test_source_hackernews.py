"""Hacker News source: Algolia hits and Firebase items parsed, cursors advanced, faults survived."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from config.sources import HackerNewsSettings
from handlers.fetch import FetchError
from handlers.monitor.sources.hackernews import HackerNewsSource, hit_to_post, item_to_post
from tests.fakes_sources_a import FakeApi, fixture_bytes, fixture_json, json_response, make_fetcher

SETTINGS = HackerNewsSettings(base_url="http://hn.test/api/v1", firebase_url="http://fb.test/v0", rate_per_s=1000)


def source(api: FakeApi) -> tuple[HackerNewsSource, object]:
    fetcher, sleeper = make_fetcher(api)
    return HackerNewsSource(SETTINGS, fetcher), sleeper


def test_story_hit_is_normalised() -> None:
    post = hit_to_post(fixture_json("hackernews", "search_page0.json")["hits"][0])
    assert post is not None
    assert post.source_id == "41000001"
    assert post.title == 'Show HN: Tracking "leaks" with OSINT'
    assert post.text == "We built a tool & it works.\n\nSee https://example.org/docs"
    assert post.urls == ["https://example.org/leaks", "https://example.org/docs"]
    assert post.created_at == datetime(2026, 10, 30, 12, 0, tzinfo=UTC)
    assert post.author.handle == "alice"
    assert post.url == "https://news.ycombinator.com/item?id=41000001"
    assert post.engagement == {"points": 42, "comments": 3}
    assert "_highlightResult" not in (post.raw or {})


def test_comment_hit_keeps_thread_and_non_latin_text() -> None:
    post = hit_to_post(fixture_json("hackernews", "search_page0.json")["hits"][1])
    assert post is not None
    assert post.text == "情報漏洩の追跡は難しい > 本当に"
    assert post.title is None
    assert (post.reply_to, post.thread_id) == ("41000001", "41000001")


def test_deleted_hit_is_dropped_and_iso_date_used_when_epoch_missing() -> None:
    hits = fixture_json("hackernews", "search_page0.json")["hits"]
    assert hit_to_post(hits[2]) is None
    post = hit_to_post(hits[4])
    assert post is not None and post.created_at == datetime(2026, 10, 30, 12, 10, tzinfo=UTC)
    assert post.urls == [] and post.text == ""


def test_firebase_items_deleted_and_dead_are_skipped() -> None:
    assert item_to_post(fixture_json("hackernews", "item_41000009.json")) is None
    assert item_to_post(fixture_json("hackernews", "item_41000008.json")) is None
    assert item_to_post(None) is None
    post = item_to_post(fixture_json("hackernews", "item_41000010.json"))
    assert post is not None
    assert post.text == "Thanks 'all' — more at alice.example/post"
    assert post.urls == ["https://alice.example/post"]
    assert post.reply_to == "41000001"


async def test_search_pages_through_and_advances_cursor_skipping_malformed_hits() -> None:
    api = FakeApi()
    api.route("/api/v1/search_by_date",
              httpx.Response(200, content=fixture_bytes("hackernews", "search_page0.json")),
              httpx.Response(200, content=fixture_bytes("hackernews", "search_page1.json")))
    hn, _ = source(api)
    page = await hn.search(["leaks"], "1793350000")
    ids = [p.source_id for p in page.posts]
    assert ids == ["40999990", "41000001", "41000002", "41000005"]  # oldest first, deleted + malformed skipped
    assert page.cursor == str(int(datetime(2026, 10, 30, 12, 10, tzinfo=UTC).timestamp()))
    first = api.requests[0].url.params
    assert first["numericFilters"] == "created_at_i>1793350000"
    assert first["query"] == "leaks" and first["page"] == "0"
    assert api.requests[1].url.params["page"] == "1"


async def test_first_search_without_cursor_reads_one_page() -> None:
    api = FakeApi()
    api.route("/api/v1/search_by_date", httpx.Response(200, content=fixture_bytes("hackernews", "search_page0.json")))
    hn, _ = source(api)
    page = await hn.search(["leaks"], None)
    assert len(api.requests) == 1 and "numericFilters" not in api.requests[0].url.params
    assert page.cursor is not None and int(page.cursor) > 0


async def test_account_feed_reads_new_submissions_only() -> None:
    api = FakeApi()
    api.route("/v0/user/alice.json", httpx.Response(200, content=fixture_bytes("hackernews", "user_alice.json")))
    for i in (41000007, 41000008, 41000009, 41000010):
        api.route(f"/v0/item/{i}.json", httpx.Response(200, content=fixture_bytes("hackernews", f"item_{i}.json")))
    hn, _ = source(api)
    page = await hn.account_feed("alice", "41000006")
    assert [p.source_id for p in page.posts] == ["41000007", "41000010"]
    assert page.posts[0].title == "Ask HN: Best Cyrillic OCR? (Кириллица)"
    assert page.cursor == "41000010"
    again = await hn.account_feed("alice", page.cursor)
    assert again.posts == [] and again.cursor == "41000010"


async def test_account_feed_keeps_cursor_below_an_item_that_failed() -> None:
    api = FakeApi()
    api.route("/v0/user/alice.json", httpx.Response(200, content=fixture_bytes("hackernews", "user_alice.json")))
    api.route("/v0/item/41000007.json", httpx.Response(200, content=fixture_bytes("hackernews", "item_41000007.json")))
    api.route("/v0/item/41000008.json", httpx.Response(500))
    hn, _ = source(api)
    page = await hn.account_feed("alice", "41000006")
    assert page.cursor == "41000007"  # 41000008 failed: it and newer ones are fetched again next time


async def test_profile_and_unknown_user() -> None:
    api = FakeApi()
    api.route("/v0/user/alice.json", httpx.Response(200, content=fixture_bytes("hackernews", "user_alice.json")))
    api.route("/v0/user/nobody.json", json_response(None))
    hn, _ = source(api)
    profile = await hn.profile("alice")
    assert profile.counts == {"karma": 1234, "submitted": 4}
    assert profile.bio == "Security researcher. Blog: https://alice.example\n\nPing me & say hi."
    assert profile.links == ["https://alice.example"]
    with pytest.raises(FetchError) as err:
        await hn.profile("nobody")
    assert err.value.status == 404


@pytest.mark.parametrize(
    "responses",
    [
        [httpx.Response(500)] * 3,
        [httpx.Response(200, content=b'{"hits": [{"objectID": "1", "auth')],  # truncated
        [httpx.Response(200, content=b"<html>oops</html>")],  # invalid JSON
        [httpx.Response(200, content=b'{"message": "no hits key"}')],
    ],
    ids=["500s", "truncated", "invalid", "wrong-shape"],
)
async def test_faults_raise_fetch_error_and_mark_health(responses: list[httpx.Response]) -> None:
    api = FakeApi()
    api.route("/api/v1/search_by_date", *responses)
    hn, _ = source(api)
    with pytest.raises(FetchError):
        await hn.search(["x"], "100")
    # no page means the caller keeps its old cursor ("100"); the source's health shows the failure
    breaker = hn.fetcher.breaker("hackernews")
    assert breaker.failures >= 1 and breaker.last_error


async def test_timeouts_are_retried_with_backoff_then_recover() -> None:
    api = FakeApi()

    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    api.route("/api/v1/search_by_date", timeout, timeout,
              httpx.Response(200, content=fixture_bytes("hackernews", "search_page1.json")))
    hn, sleeper = source(api)
    page = await hn.search(["x"], None)
    assert [p.source_id for p in page.posts] == ["40999990"]
    assert len(sleeper.delays) == 2 and sleeper.delays[1] > sleeper.delays[0] * 0.49
    assert hn.fetcher.breaker("hackernews").failures == 0


async def test_429_with_long_retry_after_pauses_the_source() -> None:
    api = FakeApi()
    api.route("/api/v1/search_by_date", httpx.Response(429, headers={"Retry-After": "900"}))
    hn, _ = source(api)
    with pytest.raises(FetchError, match="rate limited"):
        await hn.search(["x"], "5")
    assert hn.fetcher.limiter.paused_for("hackernews") > 800
    assert hn.fetcher.breaker("hackernews").last_error == "HTTP 429"
