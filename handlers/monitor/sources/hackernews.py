"""Hacker News: Algolia `search_by_date` for terms, the official Firebase API for users and items."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, ClassVar

from config.sources import HackerNewsSettings
from handlers.fetch import FetchError, PoliteFetcher
from handlers.monitor.post import Author, Post
from handlers.monitor.sources.base import Page, Profile, Source
from handlers.monitor.sources.html_text import html_text, plain_text
from handlers.monitor.sources.payload import check_status, from_epoch, from_iso, json_body, parse_each

ITEM_URL = "https://news.ycombinator.com/item?id={id}"
USER_URL = "https://news.ycombinator.com/user?id={id}"
HITS_PER_PAGE = 100
MAX_PAGES = 5  # Algolia serves ~1,000 results per query at most; 500 newer posts per poll is plenty
FEED_ITEMS_FIRST = 10  # a new account feed starts with this many recent items
FEED_ITEMS_MAX = 30  # and never fetches more than this many items in one poll


def hit_to_post(hit: dict[str, Any]) -> Post | None:
    """A Post from an Algolia hit (story, comment, poll, job); None for hits without an author."""
    if not hit.get("author"):
        return None  # deleted items have no author
    object_id = str(hit["objectID"])
    tags = hit.get("_tags") or []
    is_comment = "comment" in tags or hit.get("comment_text") is not None
    body = html_text(hit.get("comment_text") if is_comment else hit.get("story_text"))
    title = None if is_comment else plain_text(hit.get("title")).text or None
    created = from_epoch(hit["created_at_i"]) if hit.get("created_at_i") else from_iso(hit["created_at"])
    urls = list(body.urls)
    if hit.get("url"):
        urls.insert(0, hit["url"])
    engagement = {k: int(hit[v]) for k, v in (("points", "points"), ("comments", "num_comments")) if hit.get(v)}
    return Post(
        source="hackernews",
        source_id=object_id,
        text=body.text,
        title=title,
        created_at=created,
        author=Author(id=hit["author"], handle=hit["author"]),
        url=ITEM_URL.format(id=object_id),
        reply_to=str(hit["parent_id"]) if is_comment and hit.get("parent_id") else None,
        thread_id=str(hit["story_id"]) if hit.get("story_id") else object_id,
        mentions=body.mentions,
        hashtags=body.hashtags,
        urls=list(dict.fromkeys(urls)),
        engagement=engagement,
        raw={k: v for k, v in hit.items() if k != "_highlightResult"},
    )


def item_to_post(item: dict[str, Any] | None) -> Post | None:
    """A Post from a Firebase item; None for deleted, dead or empty items."""
    if not item or item.get("deleted") or item.get("dead") or not item.get("by"):
        return None
    item_id = str(item["id"])
    body = html_text(item.get("text"))
    urls = list(body.urls)
    if item.get("url"):
        urls.insert(0, item["url"])
    engagement = {k: int(item[v]) for k, v in (("points", "score"), ("comments", "descendants")) if item.get(v)}
    return Post(
        source="hackernews",
        source_id=item_id,
        text=body.text,
        title=plain_text(item.get("title")).text or None,
        created_at=from_epoch(item["time"]),
        author=Author(id=item["by"], handle=item["by"]),
        url=ITEM_URL.format(id=item_id),
        reply_to=str(item["parent"]) if item.get("parent") else None,
        thread_id=str(item["poll"]) if item.get("poll") else None,
        mentions=body.mentions,
        hashtags=body.hashtags,
        urls=list(dict.fromkeys(urls)),
        engagement=engagement,
        raw=item,
    )


class HackerNewsSource(Source):
    """Hacker News stories and comments; search by terms, follow a user's submissions."""

    name: ClassVar[str] = "hackernews"
    title: ClassVar[str] = "Hacker News"

    def __init__(self, settings: HackerNewsSettings, fetcher: PoliteFetcher) -> None:
        self.settings = settings
        self.fetcher = fetcher
        self.search_url = settings.base_url.rstrip("/")
        self.firebase_url = settings.firebase_url.rstrip("/")
        fetcher.configure(self.name, settings.rate_per_s)

    def _malformed(self, reason: str) -> FetchError:
        """A well-formed JSON answer of the wrong shape: counted against health, the poll keeps its cursor."""
        self.fetcher.breaker(self.name).failure(reason)
        return FetchError(self.name, reason)

    async def _get(self, url: str, what: str, params: dict[str, Any] | None = None) -> Any:
        response = await self.fetcher.get(url, key=self.name, params=params)
        check_status(self.fetcher, self.name, response, what)
        return json_body(self.fetcher, self.name, response)

    async def _search_term(self, term: str, since: int | None) -> list[Post]:
        posts: list[Post] = []
        params: dict[str, Any] = {"query": term, "tags": "(story,comment,poll)", "hitsPerPage": HITS_PER_PAGE}
        if since is not None:
            params["numericFilters"] = f"created_at_i>{since}"
        for page in range(MAX_PAGES if since is not None else 1):
            params["page"] = page
            data = await self._get(f"{self.search_url}/search_by_date", "search", params)
            hits = data.get("hits") if isinstance(data, dict) else None
            if not isinstance(hits, list):
                raise self._malformed("search answered without a hit list")
            posts += parse_each(self.name, hits, hit_to_post)
            if page + 1 >= int(data.get("nbPages") or 0):
                break
        return posts

    async def search(self, terms: Sequence[str], cursor: str | None) -> Page:
        """Stories and comments matching any term, newer than the cursor (a `created_at_i` timestamp)."""
        since = int(cursor) if cursor and cursor.isdigit() else None
        found: dict[str, Post] = {}
        for term in terms:
            for post in await self._search_term(term, since):
                found.setdefault(post.source_id, post)
        posts = sorted(found.values(), key=lambda p: p.created_at)
        newest = max((int(p.created_at.timestamp()) for p in posts), default=since)
        return Page(posts, str(newest) if newest is not None else cursor)

    async def _user(self, handle: str) -> dict[str, Any]:
        user_id = handle.strip().lstrip("@")
        data = await self._get(f"{self.firebase_url}/user/{user_id}.json", "user")
        if not isinstance(data, dict):
            raise FetchError(self.name, f"no Hacker News user {user_id!r}", 404)
        return data

    async def account_feed(self, handle: str, cursor: str | None) -> Page:
        """A user's submissions newer than the cursor (the highest item id seen)."""
        user = await self._user(handle)
        submitted = [int(i) for i in user.get("submitted") or [] if str(i).isdigit()]
        last = int(cursor) if cursor and cursor.isdigit() else None
        wanted = sorted((i for i in submitted if last is None or i > last), reverse=True)
        wanted = wanted[: FEED_ITEMS_FIRST if last is None else FEED_ITEMS_MAX]
        items = await asyncio.gather(
            *(self._get(f"{self.firebase_url}/item/{i}.json", "item") for i in wanted), return_exceptions=True
        )
        fetched = [item for item in items if isinstance(item, dict)]
        posts = sorted(parse_each(self.name, fetched, item_to_post), key=lambda p: p.created_at)
        failed = [i for i, item in zip(wanted, items, strict=True) if isinstance(item, BaseException)]
        # never move the cursor past an item that failed to load: it is retried next time
        ok_ids = [i for i in wanted if i not in failed and (not failed or i < min(failed))]
        newest = max(ok_ids, default=last)
        return Page(posts, str(newest) if newest is not None else cursor)

    async def profile(self, handle: str) -> Profile:
        """The user's karma, about text and account age."""
        user = await self._user(handle)
        about = html_text(user.get("about"))
        counts = {"karma": int(user.get("karma") or 0), "submitted": len(user.get("submitted") or [])}
        return Profile(
            source=self.name,
            author=Author(id=user["id"], handle=user["id"]),
            bio=about.text,
            url=USER_URL.format(id=user["id"]),
            links=about.urls,
            created_at=from_epoch(user["created"]) if user.get("created") else None,
            counts=counts,
            raw=user,
        )
