"""Chat faults: the Bot API down for a while and answering 429, in a seeded random order, while alerts queue up.

The real TelegramSurface (python-telegram-bot over HTTP) delivers to the fake Bot API server; the outbox is
driven round by round on a virtual clock. Afterwards every alert was delivered, in order per chat, none doubled.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from bot.surfaces.telegram import TelegramSurface
from handlers import basics, watch
from handlers.monitor.engine import Monitor
from handlers.monitor.slot import MONITOR
from storage.models import OutboxItem
from tests.fakes.monitor import Clock, make_post
from tests.fakes.telegram_api import Failure, FakeBotAPI
from tests.harness import BotHarness
from tests.reliability.tally import SOAK, TALLY, scale

ALERTS = scale(45, 600)
EPISODES = scale(4, 30)  # fault episodes: outages (502) and 429s, each kind at least once
# polling outages cost seconds of real time in python-telegram-bot's own backoff: soak runs only
KINDS = ("down", "429", "429-burst", *(("updates-down",) if SOAK else ()))
SEED = 4242 + (1 if SOAK else 0)
GANGS = {11: "lockbit", 12: "blackcat", 13: "clop"}  # private chats (no per-group send limit) and their watches
DEADLINE_S = 90.0 if not SOAK else 600.0
VICTIM = re.compile(r"victim (\d+)\b")


async def test_alerts_survive_an_outage_and_rate_limits_in_order_and_once(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    clock = Clock()
    async with FakeBotAPI() as fake:
        bot = BotHarness(tmp_path, sets=[basics.commands, watch.commands], clock=clock,
                         monitor={"chat_interval_s": 0, "group_threshold": 1_000_000, "max_attempts": 1000},
                         telegram={"token": fake.token, "api_url": fake.url, "poll_timeout_s": 1})
        bot.services.shared.put(MONITOR, monitor := Monitor(bot.services, sources=dict))
        await bot.start()
        surface = TelegramSurface(bot.services, bot.app.router)
        await surface.start()
        await surface.start_receiving()
        bot.services.surfaces[surface.name] = surface
        try:
            for chat_id, gang in GANGS.items():
                await bot.run(f"/watch add {gang}", chat_id=chat_id)
            expected: dict[int, list[int]] = {chat_id: [] for chat_id in GANGS}
            episodes = sorted(rng.sample(range(2, ALERTS // 2), EPISODES))
            kinds = [*KINDS, *rng.choices(KINDS, k=EPISODES - len(KINDS))]
            rng.shuffle(kinds)
            down_until = None
            number = 0
            loop = asyncio.get_running_loop()
            deadline = loop.time() + DEADLINE_S
            while True:
                if episodes and number >= episodes[0]:
                    episodes.pop(0)
                    kind = kinds.pop()
                    if kind == "down":  # the API answers 502 to every send for a while (virtual time)
                        fake.failures.append(Failure("sendMessage", 502, "Bad Gateway", times=10**9))
                        down_until = clock.now.timestamp() + rng.uniform(60, 1800)
                    elif kind == "updates-down":  # polling fails too: the surface reports itself disconnected
                        fake.fail("getUpdates", 502, "Bad Gateway", times=2)
                    else:  # one 429 is waited out by the surface; a burst is handed back to the outbox
                        fake.fail("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1,
                                  times=1 if kind == "429" else 3)
                for _ in range(rng.choice((0, 1, 1, 2, 3)) if number < ALERTS else 0):
                    number += 1
                    chats = rng.sample(list(GANGS), 2 if rng.random() < 0.1 else 1)
                    text = " and ".join(GANGS[c] for c in chats) + f" leak site lists victim {number} today"
                    await monitor.ingest([make_post(str(number), text, author="poster", at=clock.now)])
                    for chat_id in chats:
                        expected[chat_id].append(number)
                await monitor.outbox.run_once()
                clock.advance(seconds=rng.uniform(1, 30))
                if down_until is not None and clock.now.timestamp() >= down_until:
                    fake.failures = [f for f in fake.failures if f.status != 502 or f.method != "sendMessage"]
                    down_until = None
                pending = await bot.services.db.run(lambda s: s.execute(
                    select(func.count()).select_from(OutboxItem).where(OutboxItem.state != "sent")).scalar_one())
                if number >= ALERTS and not pending and down_until is None:
                    break
                assert loop.time() < deadline, f"{pending} alerts still undelivered"
                await asyncio.sleep(0.01 if surface.connected else 0.2)  # let polling recover

            delivered = {chat_id: [int(m.group(1)) for t in fake.texts(chat_id) if (m := VICTIM.search(t))]
                         for chat_id in GANGS}
            faulty = [c for c in fake.calls if c.status != 200]
            lost = sum(len(set(expected[c]) - set(delivered[c])) for c in GANGS)
            doubled = sum(n - 1 for c in GANGS for n in Counter(delivered[c]).values() if n > 1)
            TALLY.add("chat_faults", alerts=sum(map(len, expected.values())), faulty_requests=len(faulty),
                      lost=lost, doubled=doubled,
                      out_of_order=sum(delivered[c] != sorted(delivered[c]) for c in GANGS))
            TALLY.put("chat_faults_by_status", **{str(k): v for k, v in Counter(c.status for c in faulty).items()})

            assert delivered == expected  # all of them, in order per chat, none twice
            assert {c.status for c in faulty} >= {429, 502} and len(faulty) >= EPISODES
        finally:
            await surface.stop()
            await bot.stop()
