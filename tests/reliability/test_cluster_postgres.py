"""Two real `socmint run` processes on one PostgreSQL database, against the fake Bot API and a fake Hacker News
search: they start together on an empty database, elect one leader (the only one polling Telegram and the
sources, firing digests and delivering), and when the leader is killed with SIGKILL the other takes over within
seconds — knowing the watch added through the dead leader just before it died, so no alert is lost.

`Cluster` is the harness: part B of #15 (every process delivering, claimed per chat) extends this scenario with
a backlog across chats and asserts every alert exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import signal
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from storage.db import Database
from storage.models import DigestSchedule
from tests.fakes.socmint_run import Child, child_env
from tests.fakes.telegram_api import ApiError, FakeBotAPI
from tests.reliability.faulty_algolia import FaultyAlgolia
from tests.reliability.tally import TALLY
from tests.reliability.test_crash_safety import OWNER
from tests.reliability.virtual_time import VirtualTime

LEADER_CHECK_S = 0.5
TAKEOVER_LIMIT_S = 5.0  # "within seconds": ten election rounds
BATCH = 8  # posts published per wave
OPS = re.compile(r"health and metrics at http://127\.0\.0\.1:(\d+)/healthz")
ALERT = re.compile(r"(lockbit|conti) leak site lists victim (\d+)\b", re.IGNORECASE)


class SingleReceiverBotAPI(FakeBotAPI):
    """The fake Bot API, answering a second concurrent getUpdates with 409 Conflict as Telegram does."""

    def __init__(self) -> None:
        super().__init__()
        self.polling = 0
        self.conflicts: list[float] = []

    async def _m_getUpdates(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        if self.polling:
            self.conflicts.append(time.monotonic())
            raise ApiError(409, "Conflict: terminated by other getUpdates request; make sure that only one bot "
                                "instance is running")
        self.polling += 1
        try:
            return await super()._m_getUpdates(params, files)
        finally:
            self.polling -= 1


class Cluster:
    """N `socmint run` processes on one database, each with its /healthz to ask who leads."""

    def __init__(self, tmp_path: Path, env: dict[str, str], size: int) -> None:
        self.children = [Child(env, tmp_path, tmp_path / f"socmint-{n}.log") for n in range(size)]
        self.ports: dict[int, int] = {}

    async def start(self, *which: int) -> None:
        for n in which or range(len(self.children)):
            self.ports.pop(n, None)
            self.children[n].log.write_text("")
            await self.children[n].start()

    def alive(self) -> list[int]:
        return [n for n, c in enumerate(self.children) if c.proc is not None and c.proc.returncode is None]

    def logs(self) -> str:
        return "\n".join(f"--- process {n}:\n{c.tail()}" for n, c in enumerate(self.children))

    async def until(self, predicate: Callable[[], bool], what: str, timeout: float = 60.0) -> float:
        started = time.monotonic()
        while not predicate():
            assert time.monotonic() - started < timeout, f"timed out waiting for {what}:\n{self.logs()}"
            await asyncio.sleep(0.05)
        return time.monotonic() - started

    def port(self, n: int) -> int | None:
        if n not in self.ports and (m := OPS.search(self.children[n].log.read_text(errors="replace"))):
            self.ports[n] = int(m.group(1))
        return self.ports.get(n)

    async def roles(self) -> dict[int, str]:
        """Each live process's role by its /healthz (processes not answering yet are left out)."""
        found: dict[int, str] = {}
        async with httpx.AsyncClient(timeout=5) as client:
            for n in self.alive():
                port = self.port(n)
                if port is None:
                    continue
                with contextlib.suppress(httpx.HTTPError):
                    found[n] = (await client.get(f"http://127.0.0.1:{port}/healthz")).json()["role"]
        return found

    async def wait_roles(self, what: str, check: Callable[[dict[int, str]], bool], timeout: float = 60.0) -> float:
        started = time.monotonic()
        while True:
            roles = await self.roles()
            if check(roles):
                return time.monotonic() - started
            assert time.monotonic() - started < timeout, f"timed out waiting for {what} ({roles}):\n{self.logs()}"
            await asyncio.sleep(0.1)

    async def leader(self) -> int:
        roles = await self.roles()
        leaders = [n for n, role in roles.items() if role == "leader"]
        assert len(leaders) == 1, roles
        return leaders[0]

    async def stop(self) -> list[int]:
        """SIGTERM every live process; their exit codes."""
        live = [self.children[n] for n in self.alive()]
        for child in live:
            child.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        return [await asyncio.wait_for(child.wait(), 60) for child in live]

    def kill_all(self) -> None:
        for child in self.children:
            child.kill()


def alerts(fake: FakeBotAPI) -> list[tuple[str, int]]:
    """(gang, victim number) of every alert the fake Bot API accepted, in order."""
    return [(m.group(1).lower(), int(m.group(2))) for t in fake.texts(OWNER) if (m := ALERT.search(t))]


