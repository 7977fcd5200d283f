"""A fake Telegram Bot API server on 127.0.0.1 for driving the real python-telegram-bot stack offline.

It answers the methods the bot uses (getMe, deleteWebhook, setWebhook, getUpdates with long polling
and offset semantics — every update is kept until a later getUpdates confirms it with `offset`, as
Telegram does — sendMessage, sendPhoto, sendDocument, editMessageText, setMyCommands,
answerCallbackQuery, getFile and file downloads), checks what Telegram checks (HTML well-formed,
4096/1024 limits counted in UTF-16 after entity parsing, callback data ≤ 64 bytes), records every
call, and can be scripted to fail (429 with retry_after, 409 Conflict, 403, ...), to let confirmations
reach it late (`lag_confirmations`: a slow uplink, so a bot killed meanwhile never confirmed), and to
run a hook just before it answers a call (`on_answer`: e.g. kill the bot when its reply was accepted).

Usage::

    async with FakeBotAPI() as fake:          # settings.telegram.api_url = fake.url, token = fake.token
        fake.send_command("/help", chat_id=42, user_id=42)
        [call] = await fake.wait_for("sendMessage", chat_id=42)
        assert "help" in fake.visible(call)
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

DEFAULT_TOKEN = "123456789:AAFakeTokenForTestsOnly_0123456789abc"
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64

# Form fields whose values PTB sends JSON-encoded; all others arrive as raw strings.
_JSON_FIELDS = frozenset({
    "chat_id", "message_id", "offset", "limit", "timeout", "disable_notification", "protect_content",
    "show_alert", "cache_time", "reply_markup", "commands", "scope", "entities", "caption_entities",
    "allowed_updates", "link_preview_options", "reply_parameters", "drop_pending_updates",
    "message_thread_id", "reply_to_message_id", "allow_sending_without_reply", "has_spoiler",
    "show_caption_above_media", "max_connections", "disable_content_type_detection",
})
_ALLOWED_TAGS = frozenset({"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
                           "a", "code", "pre", "blockquote", "tg-emoji"})
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:=\"[^\"<>]*\")?)*)\s*>")
_ATTR = re.compile(r"([a-zA-Z-]+)=\"([^\"]*)\"")
_ENTITY = re.compile(r"&(#[0-9]+|#x[0-9a-fA-F]+|lt|gt|amp|quot);")


class EntityError(ValueError):
    """The text is not HTML that Telegram would parse."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, as Telegram counts."""
    return len(text.encode("utf-16-le")) // 2


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Telegram-style HTML parsing: the visible text and the tags (with hrefs); strict about escaping."""
    out: list[str] = []
    stack: list[str] = []
    tags: list[dict[str, Any]] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "<":
            m = _TAG.match(text, i)
            if not m:
                raise EntityError(f"Can't parse entities: unexpected '<' at byte offset {i}")
            closing, name, attrs = m.group(1) == "/", m.group(2).lower(), m.group(3)
            if name not in _ALLOWED_TAGS:
                raise EntityError(f"Can't parse entities: unsupported start tag \"{name}\" at byte offset {i}")
            if closing:
                if not stack or stack[-1] != name:
                    raise EntityError(f"Can't parse entities: can't find end tag corresponding to start tag "
                                      f"\"{stack[-1] if stack else name}\"")
                stack.pop()
            else:
                found = {k: html.unescape(v) for k, v in _ATTR.findall(attrs)}
                if name == "a" and "href" not in found:
                    raise EntityError("Can't parse entities: <a> without href")
                stack.append(name)
                tags.append({"tag": name, **found})
            i = m.end()
        elif ch == "&":
            m = _ENTITY.match(text, i)
            if not m:
                raise EntityError(f"Can't parse entities: unsupported entity at byte offset {i}")
            out.append(html.unescape(m.group(0)))
            i = m.end()
        elif ch == ">":
            raise EntityError(f"Can't parse entities: unescaped '>' at byte offset {i}")
        else:
            out.append(ch)
            i += 1
    if stack:
        raise EntityError(f"Can't parse entities: can't find end tag corresponding to start tag \"{stack[-1]}\"")
    return "".join(out), tags


class ApiError(Exception):
    """An error answer: HTTP status, description and optional parameters."""

    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


@dataclass
class Call:
    """One request the fake received."""

    method: str
    params: dict[str, Any]
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    at: float = 0.0  # time.perf_counter() on arrival
    status: int = 200
    result: Any = None  # what the fake answered (e.g. the sent Message)

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class Failure:
    """A scripted error answer for the next `times` calls of `method`."""

    method: str
    status: int
    description: str
    retry_after: int | None = None
    times: int = 1


# --------------------------------------------------------------------------- update builders
def user_dict(user_id: int, first_name: str = "Test", username: str | None = None) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": first_name,
            **({"username": username} if username else {})}


def chat_dict(chat_id: int, chat_type: str = "private", title: str | None = None) -> dict[str, Any]:
    if chat_type == "private":
        return {"id": chat_id, "type": "private", "first_name": "Test"}
    return {"id": chat_id, "type": chat_type, "title": title or "Test group"}


def message_update(text: str, *, chat_id: int, user_id: int, chat_type: str = "private",
                   first_name: str = "Test", username: str | None = None, title: str | None = None,
                   message_id: int = 1) -> dict[str, Any]:
    """A text message; a leading `/word` gets the bot_command entity Telegram adds."""
    message: dict[str, Any] = {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": chat_dict(chat_id, chat_type, title),
        "from": user_dict(user_id, first_name, username),
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(text.split()[0])}]
    return {"message": message}


def callback_update(data: str, *, chat_id: int, user_id: int, message_id: int, chat_type: str = "private",
                    first_name: str = "Test", query_id: str = "cbq-1") -> dict[str, Any]:
    """A press on an inline keyboard button of message `message_id`."""
    return {"callback_query": {
        "id": query_id,
        "from": user_dict(user_id, first_name),
        "chat_instance": f"ci-{chat_id}",
        "data": data,
        "message": {"message_id": message_id, "date": int(time.time()), "chat": chat_dict(chat_id, chat_type),
                    "text": "(buttons)"},
    }}


def document_update(caption: str, *, file_id: str, filename: str, size: int, chat_id: int, user_id: int,
                    mime: str = "text/csv", chat_type: str = "private", message_id: int = 1) -> dict[str, Any]:
    """A document with a caption (a `/import` style command when the caption starts with /)."""
    message: dict[str, Any] = {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": chat_dict(chat_id, chat_type),
        "from": user_dict(user_id),
        "caption": caption,
        "document": {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_name": filename,
                     "mime_type": mime, "file_size": size},
    }
    if caption.startswith("/"):
        message["caption_entities"] = [{"type": "bot_command", "offset": 0,
                                        "length": utf16_len(caption.split()[0])}]
    return {"message": message}


# --------------------------------------------------------------------------- the server
class FakeBotAPI:
    """The fake server: start it, point the bot at `url` with `token`, script updates, assert calls."""

    def __init__(self, token: str = DEFAULT_TOKEN, *, username: str = "socmint_test_bot",
                 bot_id: int = 123456789) -> None:
        self.token = token
        self.me = {"id": bot_id, "is_bot": True, "first_name": "SOCMINT test", "username": username,
                   "can_join_groups": True, "can_read_all_group_messages": False,
                   "supports_inline_queries": False}
        self.calls: list[Call] = []
        self.failures: list[Failure] = []
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.files: dict[str, tuple[str, bytes]] = {}
        self.commands: list[dict[str, Any]] = []
        self.webhook_url = ""
        self.pushed_at: dict[int, float] = {}
        self.confirm_lag_s = 0.0
        self.on_answer: Callable[[Call], None] | None = None
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._file_ids = itertools.count(1)
        self._changed = asyncio.Event()
        self._recorded = asyncio.Event()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # lifecycle ----------------------------------------------------------------
    @property
    def url(self) -> str:
        """The Bot API root to configure (`telegram.api_url`)."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FakeBotAPI:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        self._closing.set()
        self._wake()
        if self._runner:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeBotAPI:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # scripting ----------------------------------------------------------------
    def push(self, update: dict[str, Any]) -> int:
        """Queue an update for getUpdates; returns its update_id."""
        update_id = next(self._update_ids)
        self._updates.append({"update_id": update_id, **update})
        self.pushed_at[update_id] = time.perf_counter()
        self._wake()
        return update_id

    def send_command(self, text: str, *, chat_id: int, user_id: int, **kwargs: Any) -> int:
        """Queue a text message (a command when it starts with /)."""
        return self.push(message_update(text, chat_id=chat_id, user_id=user_id,
                                        message_id=next(self._message_ids), **kwargs))

    def press(self, data: str, *, chat_id: int, user_id: int, message_id: int, **kwargs: Any) -> int:
        """Queue a button press with callback `data`."""
        return self.push(callback_update(data, chat_id=chat_id, user_id=user_id, message_id=message_id,
                                         query_id=f"cbq-{next(self._update_ids)}", **kwargs))

    def upload(self, caption: str, filename: str, data: bytes, *, chat_id: int, user_id: int,
               mime: str = "text/csv", **kwargs: Any) -> int:
        """Store a file the bot can fetch with getFile and queue a document message captioned `caption`."""
        file_id = self.add_file(filename, data)
        return self.push(document_update(caption, file_id=file_id, filename=filename, size=len(data),
                                         chat_id=chat_id, user_id=user_id, mime=mime,
                                         message_id=next(self._message_ids), **kwargs))

    def add_file(self, filename: str, data: bytes) -> str:
        file_id = f"file-{next(self._file_ids)}"
        self.files[file_id] = (filename, data)
        return file_id

    def fail(self, method: str, status: int, description: str, *, retry_after: int | None = None,
             times: int = 1) -> None:
        """Answer the next `times` calls of `method` with an error."""
        self.failures.append(Failure(method, status, description, retry_after, times))

    def lag_confirmations(self, seconds: float) -> None:
        """Let a getUpdates that confirms updates arrive `seconds` late; one whose sender is gone by then never did."""
        self.confirm_lag_s = seconds

    def fail_rate_limit(self, method: str = "sendMessage", retry_after: int = 1) -> None:
        self.fail(method, 429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)

    def fail_conflict(self, times: int = 1) -> None:
        self.fail("getUpdates", 409, "Conflict: terminated by other getUpdates request; make sure that only "
                  "one bot instance is running", times=times)

    # asserting ----------------------------------------------------------------
    @property
    def pending(self) -> list[int]:
        """The ids of the updates not confirmed yet (Telegram would deliver them again)."""
        return [u["update_id"] for u in self._updates]

    def deliveries(self, update_id: int) -> int:
        """How many getUpdates answers carried update `update_id`."""
        return sum(1 for c in self.calls_to("getUpdates") for u in c.result or () if u["update_id"] == update_id)

    def calls_to(self, *methods: str, ok_only: bool = True) -> list[Call]:
        return [c for c in self.calls if c.method in methods and (c.ok or not ok_only)]

    def sent(self, chat_id: int | None = None) -> list[Call]:
        """Successful sendMessage/sendPhoto/sendDocument calls, optionally to one chat."""
        return [c for c in self.calls_to("sendMessage", "sendPhoto", "sendDocument")
                if chat_id is None or c.params.get("chat_id") == chat_id]

    @staticmethod
    def visible(call: Call) -> str:
        """The text a user would see for a send/edit call (HTML parsed)."""
        text = str(call.params.get("text", call.params.get("caption", "")))
        return parse_html(text)[0] if call.params.get("parse_mode") == "HTML" else text

    def texts(self, chat_id: int | None = None) -> list[str]:
        """Visible texts of the messages sent (to one chat), in order."""
        return [self.visible(c) for c in self.sent(chat_id) if c.method == "sendMessage"]

    async def wait_for(self, method: str, count: int = 1, *, timeout: float = 5.0, status: int = 200,
                       **match: Any) -> list[Call]:
        """Wait until `count` `method` calls answered with `status` and whose params include `match` arrived."""
        deadline = time.monotonic() + timeout
        while True:
            found = [c for c in self.calls if c.method == method and c.status == status
                     and all(c.params.get(k) == v for k, v in match.items())]
            if len(found) >= count:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = ", ".join(f"{c.method}:{c.status}" for c in self.calls[-20:])
                raise AssertionError(f"expected {count} {method} call(s) matching {match}, got {len(found)}; "
                                     f"last calls: {seen}")
            event = self._recorded
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    # serving ------------------------------------------------------------------
    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self._recorded.set()
        self._recorded = asyncio.Event()

    async def _params(self, request: web.Request) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
        raw: dict[str, str] = {}
        files: dict[str, tuple[str, bytes]] = {}
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if part.filename is not None:  # type: ignore[union-attr]
                    files[part.name or ""] = (part.filename, bytes(await part.read()))  # type: ignore[union-attr]
                else:
                    raw[part.name or ""] = await part.text()  # type: ignore[union-attr]
        elif request.content_type == "application/json":
            body = await request.json()
            return dict(body or {}), files
        else:
            raw = {k: str(v) for k, v in (await request.post()).items()}
            raw.update(request.query)
        params: dict[str, Any] = {}
        for key, value in raw.items():
            try:
                params[key] = json.loads(value) if key in _JSON_FIELDS else value
            except ValueError:
                params[key] = value
        return params, files

    async def _api(self, request: web.Request) -> web.Response:
        arrived = time.perf_counter()
        method = request.match_info["method"]
        params, files = await self._params(request)
        call = Call(method, params, files, arrived)
        if method == "getUpdates" and self.confirm_lag_s and self._confirms(params):
            await asyncio.sleep(self.confirm_lag_s)
            if request.transport is None or request.transport.is_closing():
                call.status = 0  # the sender died on the way: Telegram never saw this request
                self._record(call)
                return web.Response(status=499)
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            self._scripted_failure(method)
            handler = getattr(self, f"_m_{method}", None)
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            result = await handler(params, files)
        except ApiError as exc:
            call.status = exc.status
            self._record(call)
            body: dict[str, Any] = {"ok": False, "error_code": exc.status, "description": exc.description}
            if exc.parameters:
                body["parameters"] = exc.parameters
            return web.json_response(body, status=exc.status)
        call.result = result
        if self.on_answer is not None:
            self.on_answer(call)
        self._record(call)
        return web.json_response({"ok": True, "result": result})

    def _confirms(self, params: dict[str, Any]) -> bool:
        offset = int(params.get("offset") or 0)
        return bool(offset) and any(u["update_id"] < offset for u in self._updates)

    def _scripted_failure(self, method: str) -> None:
        for failure in self.failures:
            if failure.method == method and failure.times > 0:
                failure.times -= 1
                parameters = {"retry_after": failure.retry_after} if failure.retry_after is not None else None
                raise ApiError(failure.status, failure.description, parameters)

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        path = request.match_info["path"]
        for file_id, (_name, data) in self.files.items():
            if path == f"documents/{file_id}":
                self._record(Call("download", {"file_path": path}))
                return web.Response(body=data)
        return web.Response(status=404)

    # methods ------------------------------------------------------------------
    def _chat(self, chat_id: Any) -> dict[str, Any]:
        if not isinstance(chat_id, int):
            raise ApiError(400, "Bad Request: chat not found")
        return chat_dict(chat_id, "private" if chat_id > 0 else "supergroup")

    def _new_message(self, chat_id: Any, **fields: Any) -> dict[str, Any]:
        chat = self._chat(chat_id)
        message = {"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat,
                   "from": self.me, **fields}
        self.messages[(chat_id, message["message_id"])] = message
        return message

    @staticmethod
    def _check_text(params: dict[str, Any], key: str, limit: int) -> str:
        text = str(params.get(key, ""))
        try:
            visible = parse_html(text)[0] if params.get("parse_mode") == "HTML" else text
        except EntityError as exc:
            raise ApiError(400, f"Bad Request: {exc}") from None
        if key == "text" and not visible.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(visible) > limit:
            raise ApiError(400, "Bad Request: message is too long" if key == "text"
                           else "Bad Request: message caption is too long")
        return visible

    @staticmethod
    def _check_markup(params: dict[str, Any]) -> None:
        markup = params.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []):
            for button in row:
                if len(str(button.get("callback_data", "")).encode()) > CALLBACK_DATA_LIMIT:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")

    async def _m_getMe(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        return self.me

    async def _m_deleteWebhook(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        self.webhook_url = ""
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _m_setWebhook(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        self.webhook_url = str(params.get("url", ""))
        return True

    async def _m_getUpdates(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        limit = int(params.get("limit") or 100)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        deadline = time.monotonic() + timeout
        while not self._updates and not self._closing.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                break
        return self._updates[:limit]

    async def _m_sendMessage(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        visible = self._check_text(params, "text", TEXT_LIMIT)
        self._check_markup(params)
        return self._new_message(params.get("chat_id"), text=visible,
                                 **({"reply_markup": params["reply_markup"]} if params.get("reply_markup") else {}))

    async def _send_file(self, kind: str, params: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        caption = self._check_text(params, "caption", CAPTION_LIMIT)
        self._check_markup(params)
        if kind not in files:
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        filename, data = files[kind]
        file_id = self.add_file(filename, data)
        media: Any = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(data)}
        if kind == "photo":
            media = [{**media, "width": 100, "height": 100}]
        else:
            media["file_name"] = filename
        return self._new_message(params.get("chat_id"), **{kind: media}, **({"caption": caption} if caption else {}))

    async def _m_sendPhoto(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        return await self._send_file("photo", params, files)

    async def _m_sendDocument(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        return await self._send_file("document", params, files)

    async def _m_editMessageText(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        key = (params.get("chat_id"), params.get("message_id"))
        message = self.messages.get(key)  # type: ignore[arg-type]
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        visible = self._check_text(params, "text", TEXT_LIMIT)
        if visible == message.get("text") and params.get("reply_markup") == message.get("reply_markup"):
            raise ApiError(400, "Bad Request: message is not modified: specified new message content and "
                                "reply markup are exactly the same as a current content and reply markup")
        message["text"] = visible
        return message

    async def _m_setMyCommands(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        commands = params.get("commands") or []
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: command description is invalid")
        self.commands = list(commands)
        return True

    async def _m_answerCallbackQuery(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        if not params.get("callback_query_id"):
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        return True

    async def _m_getFile(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        file_id = str(params.get("file_id", ""))
        if file_id not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(self.files[file_id][1]),
                "file_path": f"documents/{file_id}"}
