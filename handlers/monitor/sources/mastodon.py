"""Mastodon: hashtag timelines and account statuses on a list of instances, `min_id` cursors."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

import httpx

from config.sources import MastodonSettings
from handlers.fetch import FetchError, PoliteFetcher
from handlers.lookup.ssrf import Blocked, SsrfGuard
from handlers.monitor.post import Author, Post
from handlers.monitor.sources.base import NotSupported, Page, Profile, Source
from handlers.monitor.sources.html_text import html_text
from handlers.monitor.sources.payload import check_status, cursor_state, from_iso, json_body, parse_each

log = logging.getLogger(__name__)

PAGE_LIMIT = 40  # the API maximum
MAX_PAGES = 5  # pages followed per timeline per poll when catching up
HASHTAG_RE = re.compile(r"^\w+$", re.UNICODE)
LINK_RE = re.compile(r'<([^>]+)>\s*;\s*rel="?([a-z ]+)"?')
STREAM_BACKOFF_MAX_S = 120.0
DEFAULT_PORTS = {"http": 80, "https": 443}


def host_of(url: str) -> str:
    return urlsplit(url).netloc


def full_acct(acct: str, instance: str) -> str:
    """`user@host` for any account: local accounts get the instance's host."""
    return acct if "@" in acct else f"{acct}@{host_of(instance)}"


def same_origin(url: str, instance: str) -> bool:
    """Whether `url` is on `instance`'s origin (scheme, host and port), with no credentials in it."""
    try:
        a, b = urlsplit(url), urlsplit(instance)
        ports = (a.port or DEFAULT_PORTS.get(a.scheme), b.port or DEFAULT_PORTS.get(b.scheme))
    except ValueError:
        return False
    return (a.scheme.lower() == b.scheme.lower() and (a.hostname or "") == (b.hostname or "") and ports[0] == ports[1]
            and a.username is None and a.password is None)


def link_header(value: str | None) -> dict[str, str]:
    """rel → URL from an RFC 8288 `Link` header."""
    links: dict[str, str] = {}
    for url, rels in LINK_RE.findall(value or ""):
        for rel in rels.split():
            links[rel] = url
    return links


def account_author(account: dict[str, Any], instance: str) -> Author:
    return Author(
        id=str(account.get("id")) if account.get("id") else None,
        handle=full_acct(account["acct"], instance),
        name=account.get("display_name") or None,
    )


def media_of(status: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"type": m.get("type"), "url": m.get("url") or m.get("remote_url"),
         "preview": m.get("preview_url"), "alt": m.get("description")}
        for m in status.get("media_attachments") or []
        if isinstance(m, dict)
    ]


def status_to_post(status: dict[str, Any], instance: str) -> Post | None:
    """A Post from a Mastodon Status; reblogs give the reblogged status, deleted/empty ones None."""
    if status.get("reblog"):
        status = status["reblog"]
    if not status.get("id") or not status.get("account"):
        return None
    host = host_of(instance)
    body = html_text(status.get("content"))
    text = body.text
    if status.get("spoiler_text"):  # content warning: keep it, it is part of what was posted
        text = f"CW: {status['spoiler_text']}\n{text}".strip()
    if status.get("poll"):
        options = [o.get("title", "") for o in status["poll"].get("options") or []]
        text += "".join(f"\n- {o}" for o in options if o)
    mentions = [full_acct(m["acct"], instance) for m in status.get("mentions") or [] if m.get("acct")]
    tags = [t["name"] for t in status.get("tags") or [] if t.get("name")]
    urls = list(body.urls)
    card = status.get("card") or {}
    if card.get("url"):
        urls.append(card["url"])
    mention_urls = {m.get("url") for m in status.get("mentions") or []}
    urls = [u for u in dict.fromkeys(urls) if u not in mention_urls and "/tags/" not in u]
    engagement = {
        k: int(status[v])
        for k, v in (("replies", "replies_count"), ("reblogs", "reblogs_count"),
                     ("likes", "favourites_count"), ("quotes", "quotes_count"))
        if status.get(v) is not None
    }
    return Post(
        source="mastodon",
        source_id=f"{host}/{status['id']}",
        text=text,
        created_at=from_iso(status["created_at"]),
        author=account_author(status["account"], instance),
        url=status.get("url") or status.get("uri"),
        lang=status.get("language"),
        reply_to=f"{host}/{status['in_reply_to_id']}" if status.get("in_reply_to_id") else None,
        mentions=list(dict.fromkeys(mentions or body.mentions)),
        hashtags=list(dict.fromkeys(tags or body.hashtags)),
        urls=urls,
        media=media_of(status),
        engagement=engagement,
        raw=status,
    )


