"""Bluesky: the public AppView for profiles and author feeds, searchPosts with an app password,
and the Jetstream firehose for keyword watches."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

from config.sources import BlueskySettings
from handlers.fetch import FetchError, PoliteFetcher
from handlers.monitor.post import Author, Post
from handlers.monitor.sources.base import NeedsKey, Page, Profile, Source
from handlers.monitor.sources.html_text import find_hashtags, find_mentions, find_urls
from handlers.monitor.sources.jetstream import Jetstream
from handlers.monitor.sources.payload import check_status, from_iso, json_body, parse_each

POST_COLLECTION = "app.bsky.feed.post"
WEB_POST_URL = "https://bsky.app/profile/{did}/post/{rkey}"
CDN_IMAGE_URL = "https://cdn.bsky.app/img/feed_fullsize/plain/{did}/{cid}@jpeg"
FEED_LIMIT = 50
SEARCH_LIMIT = 100
MAX_PAGES = 3
SESSION_MAX_AGE_S = 60 * 60  # access tokens live ~2 h; renew well before


def at_uri(did: str, rkey: str) -> str:
    return f"at://{did}/{POST_COLLECTION}/{rkey}"


def split_at_uri(uri: str) -> tuple[str, str]:
    """(did, rkey) from `at://did/collection/rkey`."""
    parts = uri.removeprefix("at://").split("/")
    if len(parts) != 3:
        raise ValueError(f"not a record URI: {uri!r}")
    return parts[0], parts[2]


def facet_entities(text: str, facets: Any) -> tuple[list[str], list[str], list[str]]:
    """(mentions, links, tags) from richtext facets; mention handles are read from the text's UTF-8 bytes."""
    mentions: list[str] = []
    links: list[str] = []
    tags: list[str] = []
    if not isinstance(facets, list):
        return mentions, links, tags
    raw = text.encode("utf-8")
    for facet in facets:
        if not isinstance(facet, dict):
            continue
        index = facet.get("index") or {}
        for feature in facet.get("features") or []:
            kind = (feature or {}).get("$type", "")
            if kind.endswith("#mention"):
                label = raw[index.get("byteStart", 0): index.get("byteEnd", 0)].decode("utf-8", "replace")
                mentions.append(label.strip().lstrip("@") or feature.get("did", ""))
            elif kind.endswith("#link") and feature.get("uri"):
                links.append(feature["uri"])
            elif kind.endswith("#tag") and feature.get("tag"):
                tags.append(feature["tag"])
    return mentions, links, tags


