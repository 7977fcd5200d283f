"""Crash safety of the real `socmint run` process: SIGKILL at random moments while alerts flow, restart, repeat.

Builds on tests/test_watch_crash.py (one kill of an in-process bot) with the whole program: the Telegram
surface talks to the fake Bot API server, the Hacker News source polls a fake search API that publishes a
few posts per request, and the parent kills the process — sometimes at a random time, sometimes right
after the fake Bot API accepted an alert the process has not heard back about (the worst moment).
Afterwards every expected alert was delivered, and each crash doubled at most one.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import os
import random
import re
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.fakes.telegram_api import FakeBotAPI
from tests.reliability.faulty_algolia import FaultyAlgolia
from tests.reliability.tally import SOAK, TALLY, scale
from tests.reliability.virtual_time import VirtualTime

ROOT = Path(__file__).resolve().parents[2]
CRASHES = scale(3, 20)
BATCH = 3  # posts published per search request
POSTS = BATCH * (2 * CRASHES + 2)  # enough that alerts are still flowing at the last kill
SEED = 977 + (1 if SOAK else 0)
OWNER = 1  # an admin's private chat: no /allow needed, no per-group send limit
MODES = ("on-send", "after-alerts", "random")
VICTIM = re.compile(r"victim (\d+)\b")


class KillSwitchBotAPI(FakeBotAPI):
    """The fake Bot API, slowed a little per alert, able to fire a kill after accepting a message."""

    def __init__(self) -> None:
        super().__init__()
        self.delay_s = 0.02
        self.on_alert: Callable[[], None] | None = None

    async def _m_sendMessage(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        result = await super()._m_sendMessage(params, files)
        await asyncio.sleep(self.delay_s)
        if self.on_alert is not None and VICTIM.search(str(result.get("text", ""))):
            hook, self.on_alert = self.on_alert, None
            hook()  # the message counts as sent; the process never sees the answer
        return result


class Child:
    """One `socmint run` process."""

    def __init__(self, env: dict[str, str], cwd: Path, log: Path) -> None:
        self.env, self.cwd, self.log = env, cwd, log
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        script = Path(sys.executable).with_name("socmint")
        argv = [str(script), "run"] if script.exists() else [sys.executable, "-m", "bot.cli", "run"]
        with self.log.open("ab") as err:
            self.proc = await asyncio.create_subprocess_exec(
                *argv, cwd=self.cwd, env=self.env, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL, stderr=err)

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):  # already gone (reaped before returncode was set)
                os.kill(self.proc.pid, signal.SIGKILL)

    async def wait(self) -> int:
        assert self.proc is not None
        return await self.proc.wait()

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-25:]) if self.log.exists() else ""


def child_env(tmp_path: Path, fake: FakeBotAPI, search_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCMINT_")}
    return {
        **env,
        "PYTHONPATH": str(ROOT),
        # anything that tried to leave this machine would hit a dead local port instead
        "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1,localhost",
        "SOCMINT_DATA_DIR": str(tmp_path / "data"),
        "SOCMINT_ADMINS": f"telegram:{OWNER}",
        "SOCMINT_TELEGRAM__TOKEN": fake.token,
        "SOCMINT_TELEGRAM__API_URL": fake.url,
        "SOCMINT_TELEGRAM__POLL_TIMEOUT_S": "1",
        "SOCMINT_SOURCES__HACKERNEWS__BASE_URL": search_url,
        "SOCMINT_SOURCES__HACKERNEWS__RATE_PER_S": "50",
        "SOCMINT_MONITOR__MIN_POLL_S": "1",
        "SOCMINT_MONITOR__POLL_JITTER_S": "0",
        "SOCMINT_MONITOR__CHAT_INTERVAL_S": "0",
        "SOCMINT_MONITOR__GROUP_THRESHOLD": "1000000",
    }


def alerts(fake: FakeBotAPI) -> list[int]:
    """The post numbers of the alerts the fake Bot API accepted, in order."""
    return [int(m.group(1)) for t in fake.texts(OWNER) if (m := VICTIM.search(t))]


async def until(predicate: Callable[[], bool], what: str, child: Child, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert child.proc is None or child.proc.returncode is None, f"socmint run exited:\n{child.tail()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{child.tail()}"
        await asyncio.sleep(0.02)


async def test_sigkill_while_alerts_flow_loses_nothing_and_doubles_at_most_one_per_crash(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    search = await FaultyAlgolia(random.Random(SEED), VirtualTime(), hang_s=0).start()
    search.faults = False
    base_ts = int(time.time()) - 3600

    def publish() -> None:
        for _ in range(BATCH):
            number = len(search.hits) + 1
            if number <= POSTS:
                search.publish(number, f"LockBit leak site lists victim {number} today", base_ts + number)

    async with KillSwitchBotAPI() as fake:
        child = Child(child_env(tmp_path, fake, search.url), tmp_path, tmp_path / "socmint.log")
        boundaries: list[int] = []  # index into alerts() where each run after a crash starts
        try:
            await child.start()
            await until(lambda: fake.calls_to("setMyCommands"), "the Telegram surface", child)
            update_id = fake.send_command("/watch add lockbit --sources hackernews --every 1s",
                                          chat_id=OWNER, user_id=OWNER)
            await until(lambda: any("Watch 1" in t for t in fake.texts(OWNER)), "the watch", child)
            await until(lambda: any(int(c.params.get("offset") or 0) > update_id
                                    for c in fake.calls_to("getUpdates")), "the update to be confirmed", child)
            search.before_search = publish

            modes = [*MODES, *rng.choices(MODES, k=CRASHES - len(MODES))][:CRASHES]
            rng.shuffle(modes)
            for crash, mode in enumerate(modes):
                if crash:
                    starts = len(fake.calls_to("getMe"))
                    await child.start()
                    await until(lambda s=starts: len(fake.calls_to("getMe")) > s, "a restart", child)
                seen = len(alerts(fake))
                if mode == "on-send":  # right after the Bot API accepted an alert, before the answer
                    fake.on_alert = child.kill
                    with contextlib.suppress(AssertionError):  # no alert in time: a plain kill then
                        await until(lambda: fake.on_alert is None, "an alert to cut short", child, timeout=15)
                    child.kill()
                elif mode == "after-alerts":
                    wanted = seen + rng.randint(1, 2 * BATCH)
                    await until(lambda w=wanted: len(alerts(fake)) >= min(w, POSTS), "alerts to flow", child)
                    await asyncio.sleep(rng.uniform(0, 0.3))
                    child.kill()
                else:
                    await asyncio.sleep(rng.uniform(0.2, 2.0))
                    child.kill()
                assert await asyncio.wait_for(child.wait(), 60) == -signal.SIGKILL
                fake.on_alert = None
                boundaries.append(len(alerts(fake)))

            search.before_search = None
            while len(search.hits) < POSTS:  # the rest at once: the last run catches up in one poll
                publish()
            await child.start()
            await until(lambda: set(alerts(fake)) >= set(range(1, POSTS + 1)), "every alert", child,
                        timeout=60 + POSTS)
            child.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
            assert await asyncio.wait_for(child.wait(), 30) == 0, child.tail()
        finally:
            child.kill()
            await search.stop()

    sent = alerts(fake)
    runs = [sent[a:b] for a, b in zip([0, *boundaries], [*boundaries, len(sent)], strict=True)]
    doubled_within_a_run = sum(n - 1 for run in runs for n in Counter(run).values() if n > 1)
    # a repeat belongs to the crash that cut short the delivery before it (which may itself have been a repeat)
    doubled_per_crash = [0] * CRASHES
    previous: dict[int, int] = {}
    for index, number in enumerate(sent):
        if number in previous:
            crash = bisect.bisect_right(boundaries, previous[number])
            if crash < CRASHES:  # (a repeat within the last run is counted with the others above)
                doubled_per_crash[crash] += 1
        previous[number] = index
    lost = sorted(set(range(1, POSTS + 1)) - set(sent))
    TALLY.add("crash_safety", crashes=CRASHES, expected=POSTS, delivered=len(sent), lost=len(lost),
              duplicates=sum(doubled_per_crash))
    TALLY.put("crash_safety", duplicates_per_crash=doubled_per_crash, kill_modes=modes,
              max_duplicates_per_crash=max(doubled_per_crash, default=0))

    assert lost == []
    assert all(d <= 1 for d in doubled_per_crash), doubled_per_crash
    assert doubled_within_a_run == 0
    assert list(dict.fromkeys(sent)) == list(range(1, POSTS + 1))  # first deliveries in post order
