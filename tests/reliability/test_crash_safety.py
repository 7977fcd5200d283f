"""Crash safety of the real `socmint run` process: SIGKILL while commands and alerts are in flight, restart, repeat.

Builds on tests/test_watch_crash.py (one kill of an in-process bot) and tests/test_telegram_crash.py (one
kill per scenario) with the whole program under load: the Telegram surface talks to the fake Bot API
server (which keeps every update until a later getUpdates confirms it), the Hacker News source polls a
fake search API that publishes a few posts per request, an analyst types commands all along (new cases
and new watches, each unique), and the parent kills the process — at a random time, right after the
fake Bot API accepted an alert the process has not heard back about, or right after it accepted a
command's reply while the confirming getUpdates is still on its way (so Telegram redelivers it).
Afterwards every alert was delivered, each kill doubled at most one, every command was applied and
audited exactly once, and no reply was sent twice.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import random
import re
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select

from storage.models import AuditEntry, Case, Watch
from tests.fakes.socmint_run import Child, child_env, until
from tests.fakes.telegram_api import Call, FakeBotAPI
from tests.reliability.faulty_algolia import FaultyAlgolia
from tests.reliability.tally import SOAK, TALLY, scale
from tests.reliability.virtual_time import VirtualTime

CRASHES = scale(4, 20)  # every kill mode at least once
BATCH = 3  # posts published per search request
POSTS = BATCH * (2 * CRASHES + 2)  # enough that alerts are still flowing at the last kill
SEED = 977 + (1 if SOAK else 0)
OWNER = 1  # an admin's private chat: no /allow needed, no per-group send limit
MODES = ("on-alert", "on-reply", "after-alerts", "random")
COMMAND_EVERY_S = (0.2, 0.6)
CONFIRM_LAG_S = 2.0  # in "on-reply": the confirming getUpdates is still on its way when the reply lands
VICTIM = re.compile(r"victim (\d+)\b")
REPLY = re.compile(r"^(?:📁 Case \d+ opened: note (\d+)|✅ Watch \d+ added: marker(\d+))")


class KillSwitchBotAPI(FakeBotAPI):
    """The fake Bot API, slowed a little per message, able to kill the bot right after accepting one."""

    def __init__(self) -> None:
        super().__init__()
        self.delay_s = 0.02
        self.victim: Child | None = None
        self.kill_on: re.Pattern[str] | None = None
        self.on_answer = self._maybe_kill

    async def _m_sendMessage(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        result = await super()._m_sendMessage(params, files)
        await asyncio.sleep(self.delay_s)
        return result

    def arm(self, child: Child, pattern: re.Pattern[str]) -> None:
        """Kill `child` when a message matching `pattern` is accepted: it counts as sent, the bot never hears."""
        self.victim, self.kill_on = child, pattern

    @property
    def armed(self) -> bool:
        return self.kill_on is not None

    def _maybe_kill(self, call: Call) -> None:
        if call.method != "sendMessage" or self.kill_on is None or self.victim is None:
            return
        if self.kill_on.search(str(call.result.get("text", ""))):
            self.kill_on = None
            self.victim.kill()


class Analyst:
    """Types a unique command every few hundred milliseconds: a new case, or (one time in four) a new watch."""

    def __init__(self, fake: FakeBotAPI, rng: random.Random) -> None:
        self.fake, self.rng = fake, rng
        self.sent: list[int] = []  # command numbers
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._type())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _type(self) -> None:
        while True:
            number = len(self.sent) + 1
            line = (f"/watch add marker{number} --sources nowhere" if number % 4 == 0 else
                    f"/case new note {number}")
            self.fake.send_command(line, chat_id=OWNER, user_id=OWNER)
            self.sent.append(number)
            await asyncio.sleep(self.rng.uniform(*COMMAND_EVERY_S))


def alerts(fake: FakeBotAPI) -> list[int]:
    """The post numbers of the alerts the fake Bot API accepted, in order."""
    return [int(m.group(1)) for t in fake.texts(OWNER) if (m := VICTIM.search(t))]


def replies(fake: FakeBotAPI) -> Counter[int]:
    """How many replies each command got."""
    found = (REPLY.search(t) for t in fake.texts(OWNER))
    return Counter(int(m.group(1) or m.group(2)) for m in found if m)


def applied(tmp_path: Path) -> tuple[Counter[int], Counter[int]]:
    """Per command number: how many cases or watches it made, and how many audit entries it has."""
    engine = create_engine(f"sqlite:///{tmp_path / 'data' / 'socmint.db'}")
    with engine.connect() as conn:
        titles = conn.execute(select(Case.title)).scalars().all()
        queries = conn.execute(select(Watch.query).where(Watch.query.startswith("marker"))).scalars().all()
        args = conn.execute(select(AuditEntry.command, AuditEntry.args)
                            .where(AuditEntry.command.in_(["case new", "watch add"]))).all()
    engine.dispose()
    made = Counter(int(t.removeprefix("note ")) for t in titles if t.startswith("note "))
    made.update(int(q.removeprefix("marker")) for q in queries)
    numbers = (re.search(r"(?:note |marker)(\d+)", a) for _c, a in args)
    return made, Counter(int(m.group(1)) for m in numbers if m)


async def test_sigkill_while_commands_and_alerts_flow_applies_each_once_and_doubles_at_most_one_per_crash(
    tmp_path: Path,
) -> None:
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
        env = child_env(tmp_path, fake, OWNER, sources__hackernews__base_url=search.url,
                        sources__hackernews__rate_per_s="50", monitor__min_poll_s="1", monitor__poll_jitter_s="0",
                        monitor__chat_interval_s="0", monitor__group_threshold="1000000")
        child = Child(env, tmp_path, tmp_path / "socmint.log")
        analyst = Analyst(fake, rng)
        boundaries: list[int] = []  # index into alerts() where each run after a crash starts
        try:
            await child.start()
            await until(lambda: fake.calls_to("setMyCommands"), "the Telegram surface", child)
            update_id = fake.send_command("/watch add lockbit --sources hackernews --every 1s",
                                          chat_id=OWNER, user_id=OWNER)
            await until(lambda: any("Watch 1" in t for t in fake.texts(OWNER)), "the watch", child)
            await until(lambda: update_id not in fake.pending, "the update to be confirmed", child)
            search.before_search = publish
            analyst.start()

            modes = [*MODES, *rng.choices(MODES, k=CRASHES - len(MODES))][:CRASHES]
            rng.shuffle(modes)
            for crash, mode in enumerate(modes):
                if crash:
                    starts = len(fake.calls_to("getMe"))
                    await child.start()
                    await until(lambda s=starts: len(fake.calls_to("getMe")) > s, "a restart", child)
                seen = len(alerts(fake))
                if mode in ("on-alert", "on-reply"):
                    if mode == "on-reply":  # the confirming getUpdates will not have reached Telegram
                        fake.lag_confirmations(CONFIRM_LAG_S)
                    fake.arm(child, VICTIM if mode == "on-alert" else REPLY)
                    with contextlib.suppress(AssertionError):  # nothing to cut short in time: a plain kill then
                        await until(lambda: not fake.armed, "a message to cut short", child, timeout=15)
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
                fake.kill_on = None
                fake.lag_confirmations(0)
                boundaries.append(len(alerts(fake)))

            await analyst.stop()
            search.before_search = None
            while len(search.hits) < POSTS:  # the rest at once: the last run catches up in one poll
                publish()
            await child.start()
            await until(lambda: set(alerts(fake)) >= set(range(1, POSTS + 1)), "every alert", child,
                        timeout=60 + POSTS)
            await until(lambda: not fake.pending, "every command to be received", child)
            await until(lambda: set(applied(tmp_path)[0]) >= set(analyst.sent), "every command to be applied",
                        child)
            assert await child.stop() == 0, child.tail()
        finally:
            await analyst.stop()
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
    made, audits = applied(tmp_path)
    answered = replies(fake)
    commands = analyst.sent
    delivered = Counter(u["update_id"] for c in fake.calls_to("getUpdates") for u in c.result or ())
    redelivered = sum(1 for n in delivered.values() if n > 1)
    applied_twice = sum(1 for n in commands if made[n] > 1)
    not_applied = sum(1 for n in commands if made[n] == 0)
    audit_mismatch = sum(1 for n in commands if audits[n] != 1)
    replies_doubled = sum(1 for n in commands if answered[n] > 1)
    replies_missing = sum(1 for n in commands if answered[n] == 0)
    TALLY.add("crash_safety", crashes=CRASHES, expected=POSTS, delivered=len(sent), lost=len(lost),
              duplicates=sum(doubled_per_crash), commands=len(commands), commands_applied_twice=applied_twice,
              commands_not_applied=not_applied, commands_audited_wrongly=audit_mismatch,
              command_replies_doubled=replies_doubled, command_replies_lost_to_a_kill=replies_missing,
              updates_redelivered=redelivered)
    TALLY.put("crash_safety", duplicates_per_crash=doubled_per_crash, kill_modes=modes,
              max_duplicates_per_crash=max(doubled_per_crash, default=0))

    assert lost == []
    assert all(d <= 1 for d in doubled_per_crash), doubled_per_crash
    assert doubled_within_a_run == 0
    assert list(dict.fromkeys(sent)) == list(range(1, POSTS + 1))  # first deliveries in post order
    assert (applied_twice, not_applied, audit_mismatch, replies_doubled) == (0, 0, 0, 0)
