"""Round trip of /help and /whoami through the Telegram path, against the fake Bot API server.

    python -m bench.telegram_roundtrip [--n 150] [--gap-ms 50]

Latency is measured by the fake server's clock: from the moment an update is queued for
getUpdates to the moment the answering sendMessage arrives. The baseline is a bare echo bot
(httpx long-polling getUpdates and answering with sendMessage, nothing else) against the same
server in the same run, so the difference is the bot's own overhead: PTB parsing, the router,
access checks and audit in SQLite, rendering and the rate limiter. Requests are paced (`--gap-ms`)
below Telegram's 30 messages/s so the rate limiter measures as pass-through, as in real use.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from bot.app import App
from bot.surfaces.telegram import TelegramSurface
from config.settings import Settings
from tests.fakes.telegram_api import FakeBotAPI

USER = 4242  # a private chat: no per-group rate limit applies
TARGET_P99_OVERHEAD_MS = 20.0


class DbClock:
    """Milliseconds the bot spent waiting on `Database.run` (access checks, audit), to explain the overhead."""

    def __init__(self) -> None:
        self.total_ms = 0.0

    def wrap(self, run: Callable[[Any], Awaitable[Any]]) -> Callable[[Any], Awaitable[Any]]:
        async def timed(fn: Any) -> Any:
            started = time.perf_counter()
            try:
                return await run(fn)
            finally:
                self.total_ms += (time.perf_counter() - started) * 1000

        return timed


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


async def measure(fake: FakeBotAPI, line: str, n: int, gap_s: float,
                  db: DbClock | None = None, db_samples: list[float] | None = None) -> list[float]:
    """Milliseconds from update queued to the answering sendMessage, `n` times, one at a time."""
    samples = []
    for _ in range(n):
        before, db_before = len(fake.calls_to("sendMessage")), db.total_ms if db else 0.0
        update_id = fake.send_command(line, chat_id=USER, user_id=USER)
        calls = await fake.wait_for("sendMessage", before + 1, timeout=10)
        samples.append((calls[before].at - fake.pushed_at[update_id]) * 1000)
        await asyncio.sleep(gap_s)
        if db and db_samples is not None:
            db_samples.append(db.total_ms - db_before)
    return samples


async def echo_bot(fake: FakeBotAPI, stop: asyncio.Event) -> None:
    """The baseline: the least a Telegram bot can do, over the same HTTP stack PTB uses."""
    api = f"{fake.url}/bot{fake.token}"
    offset = 0
    async with httpx.AsyncClient(timeout=30) as client:
        while not stop.is_set():
            response = await client.post(f"{api}/getUpdates", data={"offset": str(offset), "timeout": "5"})
            for update in response.json()["result"]:
                offset = update["update_id"] + 1
                chat = update["message"]["chat"]["id"]
                await client.post(f"{api}/sendMessage", data={"chat_id": str(chat), "text": "echo"})


async def with_echo_bot(fake: FakeBotAPI, run: Callable[[], Awaitable[list[float]]]) -> list[float]:
    stop = asyncio.Event()
    task = asyncio.create_task(echo_bot(fake, stop))
    try:
        return await run()
    finally:
        stop.set()
        fake.send_command("/stop", chat_id=USER, user_id=USER)  # ends the pending long poll
        await task


async def with_real_bot(fake: FakeBotAPI, data_dir: Path, db: DbClock,
                        run: Callable[[], Awaitable[list[float]]]) -> list[float]:
    settings = Settings(data_dir=data_dir, database={"url": f"sqlite:///{data_dir / 'bench.db'}"},
                        admins=[f"telegram:{USER}"],
                        telegram={"token": fake.token, "api_url": fake.url, "poll_timeout_s": 5})
    app = App(settings)
    await app.start()
    app.services.db.run = db.wrap(app.services.db.run)  # type: ignore[method-assign]
    surface = TelegramSurface(app.services, app.router)
    await surface.start()
    await surface.start_receiving()
    try:
        return await run()
    finally:
        await surface.stop()
        await app.stop()


def row(name: str, samples: list[float]) -> str:
    return (f"{name:<22} n={len(samples):<4} p50={percentile(samples, 50):7.2f} ms  "
            f"p99={percentile(samples, 99):7.2f} ms  mean={statistics.fmean(samples):7.2f} ms")


async def main(n: int, gap_s: float) -> int:
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeBotAPI() as fake:
            baseline = await with_echo_bot(fake, lambda: measure(fake, "/ping", n, gap_s))

        async with FakeBotAPI() as fake:
            db, db_samples = DbClock(), {"help": [], "whoami": []}

            async def both() -> list[float]:
                await measure(fake, "/whoami", 5, gap_s)  # warm-up: connections, first DB rows
                help_ = await measure(fake, "/help", n, gap_s, db, db_samples["help"])
                whoami = await measure(fake, "/whoami", n, gap_s, db, db_samples["whoami"])
                results["help"], results["whoami"] = help_, whoami
                return help_ + whoami

            results: dict[str, list[float]] = {}
            await with_real_bot(fake, Path(tmp), db, both)

    print("Telegram round trip (update queued -> sendMessage received), fake Bot API on 127.0.0.1")
    print(row("baseline: bare echo", baseline))
    print(row("bot: /help", results["help"]))
    print(row("bot: /whoami", results["whoami"]))
    base50, base99 = percentile(baseline, 50), percentile(baseline, 99)
    worst = 0.0
    for name, samples in results.items():
        over50 = percentile(samples, 50) - base50
        over99 = percentile(samples, 99) - base99
        worst = max(worst, over99)
        print(f"overhead /{name:<7} p50={over50:7.2f} ms  p99={over99:7.2f} ms  "
              f"(of which waiting on the database: p50={percentile(db_samples[name], 50):6.2f} ms)")
    ok = worst < TARGET_P99_OVERHEAD_MS
    print(f"target: overhead p99 < {TARGET_P99_OVERHEAD_MS:.0f} ms -> {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=150, help="round trips per command")
    parser.add_argument("--gap-ms", type=float, default=50, help="pause between round trips")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.n, args.gap_ms / 1000)))
