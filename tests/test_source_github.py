"""GitHub: issue/PR search, public events with ETag and X-Poll-Interval, rate-limit errors."""

from __future__ import annotations

import json

import httpx
import pytest
from pydantic import SecretStr

from config.sources import GitHubSettings
from handlers.fetch import FetchError
from handlers.monitor.sources.github import GitHubSource, parse_event, parse_issue
from handlers.monitor.sources.payload import parse_each
from tests.fakes_sources_a import FakeApi, fixture_json, json_response, make_fetcher

BASE = "https://gh.example"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def source(api: FakeApi, clock: Clock | None = None, **settings) -> GitHubSource:
    fetcher, _ = make_fetcher(api, retries=1)
    return GitHubSource(GitHubSettings(base_url=BASE, rate_per_s=1000, **settings), fetcher, clock=clock or Clock())


def test_parse_issue_and_pull_request() -> None:
    posts = parse_each("github", fixture_json("github", "search_issues.json")["items"], parse_issue)
    assert [p.source_id for p in posts] == ["issue:2001", "issue:2002"]
    issue, pull = posts
    assert issue.title == "Leaked token in CI logs & how to rotate"
    assert issue.urls == ["https://ci.example/build/9"] and issue.mentions == ["maintainer"]
    assert issue.thread_id == "acme/widget#42" and issue.author.handle == "octocat"
    assert issue.engagement == {"comments": 3, "reactions": 5}
    assert issue.raw and issue.raw["kind"] == "issue" and issue.raw["labels"] == ["security"]
    assert pull.raw and pull.raw["kind"] == "pull request" and pull.title == "Исправление утечки" and pull.text == ""


def test_parse_events() -> None:
    posts = parse_each("github", fixture_json("github", "events_public.json"), parse_event)
    assert len(posts) == 4  # the event with a non-numeric id is skipped
    push, issue, comment, star = posts
    assert push.text.splitlines() == ["pushed 2 commit(s) to octocat/tools (main)", "Remove leaked key", "Bump deps"]
    assert push.url == "https://github.com/octocat/tools"
    assert issue.text.startswith("closed issue #29: Publish version 0.7")  # null pull_request URLs = an issue
    assert comment.text == "commented on #15 (Auth schemes): Three ways: token, password & none"
    assert comment.url.endswith("#issuecomment-5924198")
    assert star.text == "starred torvalds/linux"


async def test_search_adds_created_qualifier_and_headers() -> None:
    api = FakeApi()
    api.route("/search/issues", json_response(fixture_json("github", "search_issues.json")))
    src = source(api, token=SecretStr("ghp_secret"))
    page = await src.search(["leaked token"], "2026-10-31T09:30:00+00:00")
    request = api.requests[0]
    assert request.url.params["q"] == '"leaked token" created:>2026-10-31T09:30:00Z'
    assert request.url.params["sort"] == "created"
    assert request.headers["Authorization"] == "Bearer ghp_secret"
    assert request.headers["Accept"] == "application/vnd.github+json"
    assert [p.source_id for p in page.posts] == ["issue:2002"]
    assert page.cursor == "2026-10-31T10:30:00+00:00"


async def test_events_use_etag_and_poll_interval() -> None:
    api = FakeApi()
    api.route("/users/octocat/events/public",
              json_response(fixture_json("github", "events_public.json"),
                            headers={"ETag": 'W/"abc"', "X-Poll-Interval": "60"}),
              httpx.Response(304, headers={"ETag": 'W/"abc"', "X-Poll-Interval": "60"}))
    clock = Clock()
    src = source(api, clock)
    first = await src.account_feed("octocat", None)
    assert len(first.posts) == 4
    state = json.loads(first.cursor or "{}")
    assert state == {"etag": 'W/"abc"', "last_id": "12155213000"}
    # within X-Poll-Interval: no request at all
    clock.now += 30
    early = await src.account_feed("octocat", first.cursor)
    assert early.posts == [] and early.cursor == first.cursor and len(api.requests) == 1
    # after it: a conditional request; 304 keeps the cursor
    clock.now += 31
    unchanged = await src.account_feed("octocat", first.cursor)
    assert unchanged.posts == [] and unchanged.cursor == first.cursor
    assert api.requests[-1].headers["If-None-Match"] == 'W/"abc"'


async def test_rate_limit_403_is_an_error_that_pauses_the_source() -> None:
    api = FakeApi()
    limited = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "9999999999"}
    api.route("/search/issues",
              json_response({"message": "API Rate Limit Exceeded for 1.2.3.4"}, status=403, headers=limited))
    src = source(api)
    with pytest.raises(FetchError, match="403"):
        await src.search(["x"], None)
    assert src.fetcher.limiter.paused_for("github") > 3600
    assert src.fetcher.breaker("github").failures == 1


async def test_profile() -> None:
    api = FakeApi()
    api.route("/users/octocat", json_response(fixture_json("github", "user.json")))
    profile = await source(api).profile("@octocat")
    assert profile.author.name == "The Octocat" and profile.counts["followers"] == 20000
    assert profile.links == ["https://github.blog", "https://github.com/octocat"]


async def test_invalid_json_keeps_cursor_for_caller() -> None:
    api = FakeApi()
    api.route("/users/octocat/events/public", httpx.Response(200, content=b"[{\"id\": "))
    with pytest.raises(FetchError, match="not valid JSON"):
        await source(api).account_feed("octocat", '{"etag": null, "last_id": "5"}')
