"""4chan's read-only API: board catalogs and threads, polled with If-Modified-Since, ≤ 1 request/s."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from config.sources import FourChanSettings
from handlers.fetch import PoliteFetcher
from handlers.monitor.post import Author, Post
from handlers.monitor.sources.base import NotSupported, Page, Source
from handlers.monitor.sources.html_text import html_text
from handlers.monitor.sources.payload import check_status, cursor_state, from_epoch, json_body, parse_each

ATTRIBUTION = "Content from 4chan — https://www.4chan.org (read-only API; not affiliated)."
THREAD_REFRESH_S = 10.0  # the API rules: do not refresh a thread more often than every 10 seconds
MAX_RATE_PER_S = 1.0  # the API rules: at most one request per second
BOARD_RE = re.compile(r"^[a-z0-9]{1,10}$")
QUOTE_RE = re.compile(r'href="#p(\d+)"|&gt;&gt;(\d+)')
VIDEO_EXTS = frozenset({".webm", ".mp4"})


def parse_target(handle: str) -> tuple[str, int | None]:
    """(board, thread no or None) from `po`, `/po/`, `po/thread/123`, or a boards.4chan.org thread URL."""
    text = handle.strip()
    if "://" in text:
        text = urlsplit(text).path
    parts = [p for p in text.split("#", 1)[0].strip("/").split("/") if p]
    if not parts or not BOARD_RE.match(parts[0]):
        raise ValueError(f"{handle!r} is not a 4chan board or thread (e.g. po or po/thread/570368)")
    if len(parts) >= 3 and parts[1] == "thread" and parts[2].isdigit():
        return parts[0], int(parts[2])
    return parts[0], None


def parse_post(item: dict[str, Any], board: str, web_url: str, media_url: str) -> Post:
    """One 4chan post (OP or reply) → Post; `com` is escaped HTML with quotelinks like >>123."""
    no, resto = int(item["no"]), int(item.get("resto") or 0)
    thread = resto or no
    body = html_text(item.get("com") or "")
    quoted = [int(a or b) for a, b in QUOTE_RE.findall(item.get("com") or "")]
    reply_to = quoted[0] if quoted else (resto or None)
    name = html_text(item.get("name") or "").text or None
    handle = f"{name or ''}{item.get('trip') or ''}" or None
    media: list[dict[str, Any]] = []
    if item.get("tim") and item.get("ext") and not item.get("filedeleted"):
        ext = str(item["ext"])
        media.append({"type": "video" if ext in VIDEO_EXTS else "image",
                      "url": f"{media_url}/{board}/{item['tim']}{ext}",
                      "filename": f"{item.get('filename') or item['tim']}{ext}", "md5": item.get("md5")})
    engagement = {k: int(item[k]) for k in ("replies", "images") if k in item and not resto}
    geo = ({"country": item.get("country"), "place": item.get("country_name")}
           if item.get("country_name") else None)
    return Post(
        source="4chan",
        source_id=f"{board}/{no}",
        text=body.text,
        title=html_text(item["sub"]).text if item.get("sub") else None,
        created_at=from_epoch(item["time"]),
        author=Author(id=item.get("id"), handle=handle, name=name),
        url=f"{web_url}/{board}/thread/{thread}#p{no}",
        reply_to=f"{board}/{reply_to}" if reply_to else None,
        thread_id=f"{board}/{thread}",
        mentions=[],
        hashtags=body.hashtags,
        urls=body.urls,
        media=media,
        geo=geo,
        engagement=engagement,
        raw={k: v for k, v in item.items() if k != "last_replies"},
    )


def catalog_posts(catalog: list[dict[str, Any]], board: str, web_url: str, media_url: str) -> list[Post]:
    """Every OP in a catalog and the latest replies shown under it."""
    items: list[dict[str, Any]] = []
    for page in _dicts(catalog):
        for thread in _dicts(page.get("threads")):
            items.append(thread)
            items.extend(_dicts(thread.get("last_replies")))
    return parse_each("4chan", items, lambda i: parse_post(i, board, web_url, media_url))


def _dicts(value: Any) -> list[dict[str, Any]]:
    """The objects of a JSON list; anything else (a damaged payload) gives none."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def thread_posts(thread: dict[str, Any], board: str, web_url: str, media_url: str) -> list[Post]:
    """Every post of a `thread/{no}.json`."""
    return parse_each("4chan", _dicts(thread.get("posts")), lambda i: parse_post(i, board, web_url, media_url))


