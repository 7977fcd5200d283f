"""/healthz and /metrics over real HTTP: off unless configured, on 127.0.0.1 by default, counting what the bot
does, and unhealthy (503) exactly while the database is unreachable."""

from __future__ import annotations

from pathlib import Path

import httpx
import psycopg
from prometheus_client.parser import text_string_to_metric_families

from handlers import basics, watch
from handlers.fetch.breaker import CircuitBreaker
from handlers.monitor.engine import Monitor
from handlers.monitor.slot import MONITOR
from storage.locks import libpq_conninfo
from tests.fakes.monitor import Clock, engine_of, make_post
from tests.harness import BotHarness, RecordingSurface


def samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text exposition, by name and labels."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


async def ops_bot(tmp_path: Path, url: str | None = None, **settings: object) -> BotHarness:
    database = {"url": url} if url else {"url": f"sqlite:///{tmp_path / 'ops.db'}"}
    bot = BotHarness(tmp_path, sets=[basics.commands, watch.commands], background=True, clock=Clock(),
                     surfaces=[RecordingSurface("telegram")], database=database, ops={"port": 0}, **settings)
    bot.services.shared.put(MONITOR, Monitor(bot.services, sources=dict))
    await bot.start()
    return bot


async def test_no_endpoint_unless_a_port_is_configured(tmp_path: Path) -> None:
    bot = BotHarness(tmp_path, background=True)
    await bot.start()
    assert bot.app.ops is None
    await bot.stop()


async def test_healthz_and_metrics_report_what_the_bot_did(tmp_path: Path) -> None:
    bot = await ops_bot(tmp_path, monitor={"chat_interval_s": 0})
    try:
        ops = bot.app.ops
        assert ops is not None and ops.listen == "127.0.0.1" and ops.port > 0
        root = f"http://127.0.0.1:{ops.port}"
        await bot.run("/watch add lockbit")
        monitor = engine_of(bot)
        await monitor.outbox.stop()  # deliver by hand below, so the queue can be seen first
        await monitor.ingest([make_post("1", "lockbit leak"), make_post("2", "nothing"), make_post("1", "again")])
        bot.services.fetcher.breakers["hackernews"] = breaker = CircuitBreaker("hackernews", threshold=2)
        breaker.failure("timeout")
        breaker.failure("timeout")
        async with httpx.AsyncClient(base_url=root) as client:
            health = await client.get("/healthz")
            assert health.status_code == 200
            assert health.json() | {"uptime_s": 0} == {"status": "ok", "database": "ok", "role": "leader",
                                                       "surfaces": {"telegram": True}, "uptime_s": 0}
            bot.services.clock.advance(seconds=90)  # type: ignore[attr-defined]
            before = samples((await client.get("/metrics")).text)
            await monitor.outbox.drain()
            after = samples((await client.get("/metrics")).text)
        assert before[("socmint_posts_received_total", ())] == 3
        assert before[("socmint_posts_ingested_total", ())] == 2  # one was a duplicate
        assert before[("socmint_matches_total", ())] == 1
        assert before[("socmint_alerts_queued_total", (("kind", "alert"),))] == 1
        assert before[("socmint_outbox_pending", ())] == 1
        assert before[("socmint_outbox_lag_seconds", ())] == 90
        assert before[("socmint_source_up", (("source", "hackernews"),))] == 0
        assert before[("socmint_source_consecutive_failures", (("source", "hackernews"),))] == 2
        assert before[("socmint_leader", ())] == 1
        assert before[("socmint_command_duration_seconds_count", (("command", "watch add"), ("outcome", "ok")))] == 1
        assert after[("socmint_alerts_sent_total", (("platform", "telegram"),))] == 1
        assert (after[("socmint_outbox_pending", ())], after[("socmint_outbox_lag_seconds", ())]) == (0, 0)
    finally:
        await bot.stop()


async def test_healthz_is_503_exactly_while_the_database_is_unreachable(tmp_path: Path, pg_url: str) -> None:
    bot = await ops_bot(tmp_path, pg_url)
    name = pg_url.rsplit("/", 1)[1]
    admin_url = pg_url.rsplit("/", 1)[0] + "/postgres"
    try:
        root = f"http://127.0.0.1:{bot.app.ops.port}"  # type: ignore[union-attr]
        async with httpx.AsyncClient(base_url=root, timeout=30) as client, \
                await psycopg.AsyncConnection.connect(libpq_conninfo(admin_url), autocommit=True) as admin:
            assert (await client.get("/healthz")).status_code == 200
            await admin.execute(psycopg.sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(
                psycopg.sql.Identifier(name)))
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            down = await client.get("/healthz")
            assert down.status_code == 503 and down.json()["database"].startswith("unreachable")
            assert (await client.get("/metrics")).status_code == 200  # the counters are still served
            await admin.execute(psycopg.sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(
                psycopg.sql.Identifier(name)))
            assert (await client.get("/healthz")).status_code == 200
    finally:
        await bot.stop()
