"""Leader election: of the processes serving one database, one leader runs what must run once.

The leader's duties (registered with `add_duty`) are the schedules — source polls, digests, signal checks,
the daily purge — alert delivery, and receiving from platforms that allow one receiver per bot (Telegram long
polling, the Discord gateway). Followers serve commands that reach them (webhooks) and queue alerts.

On PostgreSQL the leader is whoever holds an advisory lock on its own connection: followers try for it
every `check_s`, and the leader checks its connection as often; a leader killed with SIGKILL loses its
connection and so its lock at once, and a follower takes over within `check_s`. A leader whose connection
breaks steps down before anyone else can step up. On SQLite there is no election: one `socmint run` per
database file (storage.locks.RunGuard) leads from the start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from storage.types import utcnow

log = logging.getLogger(__name__)

LOCK_CALL_TIMEOUT_S = 10.0


class LeaderLock(Protocol):
    """A lock only one process can hold, released by the database when its holder dies."""

    async def try_acquire(self) -> bool: ...

    async def holds(self) -> bool: ...

    async def release(self) -> None: ...


@dataclass(frozen=True)
class Duty:
    """Work only the leader does: started on election, stopped on losing it (or at shutdown)."""

    name: str
    start: Callable[[], Awaitable[None]]
    stop: Callable[[], Awaitable[None]]


class Leadership:
    """This process's part in the election, and the duties it runs while it leads."""

    def __init__(self, lock: LeaderLock | None = None, *, check_s: float = 2.0) -> None:
        self.lock = lock
        self.check_s = check_s
        self.leading = False
        self.since: datetime | None = None
        self.elections = 0  # how often this process became the leader
        self._duties: list[Duty] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def role(self) -> str:
        return "leader" if self.leading else "follower"

    async def add_duty(self, name: str, start: Callable[[], Awaitable[None]],
                       stop: Callable[[], Awaitable[None]]) -> None:
        """Register leader-only work; it starts at once when this process already leads."""
        duty = Duty(name, start, stop)
        self._duties.append(duty)
        if self.leading:
            await self._run(duty, duty.start, "start")

    async def start(self) -> None:
        """Lead at once when there is no lock (or it is free now); keep trying, or checking, in the background."""
        if self.lock is None:
            await self._step_up()
            return
        if await self._try():
            await self._step_up()
        self._task = asyncio.create_task(self._loop(), name="leadership")

    async def stop(self) -> None:
        """Stop the duties and give the lock up (so a follower takes over now, not after a timeout)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._step_down("shutting down", logging.INFO)
        if self.lock is not None:
            await self.lock.release()

    async def _loop(self) -> None:
        assert self.lock is not None
        while True:
            await asyncio.sleep(self.check_s)
            try:
                if self.leading:
                    held = await asyncio.wait_for(self.lock.holds(), LOCK_CALL_TIMEOUT_S)
                    if not held:
                        await self._step_down("lost the database connection holding the leader lock")
                        await self.lock.release()
                elif await self._try():
                    await self._step_up()
            except asyncio.CancelledError:
                raise
            except Exception:  # the loop must outlive any one failure
                log.exception("leader election round failed")

    async def _try(self) -> bool:
        assert self.lock is not None
        try:
            return await asyncio.wait_for(self.lock.try_acquire(), LOCK_CALL_TIMEOUT_S)
        except TimeoutError:
            await self.lock.release()
            return False

    async def _step_up(self) -> None:
        self.leading = True
        self.since = utcnow()
        self.elections += 1
        log.info("this process is now the leader (schedules, delivery, receiving)")
        for duty in list(self._duties):
            await self._run(duty, duty.start, "start")

    async def _step_down(self, why: str, level: int = logging.WARNING) -> None:
        if not self.leading:
            return
        self.leading = False
        self.since = None
        log.log(level, "this process is no longer the leader: %s", why)
        for duty in reversed(self._duties):
            await self._run(duty, duty.stop, "stop")

    @staticmethod
    async def _run(duty: Duty, step: Callable[[], Awaitable[None]], what: str) -> None:
        try:
            await step()
        except Exception:  # one duty failing never keeps the others from starting or stopping
            log.exception("leader duty %s failed to %s", duty.name, what)
