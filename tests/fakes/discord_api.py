"""A fake Discord on 127.0.0.1: the REST routes the bot uses and a gateway (HELLO, IDENTIFY, READY,
heartbeats, RESUME, dispatch), so the real discord.py client runs end to end in tests."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

BOT_ID = 900000000000000001
APP_ID = 900000000000000002
_ids = itertools.count(1_100_000_000_000_000_000)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # discord.py decodes JSON only when Content-Type is exactly application/json (no charset).
    return web.Response(body=json.dumps(data).encode(), status=status,
                        headers={"Content-Type": "application/json", **(headers or {})})


def guild_channel(channel_id: int, guild_id: int) -> dict[str, Any]:
    """A guild text channel object as Discord sends it."""
    return {"id": str(channel_id), "type": 0, "guild_id": str(guild_id), "name": "ops", "position": 0,
            "permission_overwrites": [], "nsfw": False, "parent_id": None, "topic": None,
            "last_message_id": None, "rate_limit_per_user": 0, "flags": 0, "permissions": "0"}


def snowflake() -> str:
    return str(next(_ids))


def user_payload(user_id: int, name: str, bot: bool = False) -> dict[str, Any]:
    return {"id": str(user_id), "username": name, "discriminator": "0", "global_name": name, "avatar": None,
            "bot": bot}


@dataclass
class Call:
    """A REST request the bot made."""

    method: str
    path: str
    json: Any
    files: list[tuple[str, bytes]] = field(default_factory=list)


class FakeDiscord:
    """REST + gateway. Tests push gateway events with `dispatch` and read `calls`."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.sockets: list[web.WebSocketResponse] = []
        self.seq = 0
        self.identifies = 0
        self.resumes = 0
        self.fail_next: list[tuple[str, int, dict[str, Any]]] = []  # (path fragment, status, body)
        self.ready = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.channels: dict[int, dict[str, Any]] = {}
        self.posted = asyncio.Condition()

    # server -------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    async def start(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        for ws in self.sockets:
            await ws.close()
        if self._runner:
            await self._runner.cleanup()

    # REST ---------------------------------------------------------------------
    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        body: Any = None
        files: list[tuple[str, bytes]] = []
        if request.content_type == "application/json":
            body = await request.json()
        elif request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if part.name == "payload_json":
                    body = json.loads(await part.text())
                else:
                    files.append((part.filename or "", await part.read()))
        call = Call(request.method, path, body, files)
        async with self.posted:
            self.calls.append(call)
            self.posted.notify_all()
        for i, (fragment, status, payload) in enumerate(self.fail_next):
            if fragment in path:
                del self.fail_next[i]
                headers = {"Retry-After": str(payload.get("retry_after", 1)), "X-RateLimit-Scope": "user",
                           "Via": "1.1 google"}  # discord.py treats a 429 without Via as a Cloudflare ban
                return _json(payload, status=status, headers=headers if status == 429 else None)
        return await self._answer(request.method, path, body)

    async def _answer(self, method: str, path: str, body: Any) -> web.Response:
        if path == "/users/@me":
            return _json(user_payload(BOT_ID, "socmintbot", bot=True))
        if path == "/oauth2/applications/@me":
            return _json({
                "id": str(APP_ID), "name": "socmint", "description": "", "icon": None, "bot_public": True,
                "bot_require_code_grant": False, "owner": user_payload(1, "owner"), "verify_key": "k",
                "flags": 0, "interactions_endpoint_url": None,
            })
        if path == "/gateway/bot" or path == "/gateway":
            return _json({"url": self.gateway_url, "shards": 1,
                                      "session_start_limit": {"total": 1000, "remaining": 1000,
                                                              "reset_after": 0, "max_concurrency": 1}})
        if path.startswith(f"/applications/{APP_ID}/") and path.endswith("/commands") and method == "PUT":
            self.commands[path] = body
            return _json([{**c, "id": snowflake(), "application_id": str(APP_ID), "version": "1"}
                                      for c in body])
        if path.startswith("/channels/") and path.endswith("/messages") and method == "POST":
            channel_id = path.split("/")[2]
            return _json(self.message(channel_id, body))
        if path.startswith("/channels/") and "/messages/" in path and method == "PATCH":
            channel_id, message_id = path.split("/")[2], path.split("/")[4]
            return _json(self.message(channel_id, body, message_id))
        if path.startswith("/channels/") and method == "GET":
            channel_id = int(path.split("/")[2])
            return _json(self.channels.get(channel_id) or guild_channel(channel_id, 999))
        if path.startswith("/interactions/") and path.endswith("/callback"):
            interaction_id = path.split("/")[2]
            kind = (body or {}).get("type", 4)
            message = self.message("0", (body or {}).get("data"))
            return _json({
                "interaction": {"id": interaction_id, "type": 2, "response_message_id": message["id"],
                                "response_message_loading": kind == 5,
                                "response_message_ephemeral": bool(((body or {}).get("data") or {}).get("flags", 0)
                                                                   & 64)},
                "resource": {"type": kind, "message": message} if kind in (4, 5, 7) else {"type": kind},
            })
        if path.startswith(f"/webhooks/{APP_ID}/"):
            if method == "DELETE":
                return web.Response(status=204)
            return _json(self.message("0", body))
        return _json({"message": f"fake: no route {method} {path}", "code": 0}, status=404)

    @staticmethod
    def message(channel_id: str, body: Any, message_id: str | None = None) -> dict[str, Any]:
        body = body or {}
        return {"id": message_id or snowflake(), "channel_id": channel_id, "type": 0,
                "content": body.get("content") or "", "author": user_payload(BOT_ID, "socmintbot", bot=True),
                "attachments": [], "embeds": [], "mentions": [], "mention_roles": [], "pinned": False,
                "mention_everyone": False, "tts": False, "timestamp": "2026-11-28T10:00:00+00:00",
                "edited_timestamp": None, "flags": 0, "components": []}

    async def wait_for(self, predicate, timeout: float = 10.0) -> Call:  # type: ignore[no-untyped-def]
        """The first REST call (past or future) for which `predicate(call)` holds."""
        async def find() -> Call:
            async with self.posted:
                while True:
                    for call in self.calls:
                        if predicate(call):
                            return call
                    await self.posted.wait()

        return await asyncio.wait_for(find(), timeout)

    def sent(self) -> list[Call]:
        """Message sends and interaction answers, in order."""
        return [c for c in self.calls if (c.method in ("POST", "PATCH") and (
            "/messages" in c.path or "/callback" in c.path or c.path.startswith(f"/webhooks/{APP_ID}/")))]

    # gateway ------------------------------------------------------------------
    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 45000}})
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            op = data.get("op")
            if op == 1:
                await ws.send_json({"op": 11})
            elif op == 2:
                self.identifies += 1
                await self._send(ws, "READY", {
                    "v": 10, "user": user_payload(BOT_ID, "socmintbot", bot=True), "guilds": [],
                    "session_id": "session-1", "resume_gateway_url": self.gateway_url,
                    "application": {"id": str(APP_ID), "flags": 0}, "private_channels": [],
                    "relationships": [],
                })
                self.ready.set()
            elif op == 6:
                self.resumes += 1
                await self._send(ws, "RESUMED", {})
                self.ready.set()
        return ws

    async def _send(self, ws: web.WebSocketResponse, event: str, data: dict[str, Any]) -> None:
        self.seq += 1
        await ws.send_json({"op": 0, "t": event, "s": self.seq, "d": data})

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a gateway event to the connected bot."""
        await asyncio.wait_for(self.ready.wait(), 10)
        await self._send(self.sockets[-1], event, data)

    async def drop(self) -> None:
        """Close the gateway connection abruptly, as Discord does now and then."""
        self.ready.clear()
        await self.sockets[-1].close(code=4000)

    # payload builders ---------------------------------------------------------
    @staticmethod
    def message_create(channel_id: int, user_id: int, content: str, *, guild_id: int | None = None,
                       name: str = "analyst") -> dict[str, Any]:
        data = {"id": snowflake(), "channel_id": str(channel_id), "type": 0, "content": content,
                "author": user_payload(user_id, name), "attachments": [], "embeds": [], "mentions": [],
                "mention_roles": [], "pinned": False, "mention_everyone": False, "tts": False,
                "timestamp": "2026-11-28T10:00:00+00:00", "edited_timestamp": None, "flags": 0, "components": []}
        if guild_id:
            data["guild_id"] = str(guild_id)
            data["member"] = {"roles": [], "joined_at": "2026-01-01T00:00:00+00:00", "deaf": False, "mute": False}
        return data

    @staticmethod
    def interaction(channel_id: int, user_id: int, data: dict[str, Any], *, kind: int = 2,
                    guild_id: int | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": snowflake(), "application_id": str(APP_ID), "type": kind, "token": "itoken" + snowflake(),
            "version": 1, "channel_id": str(channel_id), "data": data, "locale": "en-US",
            "app_permissions": "0", "entitlements": [], "authorizing_integration_owners": {}, "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        user = user_payload(user_id, f"user{user_id}")
        if guild_id:
            payload["channel"] = guild_channel(channel_id, guild_id)
        else:
            payload["channel"] = {"id": str(channel_id), "type": 1, "recipients": [user],
                                  "last_message_id": None, "flags": 0}
        if guild_id:
            payload["guild_id"] = str(guild_id)
            payload["guild_locale"] = "en-US"
            payload["member"] = {"user": user, "roles": [], "joined_at": "2026-01-01T00:00:00+00:00",
                                 "deaf": False, "mute": False, "permissions": "0", "flags": 0}
        else:
            payload["user"] = user
        return payload


@contextlib.asynccontextmanager
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """A running FakeDiscord; discord.py's REST root and gateway URL are restored afterwards."""
    import discord

    server = await FakeDiscord().start()
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    try:
        yield server
    finally:
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base, gateway
        await server.stop()


async def wait_connected(fake: FakeDiscord, surface: Any) -> None:
    """Wait until the bot has identified with the fake gateway and the surface reports itself up."""
    await asyncio.wait_for(fake.ready.wait(), 10)
    for _ in range(100):
        if surface.connected:
            return
        await asyncio.sleep(0.05)
