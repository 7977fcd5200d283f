"""Telegram public channels through the `t.me/s/<channel>` web preview (no account, no key)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from config.sources import TelegramChannelSettings
from handlers.fetch import PoliteFetcher
from handlers.monitor.post import Author, Post
from handlers.monitor.sources.base import NotSupported, Page, Profile, Source
from handlers.monitor.sources.html_text import html_text
from handlers.monitor.sources.payload import check_status, cursor_state, from_iso, parse_each

CHANNEL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
BACKGROUND_URL_RE = re.compile(r"background-image:\s*url\(['\"]?([^'\")]+)")
COUNT_RE = re.compile(r"^\s*([\d.,]+)\s*([KMB]?)\s*$", re.IGNORECASE)
MAX_CATCHUP_PAGES = 3


class NoPublicPreview(LookupError):
    """The channel does not exist, is private, or has its web preview turned off."""

    def __init__(self, channel: str) -> None:
        super().__init__(
            f"Telegram channel @{channel} has no public preview (t.me/s/{channel} is not available): "
            "it may be private, a group or user rather than a channel, or not exist."
        )
        self.channel = channel


def channel_name(handle: str) -> str:
    """`durov` from `@durov`, `t.me/durov`, `https://t.me/s/durov`; ValueError when it is not a channel name."""
    text = handle.strip()
    if "t.me/" in text:
        path = urlsplit(text if "://" in text else f"https://{text}").path.strip("/").split("/")
        text = path[1] if path and path[0] == "s" and len(path) > 1 else path[0]
    text = text.lstrip("@")
    if not CHANNEL_RE.match(text):
        raise ValueError(f"{handle!r} is not a Telegram channel name (5–32 letters, digits or _)")
    return text


def parse_count(text: str | None) -> int | None:
    """`1.2K` → 1200, `3M` → 3000000, `987` → 987; None when it is not a count."""
    match = COUNT_RE.match((text or "").replace("\u00a0", " ").replace(" ", ""))
    if not match:
        return None
    number = float(match.group(1).replace(",", ""))
    return round(number * {"": 1, "K": 1_000, "M": 1_000_000, "B": 1_000_000_000}[match.group(2).upper()])


@dataclass
class PreviewPage:
    """One page of the preview: the posts on it and the `before` id for the older page, if any."""

    posts: list[Post]
    before: int | None


def _media(node: LexborNode) -> list[dict[str, str]]:
    media: list[dict[str, str]] = []
    for photo in node.css("a.tgme_widget_message_photo_wrap"):
        found = BACKGROUND_URL_RE.search(photo.attributes.get("style") or "")
        media.append({"type": "photo", "url": found.group(1) if found else photo.attributes.get("href") or ""})
    for video in node.css("video"):
        if video.attributes.get("src"):
            media.append({"type": "video", "url": video.attributes["src"] or ""})
    for doc in node.css("a.tgme_widget_message_document_wrap"):
        media.append({"type": "document", "url": doc.attributes.get("href") or ""})
    return media


def _message_text(node: LexborNode) -> LexborNode | None:
    """The message's own text block (not the quoted text of the message it replies to)."""
    for candidate in node.css("div.tgme_widget_message_text"):
        parent = candidate.parent
        while parent is not None:
            if "tgme_widget_message_reply" in (parent.attributes.get("class") or ""):
                break
            parent = parent.parent
        else:
            return candidate
    return None


def parse_message(node: LexborNode, base_url: str) -> Post | None:
    """One `div.tgme_widget_message` → Post (None for a message without a date, e.g. a service line)."""
    data_post = node.attributes.get("data-post") or ""
    channel, _, msg_id = data_post.partition("/")
    if not channel or not msg_id.isdigit():
        raise ValueError(f"bad data-post {data_post!r}")
    time_node = node.css_first("a.tgme_widget_message_date time[datetime]") or node.css_first("time[datetime]")
    if time_node is None:
        return None
    text_node = _message_text(node)
    body = html_text(text_node.html if text_node else "")
    owner = node.css_first(".tgme_widget_message_owner_name")
    signed = node.css_first(".tgme_widget_message_from_author")
    urls = list(body.urls)
    preview = node.css_first("a.tgme_widget_message_link_preview")
    if preview is not None and (href := preview.attributes.get("href")) and href not in urls:
        urls.append(href)
    engagement: dict[str, int] = {}
    views_node = node.css_first("span.tgme_widget_message_views")
    views = parse_count(views_node.text() if views_node else None)
    if views is not None:
        engagement["views"] = views
    reply = node.css_first("a.tgme_widget_message_reply")
    reply_to = None
    if reply is not None and (href := reply.attributes.get("href")):
        last = urlsplit(href).path.rstrip("/").rsplit("/", 1)[-1]
        reply_to = f"{channel}/{last}" if last.isdigit() else None
    forwarded = node.css_first(".tgme_widget_message_forwarded_from_name")
    raw = {"data_post": data_post, "html": node.html}
    if forwarded is not None:
        raw["forwarded_from"] = forwarded.text(deep=True).strip()
    if signed is not None:
        raw["signed_by"] = signed.text(deep=True).strip()
    return Post(
        source="telegram",
        source_id=data_post,
        text=body.text,
        created_at=from_iso(time_node.attributes.get("datetime") or ""),
        author=Author(id=channel, handle=channel, name=owner.text(deep=True).strip() if owner else None),
        url=f"{base_url}/{channel}/{msg_id}",
        reply_to=reply_to,
        thread_id=channel,
        mentions=body.mentions,
        hashtags=body.hashtags,
        urls=urls,
        media=_media(node),
        engagement=engagement,
        raw=raw,
    )


