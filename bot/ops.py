"""The operator endpoints, served by tornado on the bot's own event loop when `ops.port` is set.

- `GET /healthz`: 200 with a JSON summary while the database answers; 503 when it does not (so an
  orchestrator restarts a process that lost its database, but not one whose chat platform is down — that
  shows in the body and in /status instead).
- `GET /metrics`: the Prometheus text format (bot/metrics.py).

Bound to 127.0.0.1 unless `ops.listen` says otherwise: there is no authentication.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

DB_CHECK_TIMEOUT_S = 5.0


async def health(services: Services) -> tuple[bool, dict[str, Any]]:
    """Whether this process is healthy (its database answers), with what an operator wants to see."""
    try:
        await asyncio.wait_for(services.db.run(lambda s: s.execute(text("SELECT 1")).scalar()), DB_CHECK_TIMEOUT_S)
        database = "ok"
    except Exception as exc:  # any failure to reach the database is the answer, not an error of ours
        database = f"unreachable: {type(exc).__name__}"
    body = {
        "status": "ok" if database == "ok" else "unhealthy",
        "database": database,
        "role": services.leadership.role if services.background else "console",
        "surfaces": {name: surface.connected for name, surface in services.surfaces.items()},
        "uptime_s": int((services.now() - services.started_at).total_seconds()),
    }
    return database == "ok", body


class _Health(RequestHandler):
    def initialize(self, services: Services) -> None:
        self.services = services

    async def get(self) -> None:
        ok, body = await health(self.services)
        self.set_status(200 if ok else 503)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(body))


class _Metrics(RequestHandler):
    def initialize(self, services: Services) -> None:
        self.services = services

    async def get(self) -> None:
        try:
            services = self.services
            await services.metrics.refresh(services.db, services.now(), leading=services.leadership.leading,
                                           breakers=services.fetcher.breakers)
        except Exception as exc:  # serve the counters even when the database gauges cannot be read
            log.warning("metrics: refreshing the database gauges failed: %s", exc)
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(self.services.metrics.render())


class OpsServer:
    """/healthz and /metrics on `listen:port` (port 0: any free port; `port` tells which)."""

    def __init__(self, services: Services, listen: str, port: int) -> None:
        self.services = services
        self.listen = listen
        self.port = port
        routes = [(r"/healthz", _Health, {"services": services}), (r"/metrics", _Metrics, {"services": services})]
        self._server = HTTPServer(Application(routes, log_function=lambda _handler: None))

    async def start(self) -> None:
        sockets = bind_sockets(self.port, self.listen)
        self.port = int(sockets[0].getsockname()[1])
        self._server.add_sockets(sockets)
        log.info("health and metrics at http://%s:%d/healthz and /metrics", self.listen, self.port)

    async def stop(self) -> None:
        self._server.stop()
        await self._server.close_all_connections()
