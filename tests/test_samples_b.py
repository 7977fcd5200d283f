"""Optional: parse the recorded real responses in ../shared/samples with the Sources B parsers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from handlers.monitor.sources.fourchan import catalog_posts, thread_posts
from handlers.monitor.sources.github import parse_event
from handlers.monitor.sources.payload import parse_each
from handlers.monitor.sources.reddit import parse_listing

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
pytestmark = [pytest.mark.samples, pytest.mark.skipif(not SAMPLES.exists(), reason="../shared/samples is absent")]

WEB, MEDIA = "https://boards.4chan.org", "https://i.4cdn.org"


def load(path: str) -> Any:
    return json.loads((SAMPLES / path).read_text(encoding="utf-8"))


def test_4chan_catalog_and_thread() -> None:
    catalog = catalog_posts(load("4chan/catalog.json"), "po", WEB, MEDIA)
    threads = sum(len(page["threads"]) for page in load("4chan/catalog.json"))
    assert len(catalog) >= threads
    assert all(p.url and p.url.startswith(f"{WEB}/po/thread/") for p in catalog)
    assert all("<br>" not in p.text and "&gt;" not in p.text for p in catalog)
    thread = thread_posts(load("4chan/thread.json"), "po", WEB, MEDIA)
    raw = load("4chan/thread.json")["posts"]
    assert len(thread) == len(raw)
    assert thread[0].reply_to is None and all(p.thread_id == thread[0].thread_id for p in thread)


@pytest.mark.parametrize("name", ["users_USER_events_public.json", "users_USER_events.json",
                                  "events_public_timeline.json", "repos_OWNER_REPO_events.json",
                                  "orgs_ORG_events.json"])
def test_github_events(name: str) -> None:
    events = load(f"github/{name}")
    posts = parse_each("github", events, parse_event)
    assert len(posts) == len(events)
    assert all(p.text and p.author.handle and p.created_at.tzinfo for p in posts)


REDDIT_LISTINGS = ["r_all_new.json", "search_all_relevance.json", "user_submitted.json", "domain_new.json",
                   "r_popular_hot.json", "user_comments.json", "user_overview_top.json",
                   "subreddit_comments_stream.json", "submission_gallery_2025.json", "submission_video_2025.json",
                   "comments_thread_deleted_comment.json", "comments_thread_removed_comment.json",
                   "public_search_json_q_url.json"]


@pytest.mark.parametrize("name", REDDIT_LISTINGS)
def test_reddit_listings(name: str) -> None:
    payload = load(f"reddit/{name}")
    listings = payload if isinstance(payload, list) else [payload]
    things = []
    stack = [c for lst in listings for c in lst["data"]["children"]]
    while stack:  # comment trees nest replies as listings
        thing = stack.pop()
        if thing["kind"] in ("t1", "t3"):
            things.append(thing)
            if isinstance(thing["data"].get("replies"), dict):
                stack.extend(thing["data"]["replies"]["data"]["children"])
    posts, _ = parse_listing(payload)
    gone = [c for c in things if c["data"].get("author") == "[deleted]"
            or (c["data"].get("body") or c["data"].get("selftext")) in ("[deleted]", "[removed]")
            or c["data"].get("removed_by_category")]
    assert len(posts) == len(things) - len(gone)
    assert all(p.url and p.url.startswith("https://www.reddit.com/") for p in posts)
    assert all("&amp;" not in p.text for p in posts)
