"""Signal alerts: every `signals_every_s`, each active watch is checked for term spikes (and, where the
watch opted in, a negative-sentiment surge) and new signals are queued in the outbox for its chat.

Detection is `handlers/analysis/watch_signals.detect` over the trailing `signals_window_s` (the same
test /trends and the digest use). A signal is keyed by watch, kind and term (or surge bucket); once
alerted, the same key is not alerted again within the window, and the row recording it is written in
the same transaction as the outbox row, so a crash neither loses nor repeats one. Muted watches are
skipped without recording, so a signal still live after the mute ends is alerted then.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.triggers.interval import IntervalTrigger
from sqlmodel import Session

from handlers.analysis.watch_signals import detect
from handlers.monitor.alert import signal_payload
from storage import watches
from storage.db import Lane
from storage.models import OutboxItem, Watch, WatchState

if TYPE_CHECKING:
    from bot.services import Services
    from handlers.monitor.outbox import OutboxWorker

log = logging.getLogger(__name__)

JOB_ID = "signals"
FIRST_RUN_S = 60.0  # the first check after start-up, so start-up stays quick
KEEP_SIGNALS = timedelta(days=30)  # rows of signals last alerted longer ago than this are pruned


def window_label(window: timedelta) -> str:
    """A window as /trends takes it: 1d, 6h, 90m."""
    seconds = int(window.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def queue_new_signals(session: Session, watch_id: int, now: datetime, window: timedelta) -> int:
    """Detect the watch's signals and queue the ones not alerted within `window`; returns how many (blocking)."""
    watch = session.get(Watch, watch_id)
    if watch is None or watch.state != WatchState.ACTIVE.value or not (watch.spike_alerts or watch.surge_alerts):
        return 0
    if watch.muted_until is not None and watch.muted_until > now:
        return 0
    found = detect(session, watch_id, now, window, spikes=watch.spike_alerts, surge=watch.surge_alerts)
    if not found:
        return 0
    recent = watches.signals_fired_since(session, watch_id, now - window)
    queued = 0
    for signal in found:
        if (signal.kind, signal.key) in recent:
            continue
        watches.record_signal(session, watch_id, signal.kind, signal.key, signal.text, now)
        session.add(OutboxItem(
            chat_platform=watch.chat_platform, chat_id=watch.chat_id, watch_id=watch_id,
            payload=signal_payload(watch_id, watch.query, signal.kind, signal.text, window_label(window)),
            created_at=now, next_attempt_at=now,
        ))
        queued += 1
    return queued


class SignalAlerts:
    """The periodic job that turns watch signals into outbox rows."""

    def __init__(self, services: Services, outbox: OutboxWorker) -> None:
        self.services = services
        self.outbox = outbox
        self.settings = services.settings.monitor

    @property
    def window(self) -> timedelta:
        return timedelta(seconds=self.settings.signals_window_s)

    def start(self) -> None:
        """Schedule the check every `signals_every_s` (the first one shortly after start-up)."""
        every = self.settings.signals_every_s
        self.services.scheduler.add_job(
            self.run_once, IntervalTrigger(seconds=every), id=JOB_ID, name="watch signals",
            replace_existing=True, coalesce=True, max_instances=1, misfire_grace_time=int(every),
            next_run_time=self.services.now() + timedelta(seconds=min(FIRST_RUN_S, every)),
        )

    def stop(self) -> None:
        if self.services.scheduler.get_job(JOB_ID) is not None:
            self.services.scheduler.remove_job(JOB_ID)

    async def run_once(self) -> int:
        """Check every active watch once; returns how many signal alerts were queued."""
        now = self.services.now()
        window = self.window
        active = await self.services.db.run(watches.active)
        queued = 0
        for watch in active:
            if not (watch.spike_alerts or watch.surge_alerts):
                continue
            watch_id = watch.id or 0
            try:
                queued += await self.services.db.run(lambda s, w=watch_id: queue_new_signals(s, w, now, window),
                                                     lane=Lane.BULK)
            except Exception as exc:  # one watch's failure never stops the others
                log.exception("signals for watch %s failed", watch_id)
                self.services.record_error("signals", f"watch {watch_id}: {type(exc).__name__}: {exc}")
        await self.services.db.run(lambda s: watches.prune_signals(s, now - KEEP_SIGNALS))
        if queued:
            self.services.metrics.alerts_queued.labels("signal").inc(queued)
            self.outbox.wake()
        return queued
