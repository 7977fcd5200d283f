"""RSS and Atom feeds (blogs, forums, advisories, account feeds), polled with conditional GET."""

from __future__ import annotations

import asyncio
import calendar
import hashlib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import feedparser
import httpx

from config.sources import RssSettings
from handlers.fetch import BreakerOpen, FetchError, PoliteFetcher
from handlers.lookup.ssrf import Blocked, SsrfGuard
from handlers.monitor.post import Author, Post
from handlers.monitor.sources.base import NotSupported, Page, Profile, Source
from handlers.monitor.sources.html_text import html_text, plain_text
from handlers.monitor.sources.payload import cursor_state, parse_each

log = logging.getLogger(__name__)

RSS_AUTHOR_RE = re.compile(r"^\s*\S+@\S+\s+\((.+)\)\s*$")
SEEN_KEEP = 500  # entry ids remembered per feed to drop repeats
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass
class FeedCursor:
    """What a feed poll remembers: validators for conditional GET and the entry ids already seen."""

    etag: str | None = None
    modified: str | None = None
    seen: tuple[str, ...] = ()

    @classmethod
    def load(cls, cursor: str | None) -> FeedCursor:
        data = cursor_state(cursor)  # a cursor that is not ours starts afresh instead of failing every poll
        etag, modified, seen = data.get("etag"), data.get("modified"), data.get("seen")
        return cls(etag if isinstance(etag, str) else None, modified if isinstance(modified, str) else None,
                   tuple(str(s) for s in seen) if isinstance(seen, list) else ())

    def dump(self) -> str:
        return json.dumps({"etag": self.etag, "modified": self.modified, "seen": list(self.seen[-SEEN_KEEP:])})

    def headers(self) -> dict[str, str]:
        headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.modified:
            headers["If-Modified-Since"] = self.modified
        return headers


def _struct_time(entry: Any, *names: str) -> datetime | None:
    for name in names:
        value = entry.get(name)
        if value:
            return datetime.fromtimestamp(calendar.timegm(value), UTC)
    return None


def entry_id(entry: Any, feed_url: str) -> str:
    """A stable id: the guid/id when globally unique (a URL or tag:/urn:), else qualified by the feed URL."""
    raw = entry.get("id") or entry.get("link")
    if not raw:
        basis = f"{entry.get('title', '')}\x00{entry.get('published', '') or entry.get('updated', '')}"
        raw = "sha1:" + hashlib.sha1(basis.encode()).hexdigest()
    raw = str(raw).strip()
    if "://" in raw or raw.startswith(("tag:", "urn:")):
        return raw
    return f"{feed_url}#{raw}"


def entry_geo(entry: Any) -> dict[str, Any] | None:
    """GeoRSS point → lat/lon; other shapes kept as GeoJSON-like geometry."""
    where = entry.get("where")
    if not where:
        return None
    coords = where.get("coordinates")
    if where.get("type") == "Point" and coords:
        lon, lat = coords[0], coords[1]  # feedparser gives GeoJSON order
        return {"lat": float(lat), "lon": float(lon)}
    return {"geometry": {"type": where.get("type"), "coordinates": coords}}


def entry_media(entry: Any) -> list[dict[str, Any]]:
    media: list[dict[str, Any]] = []
    for enc in entry.get("enclosures") or []:
        if enc.get("href"):
            mime = enc.get("type") or ""
            media.append({"type": mime.split("/")[0] or "file", "url": enc["href"], "mime": mime or None})
    for item in (entry.get("media_content") or []) + (entry.get("media_thumbnail") or []):
        if item.get("url") and all(m["url"] != item["url"] for m in media):
            media.append({"type": item.get("medium") or "image", "url": item["url"]})
    return media


def detail_text(node: Any, key: str) -> str:
    """A feed/entry text construct as plain text, HTML-typed ones (Atom `type="html"`) stripped."""
    kind = (node.get(f"{key}_detail") or {}).get("type", "text/plain")
    return (html_text if "html" in kind else plain_text)(node.get(key)).text


def entry_to_post(entry: Any, feed_url: str, feed_lang: str | None, fetched_at: datetime) -> Post:
    """A Post from a feedparser entry."""
    content = entry.get("content") or []
    body_html = content[0].get("value") if content else entry.get("summary")
    body = html_text(body_html)
    title = detail_text(entry, "title") or None
    author = entry.get("author_detail") or {}
    written = RSS_AUTHOR_RE.match(entry.get("author") or "")  # RSS 2.0 "mail@host (Name)"
    name = written.group(1) if written else author.get("name") or entry.get("author")
    reply = entry.get("thr_in-reply-to") or {}
    link = entry.get("link")
    urls = [u for u in ([link] if link else []) + body.urls]
    lang = (content[0].get("language") if content else None) or feed_lang
    return Post(
        source="rss",
        source_id=entry_id(entry, feed_url),
        text=body.text,
        title=title,
        created_at=_struct_time(entry, "published_parsed", "updated_parsed", "created_parsed") or fetched_at,
        author=Author(id=author.get("href") or author.get("email"), handle=None, name=name or None),
        url=link,
        lang=lang,
        reply_to=reply.get("ref") or reply.get("href"),
        mentions=body.mentions,
        hashtags=list(dict.fromkeys(body.hashtags + [t["term"] for t in entry.get("tags") or [] if t.get("term")])),
        urls=list(dict.fromkeys(urls)),
        media=entry_media(entry),
        geo=entry_geo(entry),
        raw={"feed": feed_url, **{k: entry.get(k) for k in ("id", "link", "title", "published", "updated", "author")}},
    )


