"""Reddit: needs-a-key without credentials, OAuth client credentials, listings, deleted content dropped."""

from __future__ import annotations

import base64

import httpx
import pytest
from pydantic import SecretStr

from config.sources import RedditSettings
from handlers.monitor.sources.base import NeedsKey
from handlers.monitor.sources.reddit import RedditSource, feed_path, parse_listing
from tests.fakes_sources_a import FakeApi, fixture_json, json_response, make_fetcher


def source(api: FakeApi, *, keys: bool = True) -> RedditSource:
    fetcher, _ = make_fetcher(api, retries=1)
    creds = {"client_id": SecretStr("cid"), "client_secret": SecretStr("csecret")} if keys else {}
    cfg = RedditSettings(base_url="https://oauth.example", auth_url="https://auth.example/api/v1/access_token",
                         rate_per_s=1000, **creds)
    return RedditSource(cfg, fetcher)


def token(request: httpx.Request) -> httpx.Response:
    return json_response({"access_token": f"tok{len(request.headers)}", "token_type": "bearer", "expires_in": 86400})


def test_parse_listing() -> None:
    posts, after = parse_listing(fixture_json("reddit", "search_new.json"))
    assert after == "t3_kzj4ig"
    assert [p.source_id for p in posts] == ["t3_1o1h8pq", "t3_kzj68x", "t1_d7ltv00"]  # deleted/removed dropped
    gallery, ru, comment = posts
    assert gallery.title == "Ransomware gallery & notes"
    assert gallery.url == "https://www.reddit.com/r/netsec/comments/1o1h8pq/ransomware_gallery/"
    assert gallery.urls == ["https://www.reddit.com/gallery/1o1h8pq", "https://example.org/ioc"]
    assert gallery.media[0] == {"type": "image", "id": "4ib1y53ccxtf1", "caption": None,
                                "url": "https://i.redd.it/4ib1y53ccxtf1.png"}
    assert gallery.media[1]["url"] is None and gallery.media[1]["caption"] == "A JPG image"
    assert gallery.engagement == {"score": 12, "num_comments": 4}
    assert ru.title == "Порт закрыт" and ru.urls == ["https://youtu.be/IZkPn9kjRFE"]
    assert comment.text == "Comment mentioning u/someone > quote"
    assert comment.reply_to == "t3_1o1h8pq" and comment.thread_id == "t3_1o1h8pq"


@pytest.mark.parametrize(("handle", "path"), [
    ("r/netsec", "/r/netsec/new"), ("u/spez", "/user/spez/submitted"), ("/u/spez", "/user/spez/submitted"),
    ("spez", "/user/spez/submitted"), ("https://www.reddit.com/r/netsec/", "/r/netsec/new"),
])
def test_feed_paths(handle: str, path: str) -> None:
    assert feed_path(handle) == path


async def test_without_keys_every_call_needs_a_key() -> None:
    api = FakeApi()
    src = source(api, keys=False)
    assert not src.configured() and src.needs_key
    for call in (src.search(["x"], None), src.account_feed("r/netsec", None), src.profile("spez")):
        with pytest.raises(NeedsKey, match="client_id"):
            await call
    assert api.requests == []  # never silently empty, never a keyless request


async def test_oauth_then_search_and_cursor() -> None:
    api = FakeApi()
    api.route("/api/v1/access_token", token)
    api.route("/search", json_response(fixture_json("reddit", "search_new.json")))
    src = source(api)
    assert src.configured()
    page = await src.search(["ransomware", "port strike"], None)
    auth_request, search_request = api.requests
    assert auth_request.method == "POST"
    assert auth_request.headers["Authorization"] == "Basic " + base64.b64encode(b"cid:csecret").decode()
    assert b"grant_type=client_credentials" in auth_request.content
    assert search_request.headers["Authorization"].startswith("Bearer tok")
    assert search_request.url.params["q"] == 'ransomware OR "port strike"'
    assert search_request.url.params["sort"] == "new"
    assert [p.source_id for p in page.posts] == ["t1_d7ltv00", "t3_kzj68x", "t3_1o1h8pq"]
    again = await src.search(["ransomware"], page.cursor)
    assert again.posts == [] and again.cursor == page.cursor
    assert len(api.calls("/api/v1/access_token")) == 1  # the token is reused


async def test_expired_token_is_renewed_once() -> None:
    api = FakeApi()
    api.route("/api/v1/access_token", token)
    api.route("/r/netsec/new", httpx.Response(401), json_response(fixture_json("reddit", "search_new.json")))
    page = await source(api).account_feed("r/netsec", None)
    assert len(page.posts) == 3 and len(api.calls("/api/v1/access_token")) == 2


async def test_wrong_credentials_are_reported() -> None:
    from handlers.fetch import FetchError

    api = FakeApi()
    api.route("/api/v1/access_token", json_response({"error": "invalid_client"}, status=401))
    with pytest.raises(FetchError, match="refused the client id"):
        await source(api).search(["x"], None)


async def test_a_token_that_cannot_be_sent_is_a_fetch_error_not_a_crash():
    """A damaged OAuth answer (a token with characters no HTTP header can carry) stops the poll cleanly."""
    import httpx
    import pytest

    from config.sources import RedditSettings
    from handlers.fetch import FetchError, PoliteFetcher
    from handlers.monitor.sources.reddit import RedditSource

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"access_token": "t\U000dd968k", "expires_in": 3600})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        source = RedditSource(RedditSettings(client_id="id", client_secret="secret"), PoliteFetcher(client))
        with pytest.raises(FetchError, match="no usable token"):
            await source.search(["lockbit"], None)