def split_handle(handle: str) -> str:
    """`user@host` from `@user@host`, `user@host` or a profile URL `https://host/@user`."""
    handle = handle.strip()
    if handle.startswith(("http://", "https://")):
        parts = urlsplit(handle)
        user = parts.path.strip("/").split("/")[-1].lstrip("@")
        return f"{user}@{parts.netloc}"
    return handle.lstrip("@")


class MastodonSource(Source):
    """Public Mastodon posts from the configured instances (hashtags, accounts, and a token-gated stream)."""

    name: ClassVar[str] = "mastodon"
    title: ClassVar[str] = "Mastodon"

    def __init__(self, settings: MastodonSettings, fetcher: PoliteFetcher, guard: SsrfGuard | None = None) -> None:
        self.settings = settings
        self.fetcher = fetcher
        self.guard = guard or SsrfGuard()  # paging links come from the instance's answers: checked before use
        self.instances = [i.rstrip("/") for i in (settings.instances or [settings.base_url])]
        self.sleep = asyncio.sleep  # the stream's reconnect wait; tests replace it
        fetcher.configure(self.name, settings.rate_per_s)

    def _malformed(self, reason: str) -> FetchError:
        """A well-formed JSON answer of the wrong shape: counted against health, the poll keeps its cursor."""
        self.fetcher.breaker(self.name).failure(reason)
        return FetchError(self.name, reason)

    def _headers(self, instance: str) -> dict[str, str]:
        """The Authorization of `instance` only: a token is never sent to another instance."""
        token = self.settings.token_for(instance)
        return {"Authorization": f"Bearer {token}"} if token else {}

    async def _get(self, url: str, instance: str, what: str, params: dict[str, Any] | None = None
                   ) -> tuple[Any, httpx.Response]:
        response = await self.fetcher.get(url, key=self.name, params=params, headers=self._headers(instance))
        check_status(self.fetcher, self.name, response, what)
        return json_body(self.fetcher, self.name, response), response

    async def _timeline(
        self, url: str, instance: str, min_id: str | None, **extra: Any
    ) -> tuple[list[Post], str | None]:
        """Statuses newer than `min_id` from a timeline URL, following `Link: rel=prev` to catch up."""
        params: dict[str, Any] | None = {"limit": PAGE_LIMIT, **extra}
        if min_id:
            params["min_id"] = min_id
        posts: list[Post] = []
        newest = min_id
        next_url: str | None = url
        for _ in range(MAX_PAGES if min_id else 1):
            assert next_url is not None
            data, response = await self._get(next_url, instance, "timeline", params)
            if not isinstance(data, list):
                raise self._malformed("timeline answered without a status list")
            posts += parse_each(self.name, data, lambda s: status_to_post(s, instance))
            ids = [int(s["id"]) for s in data if isinstance(s, dict) and str(s.get("id", "")).isdigit()]
            if ids:
                newest = str(max(ids + ([int(newest)] if newest and newest.isdigit() else [])))
            prev = link_header(response.headers.get("link")).get("prev")
            if len(data) < PAGE_LIMIT or not prev or not await self._follows(prev, instance):
                break
            next_url, params = prev, None  # the link carries its own query (an empty dict would erase it)
        return posts, newest

    async def _follows(self, link: str, instance: str) -> bool:
        """Whether a paging link may be fetched: on the instance's own origin, and through the SSRF guard.

        A link elsewhere (say http://127.0.0.1/) would carry the instance's token there; paging stops
        instead, and the next poll carries on from the newest post seen.
        """
        try:
            if not same_origin(link, instance):
                raise Blocked(link, f"not on {instance}")
            await self.guard.check(link)
        except Blocked as exc:
            self.fetcher.breaker(self.name).failure("paging link refused")
            log.warning("paging link refused", extra={"source": self.name, "instance": instance,
                                                      "reason": exc.reason[:200]})
            return False
        return True

    async def search(self, terms: Sequence[str], cursor: str | None) -> Page:
        """Posts under each term's hashtag on every instance; the cursor keeps a `min_id` per instance and tag."""
        state: dict[str, str] = cursor_state(cursor)
        tags = list(dict.fromkeys(t.strip().lstrip("#").replace(" ", "").lower() for t in terms))
        tags = [t for t in tags if HASHTAG_RE.match(t)]
        if not tags:
            raise NotSupported("Mastodon is searched by hashtag: give single-word terms (e.g. #osint)")
        found: dict[str, Post] = {}
        errors: list[FetchError] = []
        for instance in self.instances:
            for tag in tags:
                key = f"{instance}|{tag}"
                url = f"{instance}/api/v1/timelines/tag/{quote(tag)}"
                try:
                    posts, newest = await self._timeline(url, instance, state.get(key))
                except FetchError as exc:  # one failing instance does not stop the others
                    errors.append(exc)
                    continue
                if newest:
                    state[key] = newest
                for post in posts:
                    found.setdefault(post.source_id, post)
        if errors and len(errors) == len(self.instances) * len(tags):
            raise errors[0]
        return Page(sorted(found.values(), key=lambda p: p.created_at), json.dumps(state, sort_keys=True))

    async def _lookup(self, handle: str) -> tuple[dict[str, Any], str]:
        acct = split_handle(handle)
        errors: list[FetchError] = []
        for instance in self.instances:
            try:
                data, _ = await self._get(f"{instance}/api/v1/accounts/lookup", instance, "account lookup",
                                          {"acct": acct})
            except FetchError as exc:
                errors.append(exc)
                continue
            if isinstance(data, dict) and data.get("id"):
                return data, instance
        if errors and all(e.status != 404 for e in errors):
            raise errors[0]
        raise FetchError(self.name, f"no Mastodon account {acct!r} known to {', '.join(map(host_of, self.instances))}",
                         404)

    async def account_feed(self, handle: str, cursor: str | None) -> Page:
        """An account's own posts (no boosts) newer than the cursor (account id, instance and `min_id`)."""
        state: dict[str, str] = cursor_state(cursor)
        if not state.get("account") or not state.get("instance"):
            account, instance = await self._lookup(handle)
            state = {"account": str(account["id"]), "instance": instance}
        instance = state["instance"]
        url = f"{instance}/api/v1/accounts/{state['account']}/statuses"
        posts, newest = await self._timeline(url, instance, state.get("min_id"), exclude_reblogs="true")
        if newest:
            state["min_id"] = newest
        return Page(sorted(posts, key=lambda p: p.created_at), json.dumps(state, sort_keys=True))

    async def profile(self, handle: str) -> Profile:
        """The account's bio, fields, counts and creation date."""
        account, instance = await self._lookup(handle)
        note = html_text(account.get("note"))
        links = list(note.urls)
        for f in account.get("fields") or []:
            links += html_text(f.get("value")).urls
        return Profile(
            source=self.name,
            author=account_author(account, instance),
            bio=note.text,
            url=account.get("url"),
            links=list(dict.fromkeys(links)),
            created_at=from_iso(account["created_at"]) if account.get("created_at") else None,
            counts={k: int(account[v]) for k, v in (("followers", "followers_count"), ("following", "following_count"),
                                                    ("posts", "statuses_count")) if account.get(v) is not None},
            raw=account,
        )

    def stream(self, cursor: str | None) -> AsyncIterator[tuple[Post, str]]:
        """The first instance's public timeline as it happens (Server-Sent Events); needs its token."""
        if not self.settings.token_for(self.instances[0]):
            raise NotSupported(
                "Mastodon streaming needs an access token since Mastodon 4.2 (set sources.mastodon.token, or "
                "tokens for several instances); "
                "hashtags and accounts are polled instead"
            )
        return self._stream()

    async def _stream(self) -> AsyncIterator[tuple[Post, str]]:
        instance = self.instances[0]
        url = f"{self.settings.streaming_url.rstrip('/') or instance}/api/v1/streaming/public"
        breaker = self.fetcher.breaker(f"{self.name}.stream")
        attempt = 0
        while True:
            try:
                async with self.fetcher.client.stream(
                    "GET", url, headers={**self._headers(instance), "Accept": "text/event-stream"},
                    timeout=httpx.Timeout(30.0, read=None),
                ) as response:
                    if response.status_code != 200:
                        raise FetchError(self.name, f"stream: HTTP {response.status_code}", response.status_code)
                    breaker.success()
                    attempt = 0
                    async for event, data in sse_events(response.aiter_lines()):
                        post = self._stream_post(event, data, instance)
                        if post is not None:
                            yield post, post.source_id
                breaker.failure("the server closed the stream")
            except (httpx.HTTPError, FetchError) as exc:
                breaker.failure(str(exc)[:200])
                if isinstance(exc, FetchError) and exc.status in (401, 403):
                    raise
            delay = min(STREAM_BACKOFF_MAX_S, 2.0**attempt) * (0.5 + random.random() / 2)
            attempt += 1
            log.info("mastodon stream reconnecting", extra={"source": self.name, "delay_s": round(delay, 1)})
            await self.sleep(delay)

    def _stream_post(self, event: str, data: str, instance: str) -> Post | None:
        if event not in ("update", "status.update"):
            return None
        try:
            return status_to_post(json.loads(data), instance)
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            log.warning("malformed item skipped", extra={"source": self.name, "error": f"{type(exc).__name__}: {exc}"})
            return None


async def sse_events(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, str]]:
    """(event, data) pairs from a text/event-stream; comments (`:thump`) are skipped."""
    event, data = "message", []
    async for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
