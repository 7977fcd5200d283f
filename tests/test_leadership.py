"""Leader election: one leader per PostgreSQL database, taken over within seconds when it stops or loses its
connection; one `socmint run` per SQLite file, the second refused with a clear message."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from bot.leadership import Leadership
from storage.locks import AdvisoryLeaderLock, AlreadyRunning, libpq_conninfo
from tests.harness import BotHarness

ROOT = Path(__file__).resolve().parents[1]
CHECK_S = 0.2


class Journal:
    """Records which process started and stopped its duties, in order."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def duty(self, who: str) -> tuple[Callable[[], object], Callable[[], object]]:
        async def start() -> None:
            self.events.append(f"{who} up")

        async def stop() -> None:
            self.events.append(f"{who} down")

        return start, stop


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> float:
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, "timed out"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def elect(url: str, journal: Journal, who: str) -> Leadership:
    leadership = Leadership(AdvisoryLeaderLock(url), check_s=CHECK_S)
    await leadership.add_duty("work", *journal.duty(who))
    await leadership.start()
    return leadership


async def test_one_leader_and_a_follower_takes_over_when_it_stops(pg_url: str) -> None:
    journal = Journal()
    a = await elect(pg_url, journal, "a")
    b = await elect(pg_url, journal, "b")
    try:
        assert (a.leading, b.leading) == (True, False)
        await asyncio.sleep(5 * CHECK_S)  # the follower keeps trying and keeps failing
        assert journal.events == ["a up"] and not b.leading
        await a.stop()
        took = await until(lambda: b.leading)
        assert took < 2.0 and journal.events == ["a up", "a down", "b up"]
    finally:
        await a.stop()
        await b.stop()


async def test_a_leader_whose_session_dies_steps_down_and_another_takes_over(pg_url: str) -> None:
    """The server ends the leader's session (as it does for a killed process): its lock is free at once, the old
    leader notices within a check and stops its duties, and the follower leads."""
    journal = Journal()
    a = await elect(pg_url, journal, "a")
    b = await elect(pg_url, journal, "b")
    try:
        async with await psycopg.AsyncConnection.connect(libpq_conninfo(pg_url), autocommit=True) as admin:
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE application_name = 'socmint leader election' AND pid IN "
                                "(SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted)")
        await until(lambda: b.leading and not a.leading)
        assert journal.events == ["a up", "a down", "b up"] or journal.events == ["a up", "b up", "a down"]
        await asyncio.sleep(5 * CHECK_S)
        assert a.leading is False and b.leading is True  # a reconnected as a follower, not a second leader
    finally:
        await a.stop()
        await b.stop()


async def test_a_second_bot_on_one_sqlite_file_is_refused_until_the_first_stops(tmp_path: Path) -> None:
    first = BotHarness(tmp_path / "one", background=True, database={"url": f"sqlite:///{tmp_path / 'x.db'}"})
    second = BotHarness(tmp_path / "two", background=True, database={"url": f"sqlite:///{tmp_path / 'x.db'}"})
    await first.start()
    assert first.services.leadership.leading and "leader since" in await first.text("/status")
    with pytest.raises(AlreadyRunning, match="SQLite serves one bot process"):
        await second.start()
    await second.stop()
    commands_only = BotHarness(tmp_path / "three", database={"url": f"sqlite:///{tmp_path / 'x.db'}"})
    await commands_only.start()  # `socmint console` and the CLI tools may share the file
    assert "Who am I" in await commands_only.text("/whoami")
    assert "commands only (console)" in await commands_only.text("/status")
    await commands_only.stop()
    await first.stop()
    again = BotHarness(tmp_path / "four", background=True, database={"url": f"sqlite:///{tmp_path / 'x.db'}"})
    await again.start()
    assert again.services.leadership.leading
    await again.stop()


def test_socmint_run_refuses_a_second_process_on_one_sqlite_file(tmp_path: Path) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SOCMINT_")},
           "PYTHONPATH": str(ROOT), "SOCMINT_DATA_DIR": str(tmp_path / "data")}
    argv = [sys.executable, "-m", "bot.cli", "run"]
    first = subprocess.Popen(argv, cwd=tmp_path, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    try:
        lock = tmp_path / "data" / "socmint.db.run.lock"
        deadline = time.monotonic() + 60
        while not (lock.exists() and (tmp_path / "data" / "socmint.db").exists()):
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        second = subprocess.run(argv, cwd=tmp_path, env=env, stdin=subprocess.PIPE, capture_output=True, text=True,
                                timeout=60)
        assert second.returncode == 1
        assert "another `socmint run` is already serving" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        first.communicate(timeout=60)  # end of input: the first one's console closes and it exits
    assert first.returncode == 0
