"""Lemmy (API v3, Lemmy 0.19): post search and community/user posts on one instance."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from config.sources import LemmySettings
from handlers.fetch import PoliteFetcher
from handlers.monitor.post import Author, Post
from handlers.monitor.sources.base import Page, Profile, Source
from handlers.monitor.sources.html_text import plain_text
from handlers.monitor.sources.payload import check_status, from_iso, json_body, parse_each

PAGE_LIMIT = 50
MAX_CATCHUP_PAGES = 3


def _host(actor_id: str | None) -> str:
    return urlsplit(actor_id or "").netloc


def parse_post_view(view: dict[str, Any]) -> Post | None:
    """One PostView → Post; deleted and removed posts are dropped."""
    post, creator = view["post"], view.get("creator") or {}
    if post.get("deleted") or post.get("removed"):
        return None
    body = plain_text(post.get("body") or "")
    title = plain_text(post.get("name") or "")
    urls = list(dict.fromkeys(([post["url"]] if post.get("url") else []) + body.urls + title.urls))
    host = _host(creator.get("actor_id"))
    handle = f"{creator['name']}@{host}" if creator.get("name") and host else creator.get("name")
    counts = view.get("counts") or {}
    media = [{"type": "image", "url": post["thumbnail_url"]}] if post.get("thumbnail_url") else []
    return Post(
        source="lemmy",
        source_id=str(post["id"]),
        text=body.text,
        title=title.text or None,
        created_at=from_iso(post["published"]),
        author=Author(id=creator.get("actor_id"), handle=handle, name=creator.get("display_name") or None),
        url=post.get("ap_id"),
        thread_id=str(post["id"]),
        mentions=body.mentions,
        hashtags=body.hashtags + title.hashtags,
        urls=urls,
        media=media,
        engagement={k: int(counts[k]) for k in ("score", "upvotes", "downvotes", "comments") if k in counts},
        raw=view,
    )


def parse_posts(payload: dict[str, Any]) -> list[Post]:
    """`posts[]` of a search, post list or user response → Posts (malformed ones skipped)."""
    return parse_each("lemmy", payload.get("posts") or [], parse_post_view)


def feed_target(handle: str) -> tuple[str, str]:
    """(`community` | `user`, name) from `!tech@lemmy.world`, `c/tech`, `@alice@host`, `u/alice`."""
    text = handle.strip()
    if text.startswith(("@", "u/", "/u/")):
        return "user", text.removeprefix("/").removeprefix("u/").lstrip("@")
    return "community", text.removeprefix("/").removeprefix("c/").lstrip("!")


class LemmySource(Source):
    """One Lemmy instance: search posts across everything it federates, follow communities and users."""

    name = "lemmy"
    title = "Lemmy"

    def __init__(self, settings: LemmySettings, fetcher: PoliteFetcher) -> None:
        self.settings = settings
        self.fetcher = fetcher
        self.base_url = settings.base_url.rstrip("/")
        fetcher.configure(self.name, settings.rate_per_s)

    async def _api(self, path: str, params: dict[str, Any], what: str) -> dict[str, Any]:
        response = await self.fetcher.get(f"{self.base_url}/api/v3/{path}", key=self.name, params=params)
        check_status(self.fetcher, self.name, response, what)
        return json_body(self.fetcher, self.name, response, dict)

    async def search(self, terms: Sequence[str], cursor: str | None) -> Page:
        """Newest posts matching each term; the cursor is the highest post id seen on this instance."""
        last = int(cursor) if cursor and cursor.isdigit() else 0
        found: dict[str, Post] = {}
        for term in terms:
            body = await self._api("search", {"q": term, "type_": "Posts", "sort": "New",
                                              "listing_type": "All", "limit": PAGE_LIMIT}, "search")
            for post in parse_posts(body):
                if int(post.source_id) > last:
                    found[post.source_id] = post
        return _page(list(found.values()), last)

    async def account_feed(self, handle: str, cursor: str | None) -> Page:
        """A community's (`!name@host`) or user's (`@name@host`) newest posts after the cursor."""
        kind, name = feed_target(handle)
        last = int(cursor) if cursor and cursor.isdigit() else 0
        if kind == "user":
            body = await self._api("user", {"username": name, "sort": "New", "limit": PAGE_LIMIT}, f"user {name}")
            return _page([p for p in parse_posts(body) if int(p.source_id) > last], last)
        posts: list[Post] = []
        page_cursor: str | None = None
        for _ in range(MAX_CATCHUP_PAGES):
            params: dict[str, Any] = {"community_name": name, "sort": "New", "limit": PAGE_LIMIT}
            if page_cursor:
                params["page_cursor"] = page_cursor
            body = await self._api("post/list", params, f"community {name}")
            page = parse_posts(body)
            posts += [p for p in page if int(p.source_id) > last]
            page_cursor = body.get("next_page")
            reached_cursor = any(int(p.source_id) <= last for p in page)
            if not last or not page_cursor or not page or reached_cursor:
                break
        return _page(posts, last)

    async def profile(self, handle: str) -> Profile:
        kind, name = feed_target(handle)
        if kind == "user":
            view = (await self._api("user", {"username": name, "limit": 1}, f"user {name}"))["person_view"]
            person, counts = view["person"], view.get("counts") or {}
            bio = plain_text(person.get("bio") or "")
            return Profile(
                source=self.name,
                author=Author(id=person.get("actor_id"), handle=f"{person['name']}@{_host(person.get('actor_id'))}",
                              name=person.get("display_name")),
                bio=bio.text, url=person.get("actor_id"), links=bio.urls,
                created_at=from_iso(person["published"]) if person.get("published") else None,
                counts={k: int(v) for k, v in counts.items() if k.endswith("_count")},
                raw=view,
            )
        view = (await self._api("community", {"name": name}, f"community {name}"))["community_view"]
        community, counts = view["community"], view.get("counts") or {}
        bio = plain_text(community.get("description") or "")
        handle = f"!{community['name']}@{_host(community.get('actor_id'))}"
        return Profile(
            source=self.name,
            author=Author(id=community.get("actor_id"), handle=handle, name=community.get("title")),
            bio=bio.text, url=community.get("actor_id"), links=bio.urls,
            created_at=from_iso(community["published"]) if community.get("published") else None,
            counts={k: int(counts[k]) for k in ("subscribers", "posts", "comments") if k in counts},
            raw=view,
        )


def _page(posts: list[Post], last: int) -> Page:
    newest = max([last, *(int(p.source_id) for p in posts)])
    return Page(sorted(posts, key=lambda p: int(p.source_id)), str(newest) if newest else None)