def parse_preview(html: str, channel: str, base_url: str) -> PreviewPage:
    """A preview page → its posts (oldest first) and the id to page back from; NoPublicPreview when it is not one."""
    tree = LexborHTMLParser(html)
    if tree.css_first(".tgme_channel_history") is None and tree.css_first("div.tgme_widget_message") is None:
        raise NoPublicPreview(channel)
    posts = parse_each("telegram", tree.css("div.tgme_widget_message[data-post]"),
                       lambda n: parse_message(n, base_url))
    more = tree.css_first("a.tme_messages_more[data-before]")
    before = (more.attributes.get("data-before") or "") if more is not None else ""
    return PreviewPage(sorted(posts, key=lambda p: _msg_id(p.source_id)), int(before) if before.isdigit() else None)


def parse_channel_info(html: str, channel: str, base_url: str) -> Profile:
    """The channel header of a preview page → Profile."""
    tree = LexborHTMLParser(html)
    title = tree.css_first(".tgme_channel_info_header_title")
    if title is None:
        raise NoPublicPreview(channel)
    description = tree.css_first(".tgme_channel_info_description")
    counts: dict[str, int] = {}
    for counter in tree.css(".tgme_channel_info_counter"):
        value, kind = counter.css_first(".counter_value"), counter.css_first(".counter_type")
        number = parse_count(value.text() if value else None)
        if number is not None and kind is not None:
            counts[kind.text().strip()] = number
    bio = html_text(description.html if description else "")
    return Profile(
        source="telegram",
        author=Author(id=channel, handle=channel, name=title.text(deep=True).strip()),
        bio=bio.text,
        url=f"{base_url}/{channel}",
        links=bio.urls,
        counts=counts,
    )


def _msg_id(source_id: str) -> int:
    return int(source_id.rsplit("/", 1)[-1])


class TelegramPreviewSource(Source):
    """Public Telegram channels read from their web preview: messages, views, links, search by `q`."""

    name = "telegram"
    title = "Telegram channels (public web preview)"

    def __init__(self, settings: TelegramChannelSettings, fetcher: PoliteFetcher) -> None:
        self.settings = settings
        self.fetcher = fetcher
        self.base_url = settings.base_url.rstrip("/")
        fetcher.configure(self.name, settings.rate_per_s)

    async def _get(self, channel: str, params: dict[str, str]) -> str:
        response = await self.fetcher.get(f"{self.base_url}/s/{channel}", key=self.name, params=params)
        if response.is_redirect or not urlsplit(str(response.url)).path.startswith("/s/"):
            raise NoPublicPreview(channel)
        if response.status_code == 404:
            raise NoPublicPreview(channel)
        check_status(self.fetcher, self.name, response, f"t.me/s/{channel}")
        return response.text

    async def page(self, channel: str, *, before: int | None = None, query: str | None = None) -> PreviewPage:
        """One page of a channel's preview, optionally older than `before` or matching `query`."""
        params = {k: v for k, v in (("before", str(before) if before else ""), ("q", query or "")) if v}
        return parse_preview(await self._get(channel, params), channel, self.base_url)

    async def account_feed(self, handle: str, cursor: str | None) -> Page:
        """A channel's messages newer than the cursor (the last message id seen), paging back to catch up."""
        channel = channel_name(handle)
        last = int(cursor) if cursor and cursor.isdigit() else None
        page = await self.page(channel)
        posts = list(page.posts)
        pages = 1
        while (last is not None and page.before and posts and _msg_id(posts[0].source_id) > last + 1
               and pages < MAX_CATCHUP_PAGES):
            page = await self.page(channel, before=page.before)
            posts = page.posts + posts
            pages += 1
        fresh = [p for p in posts if last is None or _msg_id(p.source_id) > last]
        newest = max((_msg_id(p.source_id) for p in posts), default=last)
        return Page(_unique(fresh), str(newest) if newest is not None else cursor)

    async def search(self, terms: Sequence[str], cursor: str | None) -> Page:
        """Messages matching any term in the configured channels (the preview searches one channel at a time)."""
        if not self.settings.channels:
            raise NotSupported(
                "Telegram has no public global search: list channels in sources.telegram.channels "
                "or follow a channel with an account watch."
            )
        seen: dict[str, int] = cursor_state(cursor)
        found: list[Post] = []
        newest = dict(seen)
        for handle in self.settings.channels:
            channel = channel_name(handle)
            for term in terms:
                try:
                    page = await self.page(channel, query=term)
                except NoPublicPreview:
                    continue
                last = seen.get(channel, 0)
                found += [p for p in page.posts if _msg_id(p.source_id) > last]
                for p in page.posts:
                    newest[channel] = max(newest.get(channel, 0), _msg_id(p.source_id))
        return Page(_unique(found), json.dumps(newest, sort_keys=True))

    async def profile(self, handle: str) -> Profile:
        channel = channel_name(handle)
        return parse_channel_info(await self._get(channel, {}), channel, self.base_url)


def _unique(posts: list[Post]) -> list[Post]:
    return list({p.source_id: p for p in posts}.values())