async def test_two_processes_on_postgres_one_leader_one_digest_takeover_within_seconds_no_alert_lost(
        tmp_path: Path, pg_url: str) -> None:
    db = Database(pg_url)
    db.migrate()
    due = datetime.now(UTC) - timedelta(minutes=5)  # a digest due five minutes ago and not sent yet
    await db.run(lambda s: s.add(DigestSchedule(chat_platform="telegram", chat_id=OWNER, time=f"{due:%H:%M}",
                                                tz="UTC", created_by="test")))
    db.close()
    search = await FaultyAlgolia(random.Random(15), VirtualTime(), hang_s=0).start()
    search.faults = False
    base_ts = int(time.time()) - 600
    published: dict[str, list[int]] = {"lockbit": [], "conti": []}

    def publish(gang: str, count: int) -> None:
        for _ in range(count):
            number = sum(map(len, published.values())) + 1
            published[gang].append(number)
            search.publish(number, f"{gang} leak site lists victim {number}", base_ts + number)

    async with SingleReceiverBotAPI() as fake:
        env = {**child_env(tmp_path, fake, OWNER, sources__hackernews__base_url=search.url,
                           sources__hackernews__rate_per_s="50", monitor__min_poll_s="1", monitor__poll_jitter_s="0",
                           monitor__chat_interval_s="0", monitor__group_threshold="1000000"),
               "SOCMINT_DATABASE__URL": pg_url,
               "SOCMINT_DATABASE__LEADER_CHECK_S": str(LEADER_CHECK_S), "SOCMINT_OPS__PORT": "0"}
        cluster = Cluster(tmp_path, env, 2)
        try:
            await cluster.start()  # together, on a database with no bot having run on it yet
            await cluster.wait_roles("both up with one leader",
                                     lambda r: sorted(r.values()) == ["follower", "leader"])
            first = await cluster.leader()
            await cluster.until(lambda: len(fake.calls_to("setMyCommands")) >= 2, "both Telegram surfaces")
            await cluster.until(lambda: sum("Daily digest" in t for t in fake.texts(OWNER)) >= 1, "the digest")

            fake.send_command("/watch add lockbit --sources hackernews --every 1s", chat_id=OWNER, user_id=OWNER)
            await cluster.until(lambda: any("Watch 1" in t for t in fake.texts(OWNER)), "watch 1")
            publish("lockbit", BATCH)
            await cluster.until(lambda: {n for _, n in alerts(fake)} >= set(published["lockbit"]), "lockbit alerts")
            steady_conflicts = len(fake.conflicts)

            # a watch added through the leader, which dies right after answering: the follower must know it
            fake.send_command("/watch add conti --sources hackernews --every 1s", chat_id=OWNER, user_id=OWNER)
            await cluster.until(lambda: any("Watch 2" in t for t in fake.texts(OWNER)), "watch 2")
            cluster.children[first].kill()
            killed_at = time.monotonic()
            assert await asyncio.wait_for(cluster.children[first].wait(), 30) == -signal.SIGKILL
            await cluster.wait_roles("the follower to lead", lambda r: list(r.values()) == ["leader"], timeout=30)
            takeover_s = time.monotonic() - killed_at
            second = await cluster.leader()
            publish("conti", BATCH)
            publish("lockbit", BATCH)
            everything = set(published["lockbit"]) | set(published["conti"])
            await cluster.until(lambda: {n for _, n in alerts(fake)} >= everything, "every alert after the kill")

            fake.send_command("/whoami", chat_id=OWNER, user_id=OWNER)  # commands now reach the new leader
            await cluster.until(lambda: any("Who am I" in t for t in fake.texts(OWNER)), "/whoami")
            await cluster.start(first)  # the old leader comes back as a follower
            await cluster.wait_roles("the restarted process as a follower",
                                     lambda r: sorted(r.values()) == ["follower", "leader"])
            assert await cluster.leader() == second
            await asyncio.sleep(3 * LEADER_CHECK_S)
            assert sorted((await cluster.roles()).values()) == ["follower", "leader"]
            assert await cluster.stop() == [0, 0], cluster.logs()
        finally:
            cluster.kill_all()
            await search.stop()

    sent = alerts(fake)
    numbers = [n for _, n in sent]
    doubled = sum(c - 1 for c in Counter(numbers).values())
    digests = sum("Daily digest" in t for t in fake.texts(OWNER))
    first_seen = list(dict.fromkeys(numbers))
    TALLY.put("postgres_cluster", processes=2, takeover_s=round(takeover_s, 2), alerts=len(everything),
              delivered=len(sent), duplicates=doubled, digests=digests, polling_conflicts=len(fake.conflicts))
    assert digests == 1  # fired at the first election, not again by the second leader
    assert set(numbers) == everything  # nothing lost: the conti alerts were matched by the new leader
    assert doubled <= 1  # delivery is the leader's: at most the one message in flight at the kill
    assert first_seen == sorted(first_seen)  # the chat got them in order
    assert takeover_s < TAKEOVER_LIMIT_S
    assert steady_conflicts == 0  # only the leader long-polls Telegram
