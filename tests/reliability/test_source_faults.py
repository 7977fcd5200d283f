"""Source faults: many polls of the real Hacker News source, through the real PoliteFetcher and the monitor's
poll path, against a fake API that times out, rate-limits, errors and answers garbage in a seeded random order.

Zero crashes, zero lost matches, zero duplicate alerts; Retry-After respected; the breaker opens and recovers.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.render.text import render_text
from config.sources import HackerNewsSettings
from handlers.fetch import CircuitBreaker, HostLimiter, PoliteFetcher, make_client
from handlers.fetch.breaker import BreakerState
from handlers.monitor.sources.hackernews import HackerNewsSource
from storage.models import OutboxItem, WatchMatch
from tests import harness
from tests.fakes.monitor import Clock, engine_of, start_monitor_bot
from tests.reliability.faulty_algolia import SUCCESS, FaultyAlgolia
from tests.reliability.tally import SOAK, TALLY, scale
from tests.reliability.virtual_time import VirtualTime

POLLS = scale(300, 3000)
SEED = 20261128 + (1 if SOAK else 0)
POLL_EVERY_S = 20.0  # virtual seconds between polls
CLIENT_TIMEOUT_S = 0.15  # real seconds: a "timeout" fault hangs longer than this
EXPECTED_FAILURES = ("FetchError", "BreakerOpen")  # what a failed poll may record; anything else is a crash
VICTIM = re.compile(r"victim (\d+)\b")


async def test_polls_survive_every_kind_of_source_fault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(SEED)
    vt = VirtualTime()
    vt.patch_limiter(monkeypatch)
    server = await FaultyAlgolia(random.Random(SEED + 7), vt, hang_s=CLIENT_TIMEOUT_S * 3).start()
    client = make_client(harness.test_settings(tmp_path, http={"timeout_s": CLIENT_TIMEOUT_S}))
    fetcher = PoliteFetcher(client, sleep=vt.sleep)
    fetcher.limiter = HostLimiter(clock=vt)
    breaker = fetcher.breakers["hackernews"] = CircuitBreaker("hackernews", clock=vt)
    source = HackerNewsSource(HackerNewsSettings(base_url=server.url, rate_per_s=50), fetcher)
    clock = Clock()
    bot, surface = await start_monitor_bot(tmp_path, clock, source, group_threshold=1_000_000)  # type: ignore[arg-type]
    errors: list[tuple[str, str]] = []
    monkeypatch.setattr(bot.services, "record_error", lambda where, message: errors.append((where, message)))
    monitor = engine_of(bot)
    crashes = refused_while_open = opened = recovered = 0
    expected: set[int] = set()
    number = last_ts = 0
    try:
        await bot.run("/watch add lockbit --sources hackernews")
        await monitor.polls.rebuild()
        bot.services.scheduler.remove_job("poll:hackernews")  # this test drives the polls itself

        async def poll() -> None:
            nonlocal crashes, refused_while_open, opened, recovered
            before, requests = breaker.state, len(server.log)
            try:
                await monitor.polls.poll("hackernews", force=True)
            except Exception:  # the poll path must absorb every source failure
                crashes += 1
            if before is BreakerState.OPEN:
                assert len(server.log) == requests, "a request went out while the breaker was open"
                refused_while_open += 1
            if before is not BreakerState.OPEN and breaker.state is BreakerState.OPEN:
                opened += 1
            if before is not BreakerState.CLOSED and breaker.state is BreakerState.CLOSED:
                recovered += 1
            await monitor.outbox.drain()
            vt.advance(POLL_EVERY_S)
            clock.advance(seconds=POLL_EVERY_S)

        for i in range(POLLS):
            if i == POLLS // 3 or rng.random() < 0.005:
                server.outage(rng.uniform(200, 600))
            for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
                number += 1
                last_ts = max(last_ts + 1, int(clock.now.timestamp()) - 30)
                if rng.random() < 0.6:
                    server.publish(number, f"LockBit leak site lists victim {number} today", last_ts)
                    expected.add(number)
                else:  # what a fuzzy search also returns, and no watch matches
                    server.publish(number, f"blocklist refresh {number}, lockbits unrelated", last_ts)
            await poll()

        server.faults, server.outage_until = False, 0.0  # the source recovers: later polls catch up
        vt.advance(600)
        for _ in range(5):
            await poll()

        delivered = Counter(int(m.group(1)) for _, reply in surface.delivered
                            if (m := VICTIM.search(render_text(reply))))
        lost = expected - set(delivered)
        duplicates = sum(n - 1 for n in delivered.values() if n > 1)
        matches = await bot.services.db.run(
            lambda s: s.execute(select(func.count()).select_from(WatchMatch)).scalar_one())
        states = await bot.services.db.run(lambda s: dict(s.execute(
            select(OutboxItem.state, func.count()).group_by(OutboxItem.state)).all()))

        after_429 = [(s, server.log[k + 1].at) for k, s in enumerate(server.log[:-1]) if s.retry_after]
        honoured = [next_at >= s.at + s.retry_after for s, next_at in after_429]  # type: ignore[operator]
        injected = server.injected()
        unexpected = [e for e in errors if e[0].startswith("poll") and not e[1].startswith(EXPECTED_FAILURES)]
        TALLY.add("source_faults", polls=POLLS + 5, requests=len(server.log), faulty_requests=len(injected),
                  published=number, expected_matches=len(expected), lost=len(lost), duplicates=duplicates,
                  crashes=crashes + len(unexpected), retry_after_checks=len(honoured),
                  breaker_opened=opened, breaker_recovered=recovered, polls_refused_while_open=refused_while_open,
                  backoff_waits=len(vt.sleeps))
        TALLY.put("source_faults_by_kind", **Counter(s.fault for s in server.log))

        assert crashes == 0 and unexpected == []
        assert not lost, f"matches lost: {sorted(lost)[:20]}"
        assert duplicates == 0 and set(delivered) == expected
        assert matches == len(expected) and states == {"sent": len(expected)}
        assert len(injected) >= POLLS // 3 and {s.fault for s in injected} >= {
            "timeout", "429", "429-bare", "500", "garbage", "truncated", "wrong-shape", "reset", "outage"}
        assert honoured and all(honoured), "a request went out before the Retry-After it was given"
        assert opened >= 1 and refused_while_open >= 1 and recovered >= 1
        assert breaker.state is BreakerState.CLOSED
        assert len(vt.sleeps) == fetcher.stats["retries"] > 0 and max(vt.sleeps) <= fetcher.backoff_max_s
        assert all(s.fault in SUCCESS for s in server.log[-3:])
    finally:
        await bot.stop()
        await client.aclose()
        await server.stop()
