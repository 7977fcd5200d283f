"""Parses the recorded HN, Mastodon, Bluesky and feed samples in ../shared/samples (skipped when absent)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import feedparser
import pytest

from handlers.fetch import CircuitBreaker
from handlers.monitor.sources.bluesky import event_to_post, post_view_to_post
from handlers.monitor.sources.hackernews import hit_to_post, item_to_post
from handlers.monitor.sources.jetstream import Jetstream
from handlers.monitor.sources.mastodon import status_to_post
from handlers.monitor.sources.rss import entry_to_post
from tests.fakes_sources_a import SAMPLES

pytestmark = [pytest.mark.samples, pytest.mark.skipif(not SAMPLES.exists(), reason="../shared/samples not present")]


def load(path: str) -> object:
    return json.loads((SAMPLES / path).read_text(encoding="utf-8"))


def test_hackernews_samples() -> None:
    hits = load("hackernews/algolia_search_restrict_url.json")["hits"]  # type: ignore[index]
    posts = [hit_to_post(h) for h in hits]
    assert all(p is not None and p.urls and p.created_at.tzinfo for p in posts)
    for name in ("item_story_8863", "item_comment_2921983", "item_ask_121003", "item_job_192327", "item_poll_126809"):
        post = item_to_post(load(f"hackernews/{name}.json"))  # type: ignore[arg-type]
        assert post is not None and (post.text or post.title)
    comment = item_to_post(load("hackernews/item_comment_2921983.json"))  # type: ignore[arg-type]
    assert comment is not None and "<p>" not in comment.text and "\n\n" in comment.text


def test_mastodon_samples() -> None:
    count = 0
    for name in ("timelines_public.json", "timelines_public_with_poll.json", "timelines_tag.json",
                 "timelines_home.json", "account_statuses.json"):
        for status in load(f"mastodon/{name}"):  # type: ignore[union-attr]
            post = status_to_post(status, "http://localhost:3000")
            assert post is not None and "<p>" not in post.text and post.author.handle
            count += 1
    assert count > 20
    media = status_to_post(load("mastodon/status_with_media.json"), "http://localhost:3000")  # type: ignore[arg-type]
    assert media is not None and media.media and media.lang == "ja"


def test_bluesky_samples() -> None:
    thread = load("bluesky/app.bsky.feed.getPostThread.json")["thread"]  # type: ignore[index]
    post = post_view_to_post(thread["post"])
    assert post is not None and post.author.handle == "test.marshal.dev" and post.media
    jet = Jetstream("wss://unused", breaker=CircuitBreaker("samples"))
    posts = []
    for name in ("jetstream_subscribe_events.jsonl", "jetstream_subscribe_golden10.jsonl"):
        for line in (SAMPLES / "bluesky" / name).read_text(encoding="utf-8").splitlines():
            event = jet.accept(line)
            if event is not None:
                posts.append(event_to_post(event))
    assert len(posts) >= 18 and jet.stats.malformed == 0
    assert all(p.url and p.url.startswith("https://bsky.app/profile/did:") for p in posts)
    assert any(p.hashtags for p in posts) and any(p.urls for p in posts)


def test_feed_samples() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    total = 0
    for path in sorted((SAMPLES / "feeds").glob("*.xml")):
        parsed = feedparser.parse(path.read_bytes())
        for entry in parsed.entries:
            post = entry_to_post(entry, f"https://feeds.test/{path.name}", parsed.feed.get("language"), now)
            assert post.source_id and post.created_at.tzinfo is not None
            total += 1
    assert total >= 15
