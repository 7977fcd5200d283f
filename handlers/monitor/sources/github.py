"""GitHub: issue/PR search and a user's public events (ETag polling, X-Poll-Interval honoured)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import httpx

from config.sources import GitHubSettings
from handlers.fetch import PoliteFetcher
from handlers.monitor.post import Author, Post
from handlers.monitor.sources.base import Page, Profile, Source
from handlers.monitor.sources.html_text import plain_text
from handlers.monitor.sources.payload import check_status, cursor_state, from_iso, json_body, parse_each

WEB_URL = "https://github.com"
SEARCH_PER_PAGE = 50
EVENTS_PER_PAGE = 100


def _is_pull(issue: dict[str, Any]) -> bool:
    """Search items and old event payloads carry `pull_request` on plain issues too, with null URLs."""
    pull = issue.get("pull_request")
    return bool(pull and (pull.get("html_url") or pull.get("url")))


def _repo_from_api_url(url: str | None) -> str | None:
    """`owner/repo` from `https://api.github.com/repos/owner/repo[/...]`."""
    if not url or "/repos/" not in url:
        return None
    parts = url.split("/repos/", 1)[1].split("/")
    return "/".join(parts[:2]) if len(parts) >= 2 else None


def parse_issue(item: dict[str, Any]) -> Post:
    """A `/search/issues` item → Post (issues and pull requests)."""
    user = item.get("user") or {}
    body = plain_text(item.get("body") or "")
    title = plain_text(item.get("title") or "")
    repo = _repo_from_api_url(item.get("repository_url") or item.get("url"))
    kind = "pull request" if _is_pull(item) else "issue"
    reactions = (item.get("reactions") or {}).get("total_count")
    engagement = {"comments": int(item.get("comments") or 0)}
    if reactions is not None:
        engagement["reactions"] = int(reactions)
    return Post(
        source="github",
        source_id=f"issue:{item['id']}",
        text=body.text,
        title=title.text or None,
        created_at=from_iso(item["created_at"]),
        author=Author(id=str(user["id"]) if user.get("id") else None, handle=user.get("login")),
        url=item.get("html_url"),
        thread_id=f"{repo}#{item.get('number')}" if repo else None,
        mentions=body.mentions,
        hashtags=[],
        urls=body.urls,
        engagement=engagement,
        raw={**item, "kind": kind, "repo": repo,
             "labels": [label.get("name") for label in item.get("labels") or [] if isinstance(label, dict)]},
    )


def _event_text(kind: str, payload: dict[str, Any], repo: str) -> tuple[str, str | None]:
    """What an event says in words, and its most specific web link (None = the repository)."""
    issue = payload.get("issue") or payload.get("pull_request") or {}
    comment = payload.get("comment") or {}
    action = payload.get("action") or ""
    number = issue.get("number")
    if kind == "PushEvent":
        commits = payload.get("commits") or []
        branch = str(payload.get("ref") or "").removeprefix("refs/heads/")
        lines = [str(c.get("message") or "").split("\n", 1)[0] for c in commits]
        head = f"pushed {payload.get('size', len(commits))} commit(s) to {repo}" + (f" ({branch})" if branch else "")
        return "\n".join([head, *lines]), None
    if kind in ("IssuesEvent", "PullRequestEvent"):
        what = "pull request" if kind == "PullRequestEvent" or _is_pull(issue) else "issue"
        text = f"{action} {what} #{number}: {issue.get('title') or ''}\n{issue.get('body') or ''}"
        return text, issue.get("html_url")
    if kind in ("IssueCommentEvent", "CommitCommentEvent", "PullRequestReviewCommentEvent"):
        on = f" on #{number} ({issue.get('title') or ''})" if number else ""
        return f"commented{on}: {comment.get('body') or ''}", comment.get("html_url") or issue.get("html_url")
    if kind == "ReleaseEvent":
        release = payload.get("release") or {}
        return (f"{action} release {release.get('tag_name') or ''} {release.get('name') or ''}\n"
                f"{release.get('body') or ''}", release.get("html_url"))
    if kind in ("CreateEvent", "DeleteEvent"):
        verb = "created" if kind == "CreateEvent" else "deleted"
        return f"{verb} {payload.get('ref_type') or ''} {payload.get('ref') or ''} in {repo}", None
    if kind == "ForkEvent":
        forkee = payload.get("forkee") or {}
        return f"forked {repo} to {forkee.get('full_name') or forkee.get('name') or ''}", forkee.get("html_url")
    if kind == "WatchEvent":
        return f"starred {repo}", None
    return f"{kind.removesuffix('Event')} {action} in {repo}".replace("  ", " "), None


def parse_event(event: dict[str, Any], web_url: str = WEB_URL) -> Post:
    """A public event → Post whose text says what the user did (push messages, issue text, comments)."""
    actor = event.get("actor") or {}
    repo = (event.get("repo") or {}).get("name") or ""
    text, link = _event_text(event["type"], event.get("payload") or {}, repo)
    body = plain_text(text)
    return Post(
        source="github",
        source_id=f"event:{int(event['id'])}",
        text=body.text,
        created_at=from_iso(event["created_at"]),
        author=Author(id=str(actor["id"]) if actor.get("id") else None, handle=actor.get("login"),
                      name=actor.get("display_login") if actor.get("display_login") != actor.get("login") else None),
        url=link or (f"{web_url}/{repo}" if repo else None),
        thread_id=repo or None,
        mentions=body.mentions,
        urls=body.urls,
        raw=event,
    )


class GitHubSource(Source):
    """GitHub's public API: `search/issues` for terms, `users/{u}/events/public` for accounts."""

    name = "github"
    title = "GitHub (issues, pull requests, public events)"

    def __init__(self, settings: GitHubSettings, fetcher: PoliteFetcher,
                 *, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.fetcher = fetcher
        self.base_url = settings.base_url.rstrip("/")
        self._clock = clock
        self._not_before: dict[str, float] = {}
        fetcher.configure(self.name, settings.rate_per_s)

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        if self.settings.token:
            headers["Authorization"] = f"Bearer {self.settings.token.get_secret_value()}"
        return headers

    async def _get(self, path: str, what: str, *, params: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> httpx.Response:
        response = await self.fetcher.get(f"{self.base_url}{path}", key=self.name, params=params or {},
                                          headers={**self._headers(), **(headers or {})}, ok_statuses=(304,))
        if response.status_code in (403, 429) and response.headers.get("X-RateLimit-Remaining") == "0":
            reset = response.headers.get("X-RateLimit-Reset", "")
            if reset.isdigit():
                self.fetcher.limiter.pause(self.name, max(0.0, int(reset) - time.time()))
        check_status(self.fetcher, self.name, response, what)
        return response

    async def search(self, terms: Sequence[str], cursor: str | None) -> Page:
        """Issues and PRs created after the cursor (an ISO time) that match any term."""
        since = from_iso(cursor) if cursor else None
        found: dict[str, Post] = {}
        for term in terms:
            query = f'"{term}"' if " " in term and not term.startswith('"') else term
            if since:
                query += f" created:>{since.strftime('%Y-%m-%dT%H:%M:%SZ')}"
            response = await self._get("/search/issues", "issue search", params={
                "q": query, "sort": "created", "order": "desc", "per_page": SEARCH_PER_PAGE})
            body = json_body(self.fetcher, self.name, response, dict)
            for post in parse_each(self.name, body.get("items") or [], parse_issue):
                if since is None or post.created_at > since:
                    found[post.source_id] = post
        posts = sorted(found.values(), key=lambda p: p.created_at)
        newest: datetime | None = posts[-1].created_at if posts else since
        return Page(posts, newest.isoformat() if newest else cursor)

    async def account_feed(self, handle: str, cursor: str | None) -> Page:
        """A user's new public events; unchanged feeds cost nothing (304) and X-Poll-Interval is obeyed."""
        user = handle.strip().lstrip("@").removeprefix("https://github.com/").strip("/")
        state = cursor_state(cursor)
        if self._clock() < self._not_before.get(user, 0.0):
            return Page([], cursor)
        headers = {"If-None-Match": state["etag"]} if state.get("etag") else {}
        response = await self._get(f"/users/{user}/events/public", f"events of {user}",
                                   params={"per_page": EVENTS_PER_PAGE}, headers=headers)
        interval = response.headers.get("X-Poll-Interval", "")
        if interval.isdigit():
            self._not_before[user] = self._clock() + int(interval)
        if response.status_code == 304:
            return Page([], cursor)
        events = json_body(self.fetcher, self.name, response, list)
        last = int(state.get("last_id") or 0)
        posts = [p for p in parse_each(self.name, events if isinstance(events, list) else [], parse_event)
                 if int(p.source_id.split(":", 1)[1]) > last]
        newest = max([last, *(int(p.source_id.split(":", 1)[1]) for p in posts)])
        new_state = {"last_id": str(newest) if newest else None, "etag": response.headers.get("ETag")}
        return Page(sorted(posts, key=lambda p: p.created_at), json.dumps(new_state, sort_keys=True))

    async def profile(self, handle: str) -> Profile:
        user = handle.strip().lstrip("@")
        data = json_body(self.fetcher, self.name, await self._get(f"/users/{user}", f"user {user}"), dict)
        bio = plain_text(data.get("bio") or "")
        links = [u for u in (data.get("blog"), data.get("html_url")) if u]
        return Profile(
            source=self.name,
            author=Author(id=str(data["id"]), handle=data["login"], name=data.get("name")),
            bio=bio.text,
            url=data.get("html_url"),
            links=links,
            created_at=from_iso(data["created_at"]) if data.get("created_at") else None,
            counts={k: int(data[k]) for k in ("followers", "following", "public_repos", "public_gists") if k in data},
            raw={k: data.get(k) for k in ("type", "company", "location", "twitter_username", "updated_at")},
        )
