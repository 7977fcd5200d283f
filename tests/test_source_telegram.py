"""Telegram public preview: parsing t.me/s pages, paging, search, and the no-preview error."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from config.sources import TelegramChannelSettings
from handlers.fetch import FetchError
from handlers.monitor.sources.base import NotSupported
from handlers.monitor.sources.telegram_preview import (
    NoPublicPreview,
    TelegramPreviewSource,
    channel_name,
    parse_count,
    parse_preview,
)
from tests.fakes_sources_a import FakeApi, make_fetcher

FIX = Path(__file__).parent / "fixtures" / "sources" / "telegram"
BASE = "https://t.example"


def html(name: str, status: int = 200) -> httpx.Response:
    return httpx.Response(status, text=(FIX / name).read_text(encoding="utf-8"),
                          headers={"content-type": "text/html; charset=utf-8"})


def source(api: FakeApi, **settings) -> TelegramPreviewSource:
    fetcher, _ = make_fetcher(api, retries=1)
    return TelegramPreviewSource(TelegramChannelSettings(base_url=BASE, rate_per_s=1000, **settings), fetcher)


def test_parses_messages_text_views_links_media() -> None:
    page = parse_preview((FIX / "channel_page.html").read_text(), "examplenews", BASE)
    assert [p.source_id for p in page.posts] == ["examplenews/1001", "examplenews/1002", "examplenews/1003"]
    assert page.before == 1001
    first, second, third = page.posts
    assert first.text == "Port strike & road closures tonight.\nDetails: example.org/strike #strike"
    assert first.created_at == datetime(2026, 10, 30, 18, 5, 11, tzinfo=UTC)
    assert first.engagement == {"views": 1200}
    assert first.urls == ["https://example.org/strike?a=1&b=2"]
    assert first.hashtags == ["strike"]
    assert first.media == [{"type": "photo", "url": "https://cdn4.telesco.pe/file/photo1001.jpg"}]
    assert first.author.name == "Example News & Views" and first.author.handle == "examplenews"
    assert first.url == f"{BASE}/examplenews/1001"
    # non-Latin text, a reply, a forward, a signature, an offset converted to UTC
    assert second.text.startswith("Забастовка в порту продолжается")
    assert "порт" in second.hashtags and "reporter_ua" in second.mentions
    assert second.reply_to == "examplenews/1001"
    assert second.raw and second.raw["forwarded_from"] == "Другой канал" and second.raw["signed_by"] == "Olena"
    assert second.created_at == datetime(2026, 10, 31, 5, 30, tzinfo=UTC)
    assert second.engagement == {"views": 3_400_000}
    # media-only message
    assert third.text == "" and third.media == [{"type": "video", "url": "https://cdn4.telesco.pe/file/video1003.mp4"}]


def test_count_suffixes() -> None:
    assert parse_count("1.2K") == 1200
    assert parse_count("3M") == 3_000_000
    assert parse_count("987") == 987
    assert parse_count("views") is None
    assert parse_count(None) is None


@pytest.mark.parametrize("handle", ["@examplenews", "examplenews", "https://t.me/examplenews",
                                    "t.me/s/examplenews", "https://t.me/s/examplenews?before=5"])
def test_channel_names(handle: str) -> None:
    assert channel_name(handle) == "examplenews"


def test_bad_channel_name() -> None:
    with pytest.raises(ValueError, match="not a Telegram channel"):
        channel_name("a b")


async def test_account_feed_pages_back_to_the_cursor() -> None:
    api = FakeApi()

    def answer(request: httpx.Request) -> httpx.Response:
        return html("older_page.html") if request.url.params.get("before") == "1001" else html("channel_page.html")

    api.route("/s/examplenews", answer)
    src = source(api)
    page = await src.account_feed("@examplenews", "998")
    assert [p.source_id for p in page.posts] == ["examplenews/999", "examplenews/1000", "examplenews/1001",
                                                 "examplenews/1002", "examplenews/1003"]
    assert page.cursor == "1003"
    assert page.posts[1].text == "Older message 1000 <b>not bold</b>"  # entities decoded once, not parsed as HTML
    again = await src.account_feed("examplenews", page.cursor)
    assert again.posts == [] and again.cursor == "1003"


async def test_first_poll_reads_one_page() -> None:
    api = FakeApi()
    api.route("/s/examplenews", html("channel_page.html"))
    page = await source(api).account_feed("examplenews", None)
    assert len(page.posts) == 3 and page.cursor == "1003"
    assert len(api.requests) == 1


async def test_redirect_means_no_public_preview() -> None:
    api = FakeApi()
    api.route("/s/privatechan", httpx.Response(302, headers={"Location": "https://t.example/privatechan"}))
    with pytest.raises(NoPublicPreview, match="no public preview"):
        await source(api).account_feed("privatechan", None)


async def test_page_without_history_means_no_public_preview() -> None:
    api = FakeApi()
    api.route("/s/someuser", html("not_a_channel.html"))
    with pytest.raises(NoPublicPreview):
        await source(api).account_feed("someuser", None)


async def test_search_uses_q_per_channel_and_keeps_per_channel_cursor() -> None:
    api = FakeApi()

    def answer(request: httpx.Request) -> httpx.Response:
        return html("channel_page.html") if request.url.params.get("q") == "strike" else html("empty_search.html")

    api.route("/s/examplenews", answer)
    src = source(api, channels=["examplenews"])
    page = await src.search(["strike", "nothing"], None)
    assert {r.url.params.get("q") for r in api.requests} == {"strike", "nothing"}
    assert len(page.posts) == 3
    again = await src.search(["strike"], page.cursor)
    assert again.posts == []


async def test_search_without_channels_says_so() -> None:
    with pytest.raises(NotSupported, match=r"sources\.telegram\.channels"):
        await source(FakeApi()).search(["x"], None)


async def test_profile_from_header() -> None:
    api = FakeApi()
    api.route("/s/examplenews", html("channel_page.html"))
    profile = await source(api).profile("examplenews")
    assert profile.author.name == "Example News & Views"
    assert profile.counts == {"subscribers": 12500, "photos": 3100, "links": 204}
    assert profile.links == ["https://example.org/contact"]


async def test_server_errors_raise_fetch_error_then_recover() -> None:
    api = FakeApi()
    api.route("/s/examplenews", httpx.Response(500))
    src = source(api)
    with pytest.raises(FetchError):  # retries=1: both attempts fail; the caller keeps its cursor
        await src.account_feed("examplenews", "1001")
    api.route("/s/examplenews", httpx.Response(500), html("channel_page.html"))
    page = await src.account_feed("examplenews", "1001")  # one 500, then the retry succeeds
    assert [p.source_id for p in page.posts] == ["examplenews/1002", "examplenews/1003"]


async def test_a_foreign_cursor_starts_afresh_instead_of_crashing() -> None:
    api = FakeApi()
    api.route("/s/examplenews", html("channel_page.html"))
    page = await source(api, channels=["examplenews"]).search(["strike"], "not json")
    assert len(page.posts) == 3