def _no(post: Post) -> int:
    return int(post.source_id.rsplit("/", 1)[1])


def _matches(post: Post, needles: list[str]) -> bool:
    text = post.full_text.casefold()
    return any(n in text for n in needles)


class FourChanSource(Source):
    """4chan boards (catalog: OPs and latest replies) and threads, following the API's rules and terms."""

    name = "4chan"
    title = "4chan (read-only API)"
    attribution = ATTRIBUTION

    def __init__(self, settings: FourChanSettings, fetcher: PoliteFetcher,
                 *, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.fetcher = fetcher
        self.base_url = settings.base_url.rstrip("/")
        self.web_url = settings.web_url.rstrip("/")
        self.media_url = settings.media_url.rstrip("/")
        self._clock = clock
        self._last_modified: dict[str, str] = {}
        self._fetched_at: dict[str, float] = {}
        fetcher.configure(self.name, min(settings.rate_per_s, MAX_RATE_PER_S))

    async def _get_json(self, path: str, what: str, shape: type) -> Any | None:
        """The JSON at `path` (a `shape`), or None when unchanged since the last fetch (304)."""
        url = f"{self.base_url}{path}"
        headers = {"If-Modified-Since": self._last_modified[url]} if url in self._last_modified else {}
        response: httpx.Response = await self.fetcher.get(url, key=self.name, headers=headers, ok_statuses=(304,))
        self._fetched_at[url] = self._clock()
        if response.status_code == 304:
            return None
        check_status(self.fetcher, self.name, response, what)
        body = json_body(self.fetcher, self.name, response, shape)
        if modified := response.headers.get("Last-Modified"):
            self._last_modified[url] = modified
        return body

    async def _board(self, board: str) -> list[Post] | None:
        catalog = await self._get_json(f"/{board}/catalog.json", f"/{board}/ catalog", list)
        return None if catalog is None else catalog_posts(catalog, board, self.web_url, self.media_url)

    async def search(self, terms: Sequence[str], cursor: str | None) -> Page:
        """Posts in the configured boards' catalogs (OPs and latest replies) containing any term."""
        if not self.settings.boards:
            raise NotSupported("4chan has no search API: list boards in sources.fourchan.boards to scan their "
                               "catalogs, or follow a board or thread with an account watch.")
        seen: dict[str, int] = cursor_state(cursor)
        needles = [t.strip().strip('"').casefold() for t in terms if t.strip().strip('"')]
        found: list[Post] = []
        for board in self.settings.boards:
            posts = await self._board(board)
            if posts is None:
                continue
            last = seen.get(board, 0)
            found += [p for p in posts if _no(p) > last and _matches(p, needles)]
            seen[board] = max([last, *(_no(p) for p in posts)])
        return Page(sorted(found, key=_no), json.dumps(seen, sort_keys=True))

    async def account_feed(self, handle: str, cursor: str | None) -> Page:
        """New posts on a board (`po`) or in a thread (`po/thread/570368`) after the cursor (a post number)."""
        board, thread = parse_target(handle)
        last = int(cursor) if cursor and cursor.isdigit() else 0
        if thread is None:
            posts = await self._board(board)
        else:
            url = f"{self.base_url}/{board}/thread/{thread}.json"
            if self._clock() - self._fetched_at.get(url, float("-inf")) < THREAD_REFRESH_S:
                return Page([], cursor)
            body = await self._get_json(f"/{board}/thread/{thread}.json", f"thread {thread} on /{board}/", dict)
            posts = None if body is None else thread_posts(body, board, self.web_url, self.media_url)
        if posts is None:
            return Page([], cursor)
        fresh = sorted((p for p in posts if _no(p) > last), key=_no)
        newest = max([last, *(_no(p) for p in posts)])
        return Page(fresh, str(newest) if newest else cursor)
