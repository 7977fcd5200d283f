"""Alert messages: the outbox payload for a matched post, a group or a signal, and the Reply drawn from it.

The payload is plain JSON stored in the outbox row, so an alert can be drawn after a restart
without the post (which `/forget` may have removed meanwhile). Relayed text stays plain spans.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from bot.reply import Button, Reply, Span, Style, bold, code, link
from handlers.monitor.matcher import highlight_spans
from handlers.monitor.post import Post

SNIPPET_CHARS = 400
GROUP_SNIPPET_CHARS = 140
SIGNAL_QUERY_CHARS = 80
TOP_IN_GROUP = 3
MUTE_BUTTONS = 4  # an alert naming more watches offers mute buttons for the first ones (the rest: /watch mute)


def post_payload(post: Post, post_id: int, terms: list[str]) -> dict[str, Any]:
    """The part of a payload describing one matched post (snippet cut around the first match)."""
    return {
        "id": post_id,
        "source": post.source,
        "source_id": post.source_id,
        "author_handle": post.author.handle,
        "author_name": post.author.name,
        "created_at": post.created_at.isoformat(),
        "url": post.url,
        "title": post.title,
        "snippet": snippet(post.text or post.title or "", terms, SNIPPET_CHARS),
        "terms": list(terms),
        "score": sum(v for v in post.engagement.values() if isinstance(v, int)),
    }


def alert_payload(watches: list[tuple[int, str]], post: dict[str, Any]) -> dict[str, Any]:
    """The outbox payload of one post alerted to one chat: the chat's watches that matched it, first one first."""
    (watch_id, query), *_ = watches
    return {"kind": "alert", "watch_id": watch_id, "query": query,
            "watches": [{"id": i, "query": q} for i, q in watches], "post": post}


def group_payload(watch_id: int, query: str, posts: list[dict[str, Any]], minutes: int) -> dict[str, Any]:
    """The outbox payload summarising many alerts of one watch: the count and the top posts."""
    top = sorted(posts, key=lambda p: (p.get("score", 0), p.get("created_at", "")), reverse=True)
    return {
        "kind": "group",
        "watch_id": watch_id,
        "query": query,
        "count": len(posts),
        "minutes": max(1, minutes),
        "top": top[:TOP_IN_GROUP],
    }


def signal_payload(watch_id: int, query: str, kind: str, text: str, window: str) -> dict[str, Any]:
    """The outbox payload of a signal: a term spike or a negative surge (`window` as /trends takes it, e.g. 1d)."""
    return {"kind": "signal", "watch_id": watch_id, "query": query, "signal": kind, "text": text, "window": window}


def minutes_between(start: datetime, end: datetime) -> int:
    """Whole minutes from `start` to `end`, rounded up."""
    return max(1, math.ceil((end - start).total_seconds() / 60))


