"""A local site farm on 127.0.0.1 for the sweep tests: one path per way a site can answer."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from handlers.lookup.ssrf import SsrfGuard
from handlers.lookup.sweep import engine

PROFILE = '<html><div class="profile-card">{name}</div></html>'
NO_USER = "<html><p>Sorry, that user does not exist.</p></html>"
CHALLENGE = "<html><head><title>Just a moment...</title></head><body>checking</body></html>"


@dataclass
class Farm:
    """The running farm: its base URL, who exists, and what it saw."""

    base: str
    users: set[str]
    slow_s: float = 5.0
    hits: Counter[str] = field(default_factory=Counter)
    user_agents: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0

    def wmn_list(self, path: Path, kinds: list[str] | None = None) -> Path:
        """Write a WhatsMyName-format list of the farm's sites (all of them, or `kinds`)."""
        sites = [s for s in wmn_sites(self.base) if kinds is None or s["name"] in kinds]
        path.write_text(json.dumps({"license": ["test"], "authors": ["test"], "categories": ["social"],
                                    "sites": sites}))
        return path


def _site(name: str, uri: str, m_code: int, m_string: str = "", e_string: str = 'class="profile-card"',
          **extra: Any) -> dict[str, Any]:
    return {"name": name, "uri_check": uri, "e_code": 200, "e_string": e_string,
            "m_code": m_code, "m_string": m_string, "known": ["alice"], "cat": extra.pop("cat", "social"), **extra}


def wmn_sites(base: str) -> list[dict[str, Any]]:
    """One site per behaviour of the farm, in the WhatsMyName format."""
    return [
        _site("status", f"{base}/status/{{account}}", 404),
        _site("message", f"{base}/message/{{account}}", 200, "does not exist", cat="coding"),
        _site("redirect", f"{base}/redirect/{{account}}", 302, cat="gaming"),
        _site("flaky", f"{base}/flaky/{{account}}", 404),
        _site("slow", f"{base}/slow/{{account}}", 404),
        _site("limited", f"{base}/limited/{{account}}", 404),
        _site("blocked", f"{base}/blocked/{{account}}", 404),
        _site("odd", f"{base}/odd/{{account}}", 200, "does not exist"),
        _site("post", f"{base}/api/lookup", 200, '"exists":false', '"exists":true',
              cat="coding",
              uri_pretty=f"{base}/post/{{account}}", post_body='{"username":"{account}"}',
              headers={"Content-Type": "application/json", "User-Agent": "spoofed"}),
    ]


def loopback_guard() -> SsrfGuard:
    """The sweep's SSRF guard with the loopback allowed: the farm is a test double on 127.0.0.1."""
    return SsrfGuard(allow_networks_for_tests=["127.0.0.0/8"], max_bytes=engine.MAX_BODY_BYTES)


@asynccontextmanager
async def running_farm(users: set[str] | None = None, slow_s: float = 5.0) -> AsyncIterator[Farm]:
    """Start the farm on a free port of 127.0.0.1 and let sweeps reach it (only) while it runs."""
    state = Farm("", users or {"alice"}, slow_s)

    def page(name: str) -> web.Response:
        return web.Response(text=PROFILE.format(name=name), content_type="text/html")

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        kind = request.path.strip("/").split("/")[0]
        state.hits[kind] += 1
        state.paths.append(request.path_qs)
        state.user_agents.append(request.headers.get("User-Agent", ""))
        state.in_flight += 1
        state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            return await handler(request)
        finally:
            state.in_flight -= 1

    async def status(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if request.path.startswith("/hold/"):
            await asyncio.sleep(0.05)
        return page(name) if name in state.users else web.Response(status=404, text="not here")

    async def message(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        return page(name) if name in state.users else web.Response(text=NO_USER, content_type="text/html")

    async def redirect(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name in state.users:
            return page(name)
        raise web.HTTPFound("/login")

    async def flaky(request: web.Request) -> web.Response:
        if state.hits["flaky"] == 1:
            return web.Response(status=503, text="try again")
        return await status(request)

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(state.slow_s)
        return await status(request)

    async def limited(request: web.Request) -> web.Response:
        return web.Response(status=429, text="slow down")

    async def blocked(request: web.Request) -> web.Response:
        return web.Response(status=403, text=CHALLENGE, content_type="text/html")

    async def odd(request: web.Request) -> web.Response:
        return web.Response(text="<html>maintenance</html>", content_type="text/html")

    async def api(request: web.Request) -> web.Response:
        name = (await request.json()).get("username")
        return web.json_response({"exists": name in state.users}, dumps=lambda d: json.dumps(d, separators=(",", ":")))

    async def login(request: web.Request) -> web.Response:
        return web.Response(text="<html>log in</html>", content_type="text/html")

    app = web.Application(middlewares=[record])
    app.router.add_get("/status/{name}", status)
    app.router.add_get("/hold/{name}", status)
    app.router.add_get("/message/{name}", message)
    app.router.add_get("/redirect/{name}", redirect)
    app.router.add_get("/flaky/{name}", flaky)
    app.router.add_get("/slow/{name}", slow)
    app.router.add_get("/limited/{name}", limited)
    app.router.add_get("/blocked/{name}", blocked)
    app.router.add_get("/odd/{name}", odd)
    app.router.add_post("/api/lookup", api)
    app.router.add_get("/login", login)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.base = f"http://127.0.0.1:{port}"
    real_guard = engine.default_guard
    engine.default_guard = loopback_guard
    try:
        yield state
    finally:
        engine.default_guard = real_guard
        await runner.cleanup()
