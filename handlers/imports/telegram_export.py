"""Telegram Desktop exports (`result.json`): one chat or channel, or a whole-account export."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, BinaryIO

from handlers.imports.record import RecordError, RowError, Skipped, check_values, parse_time
from handlers.monitor.post import Author, Post
from handlers.monitor.sources.html_text import plain_text

MAX_EXPORT_BYTES = 256 << 20  # result.json is parsed whole; bigger exports should be split or converted to JSONL
LINKABLE_TYPES = frozenset({"public_channel", "private_channel", "public_supergroup", "private_supergroup"})


class ExportError(ValueError):
    """The file is not a Telegram Desktop export this reader understands."""


def flatten_text(value: Any) -> tuple[str, dict[str, list[str]]]:
    """Export `text` (a string, or a list of strings and entity objects) → plain text and its entities."""
    found: dict[str, list[str]] = {"urls": [], "mentions": [], "hashtags": []}
    if isinstance(value, str):
        return value, found
    if not isinstance(value, list):
        raise RecordError("text", f"expected a string or a list, got {type(value).__name__}")
    parts: list[str] = []
    for piece in value:
        if isinstance(piece, str):
            parts.append(piece)
            continue
        if not isinstance(piece, dict):
            raise RecordError("text", f"unexpected {type(piece).__name__} in the text list")
        text = str(piece.get("text") or "")
        parts.append(text)
        kind = piece.get("type")
        if kind == "link":
            found["urls"].append(text)
        elif kind == "text_link" and piece.get("href"):
            found["urls"].append(str(piece["href"]))
        elif kind == "mention":
            found["mentions"].append(text.lstrip("@"))
        elif kind == "hashtag":
            found["hashtags"].append(text.lstrip("#"))
    return "".join(parts), found


def _media(message: dict[str, Any]) -> list[dict[str, Any]]:
    media: list[dict[str, Any]] = []
    if message.get("photo"):
        media.append({"type": "photo", "file": message["photo"]})
    if message.get("file"):
        media.append({"type": message.get("media_type") or "file", "file": message["file"],
                      "mime": message.get("mime_type")})
    return media


def message_to_post(message: dict[str, Any], chat: dict[str, Any]) -> Post | None:
    """One exported message → Post; None for service messages and messages with neither text nor media."""
    if message.get("type") != "message":
        return None
    check_values(message)
    msg_id = message.get("id")
    if not isinstance(msg_id, int):
        raise RecordError("id", "missing or not a number")
    when = message.get("date_unixtime") or message.get("date")  # `date` is the exporting PC's local time
    if when in (None, ""):
        raise RecordError("date", "missing")
    text, entities = flatten_text(message.get("text", ""))
    body = plain_text(text)
    media = _media(message)
    if not body.text and not media:
        return None
    chat_id = chat.get("id")
    sender = message.get("from") or message.get("actor")
    raw = {k: message[k] for k in ("forwarded_from", "edited", "via_bot", "reply_to_peer_id") if message.get(k)}
    raw["chat"] = {k: chat.get(k) for k in ("id", "name", "type")}
    check_values(raw)
    return Post(
        source="telegram",
        source_id=f"{chat_id}/{msg_id}",
        text=body.text,
        created_at=parse_time(when),
        author=Author(id=message.get("from_id") or message.get("actor_id"), handle=None,
                      name=str(sender) if sender else None),
        url=f"https://t.me/c/{chat_id}/{msg_id}" if chat.get("type") in LINKABLE_TYPES else None,
        reply_to=f"{chat_id}/{message['reply_to_message_id']}" if message.get("reply_to_message_id") else None,
        thread_id=str(chat_id),
        mentions=list(dict.fromkeys(entities["mentions"] + body.mentions)),
        hashtags=list(dict.fromkeys(entities["hashtags"] + body.hashtags)),
        urls=list(dict.fromkeys(entities["urls"] + body.urls)),
        media=media,
        raw=raw,
    )


def _chats(export: Any) -> list[dict[str, Any]]:
    if isinstance(export, dict) and isinstance(export.get("messages"), list):
        return [export]
    if isinstance(export, dict) and isinstance(export.get("chats"), dict):
        chats = list(export["chats"].get("list") or [])
        chats += list((export.get("left_chats") or {}).get("list") or [])
        return [c for c in chats if isinstance(c, dict) and isinstance(c.get("messages"), list)]
    raise ExportError("not a Telegram Desktop export: expected a JSON object with `messages` (one chat) "
                      "or `chats.list` (whole account); export as 'Machine-readable JSON'")


def read_export(stream: BinaryIO) -> Iterator[Post | RowError | Skipped]:
    """Each message of every chat in the export → Post, RowError (naming the message) or Skipped."""
    data = stream.read(MAX_EXPORT_BYTES + 1)
    if len(data) > MAX_EXPORT_BYTES:
        raise ExportError(f"the export is larger than {MAX_EXPORT_BYTES >> 20} MiB; "
                          "export chats one at a time, or convert it to JSONL")
    try:
        export = json.loads(data)
    except ValueError as exc:
        raise ExportError(f"result.json is not valid JSON ({exc})") from None
    except RecursionError:
        raise ExportError("result.json is nested too deeply to be a Telegram Desktop export") from None
    del data
    for chat in _chats(export):
        label = chat.get("name") or chat.get("id")
        for index, message in enumerate(chat["messages"], 1):
            where = f"{label}: message {message.get('id', f'#{index}') if isinstance(message, dict) else f'#{index}'}"
            if not isinstance(message, dict):
                yield RowError(where, "not a JSON object")
                continue
            try:
                post = message_to_post(message, chat)
            except RecordError as exc:
                yield RowError(where, str(exc))
                continue
            yield post if post is not None else Skipped(where, f"{message.get('type', 'empty')} message")