def snippet(text: str, terms: list[str], limit: int) -> str:
    """Up to `limit` characters of `text`, centred on the first matched term when it is far in."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    found = highlight_spans(flat, terms)
    first = found[0][0] if found else 0
    start = max(0, min(first - limit // 3, len(flat) - limit))
    cut = flat[start : start + limit]
    return ("…" if start else "") + cut + ("…" if start + limit < len(flat) else "")


def highlighted(text: str, terms: list[str]) -> list[Span]:
    """`text` as plain spans with the matched terms in bold."""
    out: list[Span] = []
    pos = 0
    for start, end in sorted(highlight_spans(text, terms)):
        if start < pos:
            continue
        if start > pos:
            out.append(Span(text[pos:start]))
        out.append(Span(text[start:end], Style.BOLD))
        pos = end
    if pos < len(text):
        out.append(Span(text[pos:]))
    return out


def render(payload: dict[str, Any]) -> Reply:
    """The Reply for an outbox payload (an alert, a group or a signal)."""
    if payload.get("kind") == "group":
        return _render_group(payload)
    if payload.get("kind") == "signal":
        return _render_signal(payload)
    return _render_alert(payload)


def _byline(post: dict[str, Any]) -> list[Span | str]:
    parts: list[Span | str] = [bold(post["source"])]
    if post.get("author_handle"):
        parts += [" · ", f"@{post['author_handle']}"]
        if post.get("author_name") and post["author_name"] != post["author_handle"]:
            parts += [f" ({post['author_name']})"]
    parts += [" · ", _when(post.get("created_at"))]
    return parts


def _when(iso: str | None) -> str:
    if not iso:
        return "time unknown"
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")


def _watches(payload: dict[str, Any]) -> list[tuple[int, str]]:
    """The watches an alert names (rows queued before alerts named several carry one)."""
    listed = payload.get("watches") or [{"id": payload["watch_id"], "query": payload["query"]}]
    return [(int(w["id"]), str(w["query"])) for w in listed]


def _render_alert(payload: dict[str, Any]) -> Reply:
    post = payload["post"]
    watches = _watches(payload)
    heading: list[Span | str] = ["🔔 "]
    for index, (watch_id, query) in enumerate(watches):
        heading += [" · " if index else "", bold(f"Watch {watch_id}"), " ", code(query)]
    reply = Reply.text(*heading)
    reply.para(*_byline(post))
    if post.get("title"):
        reply.para(*[Span(s.text, Style.BOLD) for s in highlighted(post["title"], post["terms"])])
    if post.get("snippet") and post["snippet"] != post.get("title"):
        reply.para(*highlighted(post["snippet"], post["terms"]))
    if post.get("url"):
        reply.para(link(post["url"], post["url"]))
    return reply.buttons(*_buttons([watch_id for watch_id, _query in watches], post))


def _render_group(payload: dict[str, Any]) -> Reply:
    reply = Reply.text(
        "📈 ", bold(f"{payload['count']} new matches"), " for ", code(payload["query"]),
        f" in {payload['minutes']} min — top {len(payload['top'])} shown",
    )
    for post in payload["top"]:
        text = snippet(post.get("snippet") or post.get("title") or "", post["terms"], GROUP_SNIPPET_CHARS)
        parts: list[Span | str] = [*_byline(post), ": ", *highlighted(text, post["terms"])]
        if post.get("url"):
            parts += [" ", link("open", post["url"])]
        reply.para(*parts)
    return reply.buttons(
        [Button("Mute 1h", f"/watch mute {payload['watch_id']} 1h"),
         Button("Show watch", f"/watch show {payload['watch_id']}")]
    )


def _render_signal(payload: dict[str, Any]) -> Reply:
    watch_id = payload["watch_id"]
    surge = payload["signal"] == "surge"
    query = payload["query"]
    if len(query) > SIGNAL_QUERY_CHARS:
        query = query[: SIGNAL_QUERY_CHARS - 1] + "…"
    reply = Reply.text("😠 " if surge else "⚡ ", bold(f"Watch {watch_id}"), " ", code(query), ": ", payload["text"])
    look = (Button("Sentiment", f"/sentiment {watch_id}") if surge
            else Button("Trends", f"/trends {watch_id} {payload['window']}"))
    return reply.buttons([look, Button("Mute 1h", f"/watch mute {watch_id} 1h")])


def _buttons(watch_ids: list[int], post: dict[str, Any]) -> list[list[Button]]:
    """Mute (each watch its own button when the alert names several), add to case, profile the author."""
    mutes = [Button("Mute 1h", f"/watch mute {watch_ids[0]} 1h")] if len(watch_ids) == 1 else [
        Button(f"Mute {watch_id} 1h", f"/watch mute {watch_id} 1h") for watch_id in watch_ids[:MUTE_BUTTONS]]
    row = [Button("Add to case", f"/case add post:{post['id']}")]
    handle = post.get("author_handle")
    if handle and not any(ch.isspace() for ch in handle):
        row.append(Button("Profile author", f"/profile {post['source']} {handle}"))
    if len(mutes) == 1:
        return [mutes + row]
    return [row, mutes]
