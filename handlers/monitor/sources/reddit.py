"""Reddit through OAuth (client credentials): search, subreddit and user posts. Without keys: "needs a key"."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from config.sources import RedditSettings
from handlers.fetch import FetchError, PoliteFetcher
from handlers.monitor.post import Author, Post
from handlers.monitor.sources.base import NeedsKey, Page, Profile, Source
from handlers.monitor.sources.html_text import plain_text
from handlers.monitor.sources.payload import check_status, from_epoch, json_body, parse_each

WEB_URL = "https://www.reddit.com"
LIMIT = 100
GONE = frozenset({"[deleted]", "[removed]"})
NEEDS_KEY = (
    "Reddit needs an OAuth app: set sources.reddit.client_id and sources.reddit.client_secret "
    "(a 'script' app from https://www.reddit.com/prefs/apps). Reddit closed its keyless JSON in 2026."
)


def _permalink(kind: str, data: dict[str, Any]) -> str | None:
    """The web link; older comments carry no `permalink`, so it is built from the submission id."""
    if data.get("permalink"):
        return f"{WEB_URL}{data['permalink']}"
    link_id = str(data.get("link_id") or "")
    if kind == "t1" and link_id.startswith("t3_"):
        return f"{WEB_URL}/comments/{link_id[3:]}/_/{data['id']}/"
    return None


def _things(children: list[Any]) -> list[dict[str, Any]]:
    """Listing children with nested comment replies flattened (depth first)."""
    out: list[dict[str, Any]] = []
    stack = list(reversed(_list(children)))
    while stack:
        thing = stack.pop()
        out.append(thing)
        replies = _obj(_obj(thing).get("data")).get("replies")
        stack.extend(reversed(_list(_obj(_obj(replies).get("data")).get("children"))))
    return out


def _obj(value: Any) -> dict[str, Any]:
    """A JSON object, or {} for anything else (a damaged payload)."""
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    """A JSON list, or [] for anything else (a damaged payload)."""
    return value if isinstance(value, list) else []


def parse_thing(thing: dict[str, Any]) -> Post | None:
    """A listing child (t3 submission or t1 comment) → Post; deleted or removed content is dropped."""
    kind, data = thing["kind"], thing["data"]
    if kind not in ("t3", "t1"):
        return None
    author = data.get("author")
    raw_text = data.get("selftext" if kind == "t3" else "body") or ""
    if author in GONE or raw_text in GONE or data.get("removed_by_category"):
        return None  # Reddit's Data API terms: do not keep content its author deleted
    body = plain_text(raw_text)
    title = plain_text(data.get("title") or "") if kind == "t3" else None
    link = data.get("url_overridden_by_dest") or (data.get("url") if kind == "t3" and not data.get("is_self") else None)
    urls = list(dict.fromkeys(([link] if link else []) + body.urls))
    media: list[dict[str, Any]] = []
    for item in (data.get("gallery_data") or {}).get("items") or []:
        meta = (data.get("media_metadata") or {}).get(item.get("media_id")) or {}
        media.append({"type": "image", "id": item.get("media_id"), "caption": item.get("caption"),
                      "url": ((meta.get("s") or {}).get("u")) or None})
    if data.get("is_video") and data.get("media"):
        video = (data["media"].get("reddit_video") or {}).get("fallback_url")
        if video:
            media.append({"type": "video", "url": video})
    engagement = {k: int(data[k]) for k in ("score", "num_comments") if isinstance(data.get(k), int | float)}
    return Post(
        source="reddit",
        source_id=data.get("name") or f"{kind}_{data['id']}",
        text=body.text,
        title=title.text if title else None,
        created_at=from_epoch(data["created_utc"]),
        author=Author(id=data.get("author_fullname"), handle=author, name=None),
        url=_permalink(kind, data),
        reply_to=data.get("parent_id") if kind == "t1" else None,
        thread_id=data.get("link_id") if kind == "t1" else data.get("name"),
        mentions=body.mentions,
        hashtags=body.hashtags,
        urls=urls,
        media=media,
        engagement=engagement,
        raw={**data, "kind": kind},
    )


def parse_listing(payload: Any) -> tuple[list[Post], str | None]:
    """A Listing (or the [submission, comments] pair) → posts and the `after` cursor."""
    listings = payload if isinstance(payload, list) else [payload]
    posts: list[Post] = []
    after = None
    for listing in listings:
        data = _obj(_obj(listing).get("data"))
        posts += parse_each("reddit", _things(data.get("children")), parse_thing)
        after = after or (data.get("after") if isinstance(data.get("after"), str) else None)
    return posts, after


def feed_path(handle: str) -> str:
    """`/r/{sub}/new` for `r/sub`, `/user/{u}/submitted` for `u/name`, `/u/name` or `name`."""
    text = handle.strip().removeprefix("https://www.reddit.com").strip("/")
    if text.startswith("r/"):
        return f"/r/{text[2:].split('/')[0]}/new"
    name = text.removeprefix("user/").removeprefix("u/").lstrip("@").split("/")[0]
    return f"/user/{name}/submitted"


class RedditSource(Source):
    """Reddit's OAuth API with an app-only token; listed as needing a key until client id and secret are set."""

    name = "reddit"
    title = "Reddit (OAuth)"
    needs_key = True

    def __init__(self, settings: RedditSettings, fetcher: PoliteFetcher,
                 *, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.fetcher = fetcher
        self.base_url = settings.base_url.rstrip("/")
        self._clock = clock
        self._token: str | None = None
        self._token_expires = 0.0
        fetcher.configure(self.name, settings.rate_per_s)

    def configured(self) -> bool:
        return bool(self.settings.client_id and self.settings.client_secret
                    and self.settings.client_id.get_secret_value() and self.settings.client_secret.get_secret_value())

    async def _access_token(self) -> str:
        if not self.configured():
            raise NeedsKey(NEEDS_KEY)
        if self._token and self._clock() < self._token_expires:
            return self._token
        assert self.settings.client_id and self.settings.client_secret
        response = await self.fetcher.post(
            self.settings.auth_url, key=self.name,
            auth=(self.settings.client_id.get_secret_value(), self.settings.client_secret.get_secret_value()),
            data={"grant_type": "client_credentials"},
        )
        if response.status_code in (400, 401, 403):
            self.fetcher.breaker(self.name).failure("OAuth refused")
            raise FetchError(self.name, "Reddit refused the client id/secret (check sources.reddit)",
                             response.status_code)
        check_status(self.fetcher, self.name, response, "OAuth token")
        body = json_body(self.fetcher, self.name, response)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token.isascii() or not token.isprintable() or " " in token:
            error = body.get("error") if isinstance(body, dict) else "unexpected response"
            raise FetchError(self.name, f"Reddit gave no usable token ({error})")
        self._token = token
        self._token_expires = self._clock() + float(body.get("expires_in") or 3600) - 60
        return self._token

    async def _get(self, path: str, params: dict[str, Any], what: str) -> Any:
        for attempt in range(2):
            token = await self._access_token()
            response: httpx.Response = await self.fetcher.get(
                f"{self.base_url}{path}", key=self.name, params={**params, "raw_json": 1},
                headers={"Authorization": f"Bearer {token}"},
            )
            if response.status_code == 401 and attempt == 0:
                self._token = None  # expired early: fetch a new token once
                continue
            check_status(self.fetcher, self.name, response, what)
            return json_body(self.fetcher, self.name, response)
        raise FetchError(self.name, f"{what}: token rejected")

    async def _newer(self, path: str, params: dict[str, Any], cursor: str | None, what: str) -> Page:
        since = float(cursor) if cursor and cursor.replace(".", "", 1).isdigit() else 0.0
        posts, _ = parse_listing(await self._get(path, {**params, "limit": LIMIT}, what))
        fresh = sorted((p for p in posts if p.created_at.timestamp() > since), key=lambda p: p.created_at)
        newest = max([since, *(p.created_at.timestamp() for p in fresh)])
        return Page(fresh, repr(newest) if newest else cursor)

    async def search(self, terms: Sequence[str], cursor: str | None) -> Page:
        """Newest submissions matching any term (`OR`-joined); the cursor is the newest created_utc seen."""
        query = " OR ".join(f'"{t}"' if " " in t and not t.startswith('"') else t for t in terms)
        return await self._newer("/search", {"q": query, "sort": "new", "type": "link"}, cursor, "search")

    async def account_feed(self, handle: str, cursor: str | None) -> Page:
        """A subreddit's (`r/name`) or user's (`u/name`) newest submissions after the cursor."""
        path = feed_path(handle)
        return await self._newer(path, {"sort": "new"}, cursor, path)

    async def profile(self, handle: str) -> Profile:
        name = feed_path(handle).split("/")[2]
        body = await self._get(f"/user/{name}/about", {}, f"user {name}")
        data = body["data"]
        bio = plain_text((data.get("subreddit") or {}).get("public_description") or "")
        return Profile(
            source=self.name,
            author=Author(id=f"t2_{data['id']}" if data.get("id") else None, handle=data["name"]),
            bio=bio.text,
            url=f"{WEB_URL}/user/{data['name']}",
            links=bio.urls,
            created_at=from_epoch(data["created_utc"]) if data.get("created_utc") else None,
            counts={k: int(data[k]) for k in ("link_karma", "comment_karma", "total_karma") if k in data},
        )