class RssSource(Source):
    """Any RSS/Atom feed URL; configured feeds are searchable by terms, any URL can be followed.

    Feed URLs can come from users, so every fetch goes through the SSRF guard (each redirect hop
    is checked). `guard` is injectable for tests.
    """

    name: ClassVar[str] = "rss"
    title: ClassVar[str] = "RSS/Atom feeds"

    def __init__(self, settings: RssSettings, fetcher: PoliteFetcher, guard: SsrfGuard | None = None) -> None:
        self.settings = settings
        self.fetcher = fetcher
        self.guard = guard or SsrfGuard()
        self.clock = lambda: datetime.now(UTC)
        fetcher.configure(self.name, settings.rate_per_s)

    async def _fetch(self, url: str, cursor: FeedCursor) -> tuple[int, httpx.Headers, bytes]:
        breaker = self.fetcher.breaker(self.name)
        breaker.check()
        try:
            response = await self.guard.fetch(self.fetcher, url, headers=cursor.headers(), key=self.name)
        except Blocked as exc:
            raise FetchError(self.name, f"feed refused: {exc.reason}") from None
        except FetchError as exc:
            breaker.failure(exc.reason)
            raise
        if response.status in RETRY_STATUSES:
            breaker.failure(f"HTTP {response.status}")
            raise FetchError(self.name, f"feed answered HTTP {response.status}", response.status)
        if response.status >= 400 or response.stopped:
            raise FetchError(self.name, f"feed answered HTTP {response.status}"
                             + (f" ({response.stopped})" if response.stopped else ""), response.status)
        breaker.success()
        return response.status, response.headers, response.body

    async def _poll(self, url: str, cursor: FeedCursor) -> tuple[list[Post], FeedCursor, Any]:
        status, headers, body = await self._fetch(url, cursor)
        if status == 304:
            return [], cursor, None
        try:
            parsed = await asyncio.to_thread(feedparser.parse, body)
        except Exception as exc:  # feedparser raises on some hostile input (a &#55296; char ref): one feed's problem
            self.fetcher.breaker(self.name).failure("unparseable feed")
            log.warning("feed parser failed", extra={"source": self.name, "url": url,
                                                     "error": f"{type(exc).__name__}: {exc}"[:200]})
            raise FetchError(self.name, f"the feed could not be parsed ({type(exc).__name__})") from None
        if not parsed.entries and (parsed.bozo or not parsed.get("version")):  # not a feed at all
            self.fetcher.breaker(self.name).failure("malformed feed")
            log.warning("malformed payload", extra={"source": self.name, "url": url,
                                                    "error": str(parsed.get("bozo_exception"))[:200]})
            raise FetchError(self.name, "the feed could not be parsed (not RSS/Atom, or truncated)")
        fetched_at = self.clock()
        lang = parsed.feed.get("language")
        posts = parse_each(self.name, parsed.entries, lambda e: entry_to_post(e, url, lang, fetched_at))
        seen = set(cursor.seen)
        fresh = [p for p in posts if p.source_id not in seen]
        new_cursor = FeedCursor(
            etag=headers.get("etag") or cursor.etag,
            modified=headers.get("last-modified") or cursor.modified,
            seen=(*cursor.seen, *(p.source_id for p in fresh)),
        )
        return sorted(fresh, key=lambda p: p.created_at), new_cursor, parsed

    async def account_feed(self, handle: str, cursor: str | None) -> Page:
        """New entries of the feed at URL `handle` (ETag/Last-Modified and seen ids kept in the cursor)."""
        state = FeedCursor.load(cursor)
        posts, state, _ = await self._poll(handle.strip(), state)
        return Page(posts, state.dump())

    async def search(self, terms: Sequence[str], cursor: str | None) -> Page:
        """New entries of the configured feeds (sources.rss.feeds) containing any term (case-insensitive)."""
        if not self.settings.feeds:
            raise NotSupported("no feeds are configured to search (sources.rss.feeds); follow a feed URL instead")
        state: dict[str, str] = cursor_state(cursor)
        needles = [t.casefold() for t in terms if t.strip()]
        found: list[Post] = []
        errors: list[FetchError] = []
        for url in self.settings.feeds:
            try:
                posts, feed_cursor, _ = await self._poll(url, FeedCursor.load(state.get(url)))
            except (FetchError, BreakerOpen) as exc:  # one broken feed does not stop the others
                errors.append(exc if isinstance(exc, FetchError) else FetchError(self.name, str(exc)))
                continue
            except Exception as exc:  # nor does a bug its content triggers: the other feeds are still searched
                log.exception("feed failed", extra={"source": self.name, "url": url})
                errors.append(FetchError(self.name, f"{url}: {type(exc).__name__}"))
                continue
            state[url] = feed_cursor.dump()
            found += [p for p in posts if any(n in p.full_text.casefold() for n in needles)]
        if errors and len(errors) == len(self.settings.feeds):
            raise errors[0]
        return Page(sorted(found, key=lambda p: p.created_at), json.dumps(state, sort_keys=True))

    async def profile(self, handle: str) -> Profile:
        """What the feed says about itself: title, description, site link, entry count."""
        _, _, parsed = await self._poll(handle.strip(), FeedCursor())
        feed = parsed.feed
        link = feed.get("link")
        return Profile(
            source=self.name,
            author=Author(id=handle.strip(), name=detail_text(feed, "title") or None),
            bio=html_text(feed.get("subtitle") or feed.get("description")).text,
            url=link or handle.strip(),
            links=[link] if link else [],
            created_at=None,
            counts={"entries": len(parsed.entries)},
            raw={k: feed.get(k) for k in ("title", "link", "subtitle", "language", "updated")},
        )
