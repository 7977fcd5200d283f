"""The bot's Prometheus metrics: counted where things happen, and a few gauges read when /metrics is scraped.

Each process has its own registry (and its own numbers): scrape every replica; `socmint_leader` says which
one runs the schedules.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from handlers.fetch import CircuitBreaker
from storage.db import Database

_BREAKER_UP = {"closed": 1.0, "half-open": 0.5, "open": 0.0}


class Metrics:
    """Every metric /metrics shows, on a registry of this process's own."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.posts_received = Counter("socmint_posts_received", "Posts handed to the ingest pipeline", registry=r)
        self.posts_ingested = Counter("socmint_posts_ingested", "New posts stored (after de-duplication)",
                                      registry=r)
        self.matches = Counter("socmint_matches", "Watch matches recorded", registry=r)
        self.alerts_queued = Counter("socmint_alerts_queued", "Messages queued in the outbox", ["kind"], registry=r)
        self.alerts_sent = Counter("socmint_alerts_sent", "Outbox messages delivered", ["platform"], registry=r)
        self.alerts_failed = Counter("socmint_alerts_failed", "Outbox messages given up on", ["platform"],
                                     registry=r)
        self.outbox_pending = Gauge("socmint_outbox_pending", "Messages waiting in the outbox (all processes)",
                                    registry=r)
        self.outbox_lag = Gauge("socmint_outbox_lag_seconds",
                                "Age of the oldest message waiting in the outbox (0 when none)", registry=r)
        self.source_up = Gauge("socmint_source_up",
                               "A source's (or lookup provider's) circuit breaker: 1 closed, 0.5 probing, 0 open",
                               ["source"], registry=r)
        self.source_failures = Gauge("socmint_source_consecutive_failures",
                                     "Failed requests to a source since its last success", ["source"], registry=r)
        self.source_last_success = Gauge("socmint_source_last_success_age_seconds",
                                         "Seconds since a source last answered", ["source"], registry=r)
        self.command_seconds = Histogram("socmint_command_duration_seconds", "Command run time, by command",
                                         ["command", "outcome"], registry=r,
                                         buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120))
        self.watch_version = Gauge("socmint_watch_version",
                                   "The latest watch change this process has applied (equal across processes "
                                   "once they are in step)", registry=r)
        self.leader = Gauge("socmint_leader", "1 while this process is the leader (schedules, delivery)",
                            registry=r)

    async def refresh(self, db: Database, now: datetime, *, leading: bool,
                      breakers: Mapping[str, CircuitBreaker]) -> None:
        """Read the gauges that live elsewhere: the outbox in the database, breakers, leadership."""
        from storage import watches

        def read(session):  # type: ignore[no-untyped-def]
            return watches.outbox_counts(session).get("pending", 0), watches.oldest_pending(session)

        pending, oldest = await db.run(read)
        self.outbox_pending.set(pending)
        self.outbox_lag.set(max(0.0, (now - oldest).total_seconds()) if oldest and pending else 0.0)
        self.leader.set(1 if leading else 0)
        for name, breaker in breakers.items():
            self.source_up.labels(name).set(_BREAKER_UP.get(str(breaker.state.value), 0.0))
            self.source_failures.labels(name).set(breaker.failures)
            if breaker.last_success is not None:
                self.source_last_success.labels(name).set(max(0.0, time.monotonic() - breaker.last_success))

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