def embed_parts(did: str, embed: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """(media, urls) from a record's embed (images, video, external link, record-with-media)."""
    if not isinstance(embed, dict):
        return [], []
    kind = embed.get("$type", "")
    if kind.startswith("app.bsky.embed.recordWithMedia"):
        return embed_parts(did, embed.get("media"))
    if kind.startswith("app.bsky.embed.images"):
        media = []
        for image in embed.get("images") or []:
            if "fullsize" in image:  # a view (AppView) has CDN URLs already
                media.append({"type": "image", "url": image["fullsize"], "alt": image.get("alt") or None})
                continue
            cid = ((image.get("image") or {}).get("ref") or {}).get("$link")
            if cid:
                media.append({"type": "image", "url": CDN_IMAGE_URL.format(did=did, cid=cid),
                              "alt": image.get("alt") or None})
        return media, []
    if kind.startswith("app.bsky.embed.video"):
        cid = ((embed.get("video") or {}).get("ref") or {}).get("$link") or embed.get("cid")
        return [{"type": "video", "cid": cid, "url": embed.get("playlist"), "alt": embed.get("alt") or None}], []
    if kind.startswith("app.bsky.embed.external"):
        uri = (embed.get("external") or {}).get("uri")
        return [], [uri] if uri else []
    return [], []


def record_to_post(
    did: str,
    rkey: str,
    record: dict[str, Any],
    *,
    author: Author | None = None,
    fallback_time: datetime | None = None,
    engagement: dict[str, int] | None = None,
    raw: dict[str, Any] | None = None,
) -> Post:
    """A Post from an `app.bsky.feed.post` record (Jetstream commit or AppView postView)."""
    text = record.get("text") or ""
    if not isinstance(text, str):
        raise TypeError("post text is not a string")
    mentions, links, tags = facet_entities(text, record.get("facets"))
    media, embed_urls = embed_parts(did, record.get("embed"))
    # URLs shortened for display ("example.com/pa...") are only trusted from facets
    typed_urls = [u for u in find_urls(text) if not u.endswith(("...", "…"))]
    try:
        created = from_iso(record["createdAt"])
    except (KeyError, TypeError, ValueError):
        if fallback_time is None:
            raise
        created = fallback_time
    reply = record.get("reply") or {}
    langs = record.get("langs") or []
    return Post(
        source="bluesky",
        source_id=at_uri(did, rkey),
        text=text,
        created_at=created,
        author=author or Author(id=did),
        url=WEB_POST_URL.format(did=did, rkey=rkey),
        lang=langs[0] if langs and isinstance(langs[0], str) else None,
        reply_to=(reply.get("parent") or {}).get("uri"),
        thread_id=(reply.get("root") or {}).get("uri"),
        mentions=list(dict.fromkeys(mentions + find_mentions(text))),
        hashtags=list(dict.fromkeys(tags + find_hashtags(text))),
        urls=list(dict.fromkeys(links + embed_urls + typed_urls)),
        media=media,
        engagement=engagement or {},
        raw=raw if raw is not None else record,
    )


def view_author(author: dict[str, Any]) -> Author:
    return Author(id=author.get("did"), handle=author.get("handle"), name=author.get("displayName") or None)


def post_view_to_post(view: dict[str, Any]) -> Post | None:
    """A Post from an AppView `postView` (author feed, search results)."""
    record = view.get("record")
    if not isinstance(record, dict) or record.get("$type", POST_COLLECTION) != POST_COLLECTION:
        return None
    did, rkey = split_at_uri(view["uri"])
    engagement = {
        k: int(view[v])
        for k, v in (("likes", "likeCount"), ("reposts", "repostCount"), ("replies", "replyCount"),
                     ("quotes", "quoteCount"))
        if view.get(v) is not None
    }
    post = record_to_post(
        did, rkey, record,
        author=view_author(view.get("author") or {"did": did}),
        fallback_time=from_iso(view["indexedAt"]) if view.get("indexedAt") else None,
        engagement=engagement,
        raw=view,
    )
    if not post.media:  # the view's embed carries CDN URLs even when the record's blob refs are odd
        post.media, _ = embed_parts(did, view.get("embed"))
    return post


def normalise_actor(handle: str) -> str:
    """A handle or DID from `@alice.bsky.social`, a DID, or a bsky.app profile URL."""
    handle = handle.strip()
    if handle.startswith(("http://", "https://")):
        parts = urlsplit(handle).path.strip("/").split("/")
        if len(parts) >= 2 and parts[0] == "profile":
            return parts[1]
    return handle.lstrip("@")


class BlueskySource(Source):
    """Bluesky posts: firehose for keywords, AppView for accounts, searchPosts with an app password."""

    name: ClassVar[str] = "bluesky"
    title: ClassVar[str] = "Bluesky"

    def __init__(self, settings: BlueskySettings, fetcher: PoliteFetcher) -> None:
        self.settings = settings
        self.fetcher = fetcher
        self.appview = settings.base_url.rstrip("/")
        self.pds = settings.pds_url.rstrip("/")
        self._session: tuple[str, float] | None = None  # (access JWT, obtained at)
        fetcher.configure(self.name, settings.rate_per_s)

    def _malformed(self, reason: str) -> FetchError:
        """A well-formed JSON answer of the wrong shape: counted against health, the poll keeps its cursor."""
        self.fetcher.breaker(self.name).failure(reason)
        return FetchError(self.name, reason)

    async def _get(self, url: str, what: str, params: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        response = await self.fetcher.get(url, key=self.name, params=params, headers=headers or {})
        check_status(self.fetcher, self.name, response, what)
        return json_body(self.fetcher, self.name, response)

    async def profile(self, handle: str) -> Profile:
        """Display name, bio, follower/following/post counts from `app.bsky.actor.getProfile`."""
        actor = normalise_actor(handle)
        data = await self._get(f"{self.appview}/xrpc/app.bsky.actor.getProfile", "profile", {"actor": actor})
        if not isinstance(data, dict) or not data.get("did"):
            raise FetchError(self.name, f"no Bluesky account {actor!r}", 404)
        bio = data.get("description") or ""
        return Profile(
            source=self.name,
            author=view_author(data),
            bio=bio,
            url=f"https://bsky.app/profile/{data.get('handle') or data['did']}",
            links=find_urls(bio),
            created_at=from_iso(data["createdAt"]) if data.get("createdAt") else None,
            counts={k: int(data[v]) for k, v in (("followers", "followersCount"), ("following", "followsCount"),
                                                ("posts", "postsCount")) if data.get(v) is not None},
            raw=data,
        )

    async def account_feed(self, handle: str, cursor: str | None) -> Page:
        """The account's posts and replies (no reposts) indexed after the cursor (an `indexedAt` time)."""
        actor = normalise_actor(handle)
        since = from_iso(cursor) if cursor else None
        posts: list[Post] = []
        newest = cursor
        params: dict[str, Any] = {"actor": actor, "limit": FEED_LIMIT, "filter": "posts_with_replies"}
        for _ in range(MAX_PAGES if since else 1):
            data = await self._get(f"{self.appview}/xrpc/app.bsky.feed.getAuthorFeed", "author feed", params)
            feed = data.get("feed") if isinstance(data, dict) else None
            if not isinstance(feed, list):
                raise self._malformed("author feed answered without a feed list")
            views = [item["post"] for item in feed if isinstance(item, dict) and not item.get("reason")
                     and isinstance(item.get("post"), dict)]
            fresh = [v for v in views if not since or _indexed_after(v, since)]
            posts += parse_each(self.name, fresh, post_view_to_post)
            newest = max([v["indexedAt"] for v in fresh if v.get("indexedAt")] + ([newest] if newest else []),
                         key=from_iso, default=newest)
            if not data.get("cursor") or len(fresh) < len(views) or not views:
                break
            params["cursor"] = data["cursor"]
        return Page(sorted(posts, key=lambda p: p.created_at), newest)

    def configured(self) -> bool:
        return True  # the firehose and AppView need no key; only search does (see search)

    async def _access_token(self, renew: bool = False) -> str:
        if not self.settings.handle or not self.settings.app_password:
            raise NeedsKey(
                "Bluesky post search needs a login since 2025: set sources.bluesky.handle and app_password "
                "(an app password). Keyword watches use the Jetstream firehose without one."
            )
        if self._session and not renew and time.monotonic() - self._session[1] < SESSION_MAX_AGE_S:
            return self._session[0]
        response = await self.fetcher.post(
            f"{self.pds}/xrpc/com.atproto.server.createSession", key=self.name,
            json={"identifier": self.settings.handle, "password": self.settings.app_password.get_secret_value()},
        )
        if response.status_code in (400, 401):
            self.fetcher.breaker(self.name).failure("login refused")
            raise NeedsKey("Bluesky refused the configured handle/app password (createSession failed)")
        check_status(self.fetcher, self.name, response, "login")
        data = json_body(self.fetcher, self.name, response)
        token = data.get("accessJwt") if isinstance(data, dict) else None
        if not token:
            raise FetchError(self.name, "login answered without an access token")
        self._session = (token, time.monotonic())
        return token

    async def _search_term(self, term: str, since: str | None) -> list[Post]:
        params: dict[str, Any] = {"q": term, "sort": "latest", "limit": SEARCH_LIMIT}
        if since:
            params["since"] = since
        url = f"{self.pds}/xrpc/app.bsky.feed.searchPosts"
        for renew in (False, True):
            token = await self._access_token(renew)
            response = await self.fetcher.get(url, key=self.name, params=params,
                                              headers={"Authorization": f"Bearer {token}"})
            if response.status_code not in (400, 401) or renew:
                break  # an expired session answers 400/401 ExpiredToken: log in again once
        check_status(self.fetcher, self.name, response, "search")
        data = json_body(self.fetcher, self.name, response)
        views = data.get("posts") if isinstance(data, dict) else None
        if not isinstance(views, list):
            raise self._malformed("search answered without a post list")
        cut = from_iso(since) if since else None
        return parse_each(self.name, [v for v in views if not cut or _indexed_after(v, cut)], post_view_to_post)

    async def search(self, terms: Sequence[str], cursor: str | None) -> Page:
        """searchPosts for each term (needs handle + app password); the cursor is the newest `indexedAt`."""
        found: dict[str, Post] = {}
        for term in terms:
            for post in await self._search_term(term, cursor):
                found.setdefault(post.source_id, post)
        posts = sorted(found.values(), key=lambda p: p.created_at)
        indexed = [p.raw["indexedAt"] for p in posts if p.raw and p.raw.get("indexedAt")]
        return Page(posts, max(indexed + ([cursor] if cursor else []), key=from_iso, default=cursor))

    def jetstream(self) -> Jetstream:
        """A firehose client reporting to the `bluesky.jetstream` breaker."""
        return Jetstream(self.settings.jetstream_url, breaker=self.fetcher.breaker(f"{self.name}.jetstream"))

    def stream(self, cursor: str | None) -> AsyncIterator[tuple[Post, str]]:
        """New posts from the Jetstream firehose, each with its `time_us` cursor."""
        return firehose_posts(self.jetstream(), int(cursor) if cursor and cursor.isdigit() else None)


def event_to_post(event: dict[str, Any]) -> Post:
    """A Post from a Jetstream commit-create event (author known by DID only: the firehose has no handles)."""
    commit = event["commit"]
    record = commit["record"]
    if not isinstance(record, dict):
        raise TypeError("commit without a record")
    fallback = datetime.fromtimestamp(int(event["time_us"]) / 1e6, UTC)
    return record_to_post(event["did"], commit["rkey"], record, fallback_time=fallback, raw=event)


async def firehose_posts(jetstream: Jetstream, cursor: int | None) -> AsyncIterator[tuple[Post, str]]:
    """(post, cursor) pairs from Jetstream events; events that do not parse are logged and skipped."""
    async for event in jetstream.events(cursor):
        posts = parse_each("bluesky.jetstream", [event], event_to_post)
        if posts:
            yield posts[0], str(event["time_us"])


def _indexed_after(view: dict[str, Any], since: datetime) -> bool:
    indexed = view.get("indexedAt")
    try:
        return from_iso(indexed) > since if indexed else True
    except ValueError:
        return True
