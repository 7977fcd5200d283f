"""Mastodon source: statuses parsed, min_id cursors per instance and tag, Link paging, token-gated stream."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import httpx
import pytest
from aiohttp import web

from config.sources import MastodonSettings
from handlers.fetch import FetchError, PoliteFetcher
from handlers.lookup.ssrf import SsrfGuard
from handlers.monitor.sources.base import NotSupported
from handlers.monitor.sources.mastodon import MastodonSource, link_header, split_handle, status_to_post
from tests.fakes_sources_a import FakeApi, fixture_bytes, fixture_json, json_response, make_fetcher

INSTANCE = "https://mastodon.test"
TAG_PATH = "/api/v1/timelines/tag/osint"


def settings(**kw: object) -> MastodonSettings:
    return MastodonSettings(base_url=INSTANCE, instances=[INSTANCE], rate_per_s=1000, **kw)


async def public_resolver(host: str, port: int) -> list[str]:
    """The test instances "resolve" to a public address (the requests themselves go to the fake API)."""
    return ["93.184.215.20"]


def source(api: FakeApi, **kw: object) -> MastodonSource:
    fetcher, _ = make_fetcher(api)
    return MastodonSource(settings(**kw), fetcher, guard=SsrfGuard(public_resolver))


def status(i: int) -> dict:
    return {"id": str(i), "created_at": "2026-10-30T10:00:00Z", "content": f"<p>post {i}</p>",
            "account": {"id": "1", "acct": "admin"}, "uri": f"{INSTANCE}/s/{i}"}


def test_status_html_mentions_tags_media_poll_and_cw() -> None:
    post = status_to_post(fixture_json("mastodon", "tag_timeline.json")[1], INSTANCE)
    assert post is not None
    assert post.source_id == "mastodon.test/117100000000000002"
    assert post.text == ("CW: leak details\n@bob look: https://example.com/dump?a=1&b=2 I'm <sure> #OSINT"
                         "\n\nWhich one?\n- real\n- fake")
    assert post.mentions == ["bob@mastodon.test"]
    assert post.hashtags == ["osint"]
    assert post.urls == ["https://example.com/dump?a=1&b=2"]
    assert post.media == [{"type": "image", "url": "https://mastodon.test/system/media/original/a.jpg",
                           "preview": "https://mastodon.test/system/media/small/a.jpg", "alt": "screenshot of a paste"}]
    assert post.author.handle == "admin@mastodon.test"  # local accounts get the instance host
    assert post.engagement == {"replies": 1, "reblogs": 0, "likes": 3}
    assert post.created_at == datetime(2026, 10, 30, 10, 0, 2, tzinfo=UTC)


def test_remote_non_latin_reply() -> None:
    post = status_to_post(fixture_json("mastodon", "tag_timeline.json")[0], INSTANCE)
    assert post is not None
    assert post.text == "تسريب جديد #osint"
    assert post.lang == "ar" and post.author.name == "سامي" and post.author.handle == "sami@other.example"
    assert post.reply_to == "mastodon.test/117100000000000001"


def test_reblog_is_read_as_the_original() -> None:
    original = status(5)
    post = status_to_post({"id": "6", "created_at": "2026-10-30T10:00:00Z", "content": "",
                           "account": {"acct": "booster"}, "reblog": original}, INSTANCE)
    assert post is not None and post.source_id == "mastodon.test/5" and post.text == "post 5"


def test_link_header_and_handles() -> None:
    links = link_header('<https://m.test/api?max_id=1>; rel="next", <https://m.test/api?min_id=9>; rel="prev"')
    assert links == {"next": "https://m.test/api?max_id=1", "prev": "https://m.test/api?min_id=9"}
    assert split_handle("@Gargron@mastodon.social") == "Gargron@mastodon.social"
    assert split_handle("https://infosec.exchange/@alice") == "alice@infosec.exchange"


async def test_search_tag_timeline_sets_min_id_and_skips_malformed() -> None:
    api = FakeApi()
    api.route(TAG_PATH, httpx.Response(200, content=fixture_bytes("mastodon", "tag_timeline.json")))
    masto = source(api)
    page = await masto.search(["#OSINT"], None)
    assert [p.source_id for p in page.posts] == ["mastodon.test/117100000000000002",
                                                  "mastodon.test/117100000000000003"]
    assert json.loads(page.cursor or "") == {f"{INSTANCE}|osint": "117100000000000003"}
    assert "min_id" not in api.requests[0].url.params
    api.route(TAG_PATH, json_response([]))
    again = await masto.search(["osint"], page.cursor)
    assert api.requests[-1].url.params["min_id"] == "117100000000000003"
    assert again.posts == [] and again.cursor == page.cursor


async def test_search_follows_prev_links_to_catch_up() -> None:
    api = FakeApi()
    full = [status(i) for i in range(140, 100, -1)]  # 40 = a full page: there may be more
    prev = f'<{INSTANCE}{TAG_PATH}?limit=40&min_id=140>; rel="prev"'
    api.route(TAG_PATH, json_response(full, headers={"Link": prev}), json_response([status(141)]))
    masto = source(api)
    page = await masto.search(["osint"], json.dumps({f"{INSTANCE}|osint": "100"}))
    assert len(page.posts) == 41
    assert api.requests[1].url.params["min_id"] == "140"
    assert json.loads(page.cursor or "")[f"{INSTANCE}|osint"] == "141"


async def test_search_rejects_non_hashtag_terms() -> None:
    with pytest.raises(NotSupported):
        await source(FakeApi()).search(["two words!"], None)


async def test_one_failing_instance_keeps_its_cursor() -> None:
    api = FakeApi()
    api.route(TAG_PATH, httpx.Response(200, content=fixture_bytes("mastodon", "tag_timeline.json")))
    fetcher, _ = make_fetcher(api)
    masto = MastodonSource(MastodonSettings(instances=[INSTANCE, "https://down.test"], rate_per_s=1000), fetcher)
    cursor = json.dumps({"https://down.test|osint": "55"})

    original = api.__call__

    def router(request: httpx.Request) -> httpx.Response:
        if request.url.host == "down.test":
            api.requests.append(request)
            return httpx.Response(503)
        return original(request)

    masto.fetcher.client = httpx.AsyncClient(transport=httpx.MockTransport(router))
    page = await masto.search(["osint"], cursor)
    state = json.loads(page.cursor or "")
    assert state["https://down.test|osint"] == "55"
    assert state[f"{INSTANCE}|osint"] == "117100000000000003"
    assert len(page.posts) == 2


async def test_account_feed_and_profile() -> None:
    api = FakeApi()
    api.route("/api/v1/accounts/lookup", httpx.Response(200, content=fixture_bytes("mastodon", "account_lookup.json")))
    api.route("/api/v1/accounts/1/statuses",
              httpx.Response(200, content=fixture_bytes("mastodon", "account_statuses.json")))
    masto = source(api)
    page = await masto.account_feed("@admin@mastodon.test", None)
    assert [p.text for p in page.posts] == ["Привет, мир"]
    assert api.calls("/api/v1/accounts/lookup")[0].url.params["acct"] == "admin@mastodon.test"
    assert api.calls("/api/v1/accounts/1/statuses")[0].url.params["exclude_reblogs"] == "true"
    await masto.account_feed("admin@mastodon.test", page.cursor)
    assert len(api.calls("/api/v1/accounts/lookup")) == 1  # the account id is kept in the cursor
    assert api.calls("/api/v1/accounts/1/statuses")[1].url.params["min_id"] == "117100000000000020"
    profile = await masto.profile("admin@mastodon.test")
    assert profile.bio == "Runs this place & more. https://admin.example"
    assert profile.links == ["https://admin.example", "https://blog.example"]
    assert profile.counts == {"followers": 10, "following": 2, "posts": 99}


async def test_unknown_account_is_a_404() -> None:
    api = FakeApi()
    api.route("/api/v1/accounts/lookup", json_response({"error": "Record not found"}, status=404))
    with pytest.raises(FetchError, match="no Mastodon account") as err:
        await source(api).profile("ghost@nowhere.test")
    assert err.value.status == 404


async def test_invalid_json_counts_against_health() -> None:
    api = FakeApi()
    api.route(TAG_PATH, httpx.Response(200, content=b'[{"id": "1", "content": "<p>trunc'))
    masto = source(api)
    with pytest.raises(FetchError):
        await masto.search(["osint"], None)
    assert masto.fetcher.breaker("mastodon").failures == 1


def test_stream_without_token_says_why() -> None:
    with pytest.raises(NotSupported, match="access token"):
        source(FakeApi()).stream(None)


async def test_stream_with_token_reads_sse_and_reconnects() -> None:
    sample = (
        ":)\n\nevent: update\ndata: " + json.dumps(status(7)) + "\n\n"
        "event: delete\ndata: 6\n\n"
        "event: update\ndata: {not json\n\n"
    )
    hits: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        hits.append(request.headers.get("Authorization", ""))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(sample.encode())
        if len(hits) > 1:
            await response.write(("event: update\ndata: " + json.dumps(status(8)) + "\n\n").encode())
        return response  # the server ends the stream: the client must reconnect

    app = web.Application()
    app.router.add_get("/api/v1/streaming/public", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        fetcher = PoliteFetcher(httpx.AsyncClient())
        masto = MastodonSource(MastodonSettings(instances=[f"http://127.0.0.1:{port}"], token="s3cret"), fetcher)
        delays: list[float] = []

        async def fast_sleep(seconds: float) -> None:
            delays.append(seconds)

        masto.sleep = fast_sleep  # type: ignore[assignment]
        got = []
        async with asyncio.timeout(5):
            async for post, _cursor in masto.stream(None):
                got.append(post.text)
                if len(got) == 3:
                    break
        assert got == ["post 7", "post 7", "post 8"]
        assert hits[0] == "Bearer s3cret" and len(delays) >= 1
        assert fetcher.breaker("mastodon.stream").last_error is not None
    finally:
        await runner.cleanup()


async def test_firehose_setting_streams_from_the_streaming_url_into_the_engine(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sqlmodel import select

    from storage.models import StoredPost
    from tests.fakes.monitor import Clock, engine_of, start_monitor_bot

    clock = Clock()
    seen: list[str] = []

    def streamed(i: int, text: str) -> str:
        item = {**status(i), "content": f"<p>{text}</p>", "created_at": clock.now.isoformat()}
        return "event: update\ndata: " + json.dumps(item) + "\n\n"

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(request.headers.get("Authorization", ""))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write((streamed(1, "cat pictures") + streamed(2, "new lockbit leak site")).encode())
        await asyncio.Event().wait()  # an open stream, as a live instance keeps it
        return response

    app = web.Application()
    app.router.add_get("/api/v1/streaming/public", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    masto = MastodonSource(MastodonSettings(instances=[INSTANCE], token="s3cret", firehose=True,
                                            streaming_url=f"http://127.0.0.1:{port}"),
                           PoliteFetcher(httpx.AsyncClient()))
    bot, surface = await start_monitor_bot(tmp_path, clock, masto)  # type: ignore[arg-type]
    try:
        bot.services.settings.sources.mastodon = masto.settings
        monitor = engine_of(bot)
        await bot.run("/watch add lockbit")
        await monitor.polls.rebuild()
        stored: list[str] = []
        for _ in range(500):
            stored = await bot.services.db.run(lambda s: list(s.execute(select(StoredPost.text)).scalars()))
            if stored:
                break
            await asyncio.sleep(0.02)
        assert stored == ["new lockbit leak site"]  # only what a watch matches is kept
        assert seen == ["Bearer s3cret"] and "stream" in monitor.polls.describe()
        await monitor.outbox.drain()
        assert len(surface.delivered) == 1
    finally:
        await bot.stop()
        await masto.fetcher.client.aclose()
        await runner.cleanup()
