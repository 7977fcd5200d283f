"""4chan: catalog and thread parsing, If-Modified-Since, the 1 request/s and 10 s thread rules, attribution."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from config.sources import FourChanSettings
from handlers.fetch import HostLimiter
from handlers.monitor.sources.base import NotSupported
from handlers.monitor.sources.fourchan import (
    ATTRIBUTION,
    FourChanSource,
    catalog_posts,
    parse_target,
    thread_posts,
)
from tests.fakes_sources_a import FakeApi, fixture_json, json_response, make_fetcher

WEB, MEDIA = "https://boards.example", "https://i.example"
LAST_MODIFIED = "Wed, 21 Aug 2019 17:03:22 GMT"


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def source(api: FakeApi, clock: Clock | None = None, **settings) -> FourChanSource:
    fetcher, _ = make_fetcher(api, retries=1)
    cfg = FourChanSettings(base_url="https://a.example", web_url=WEB, media_url=MEDIA, **settings)
    return FourChanSource(cfg, fetcher, clock=clock or Clock())


def test_catalog_posts() -> None:
    posts = catalog_posts(fixture_json("fourchan", "catalog.json"), "po", WEB, MEDIA)
    assert [p.source_id for p in posts] == ["po/570368", "po/570371", "po/576101", "po/576105"]
    op, reply, ru, deleted_file = posts
    assert op.title == "Welcome to /po/!"
    assert op.text == "Origami & papercraft.\n\nAsk questions in relevant threads 'please'."
    assert op.url == f"{WEB}/po/thread/570368#p570368"
    assert op.media == [{"type": "image", "url": f"{MEDIA}/po/1546293948883.png",
                         "filename": "yotsuba_folding.png", "md5": "uZUeZeB14FVR+Mc2ScHvVA=="}]
    assert op.engagement == {"replies": 2, "images": 2}
    assert op.created_at == datetime.fromtimestamp(1546293948, UTC)
    assert reply.reply_to == "po/570368" and reply.thread_id == "po/570368"
    assert reply.url == f"{WEB}/po/thread/570368#p570371"
    assert reply.author.handle == "Anonymous!Ep8pui8Vw2" and reply.urls == ["https://origami.me/diagrams/"]
    assert reply.text.startswith(">>570368\nSee")
    assert ru.title == "Журавлик" and ">greentext" in ru.text and ru.geo == {"country": "UA", "place": "Ukraine"}
    assert deleted_file.media == []  # filedeleted: no link to a file that is gone


def test_thread_posts_quote_replies() -> None:
    posts = thread_posts(fixture_json("fourchan", "thread.json"), "po", WEB, MEDIA)
    assert [p.reply_to for p in posts] == [None, "po/576101", "po/576103"]
    assert posts[1].media[0]["url"] == f"{MEDIA}/po/1566406800456.jpg"


@pytest.mark.parametrize(("handle", "expected"), [
    ("po", ("po", None)), ("/po/", ("po", None)), ("po/thread/576101", ("po", 576101)),
    ("https://boards.4chan.org/po/thread/576101#p576105", ("po", 576101)),
])
def test_targets(handle: str, expected: tuple[str, int | None]) -> None:
    assert parse_target(handle) == expected


async def test_search_scans_catalogs_with_if_modified_since() -> None:
    api = FakeApi()
    api.route("/po/catalog.json",
              json_response(fixture_json("fourchan", "catalog.json"), headers={"Last-Modified": LAST_MODIFIED}),
              httpx.Response(304))
    src = source(api, boards=["po"])
    src.fetcher.configure("4chan", 1000)  # the 1 request/s cap is tested below; do not wait it out here
    page = await src.search(["ransomware"], None)
    assert [p.source_id for p in page.posts] == ["po/576105"]
    assert "If-Modified-Since" not in api.requests[0].headers
    again = await src.search(["ransomware"], page.cursor)
    assert again.posts == [] and again.cursor == page.cursor
    assert api.requests[1].headers["If-Modified-Since"] == LAST_MODIFIED


async def test_search_without_boards_says_so() -> None:
    with pytest.raises(NotSupported, match=r"sources\.fourchan\.boards"):
        await source(FakeApi()).search(["x"], None)


async def test_thread_refresh_waits_ten_seconds_and_rate_is_capped() -> None:
    api = FakeApi()
    api.route("/po/thread/576101.json", json_response(fixture_json("fourchan", "thread.json")))
    clock = Clock()
    src = source(api, clock, rate_per_s=5.0)
    first = await src.account_feed("po/thread/576101", None)
    assert len(first.posts) == 3 and first.cursor == "576105"
    assert src.fetcher.limiter.paused_for("4chan") > 0.9  # next request no sooner than 1 s, despite rate_per_s=5
    clock.now += 5
    early = await src.account_feed("po/thread/576101", "576103")
    assert early.posts == [] and early.cursor == "576103" and len(api.requests) == 1
    clock.now += 6
    src.fetcher.limiter = HostLimiter()  # the test does not wait out the real 1 s spacing
    src.fetcher.configure("4chan", 1000)
    later = await src.account_feed("po/thread/576101", "576103")
    assert [p.source_id for p in later.posts] == ["po/576105"] and len(api.requests) == 2


async def test_gone_thread_is_a_clear_error() -> None:
    from handlers.fetch import FetchError

    api = FakeApi()
    api.route("/po/thread/1.json", httpx.Response(404))
    with pytest.raises(FetchError, match="not found"):
        await source(api).account_feed("po/thread/1", None)


def test_attribution_is_declared() -> None:
    assert FourChanSource.attribution == ATTRIBUTION and "https://www.4chan.org" in ATTRIBUTION
