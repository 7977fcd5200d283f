"""Kill the real process while alerts are being delivered: after a restart each arrives, at most one twice."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from pathlib import Path

from tests.fakes.monitor import Clock, FileSurface, engine_of, start_monitor_bot

ROOT = Path(__file__).resolve().parents[1]
POSTS = 6

CHILD = textwrap.dedent(f"""
    import asyncio, sys
    from pathlib import Path
    from tests.fakes.monitor import Clock, FileSurface, engine_of, make_post, start_monitor_bot

    async def main(tmp: Path) -> None:
        surface = FileSurface(tmp / "delivered.txt", delay=0.3)
        bot, _ = await start_monitor_bot(tmp, Clock(), surface=False, group_threshold=100)
        await bot.app.add_surface(surface)
        await bot.run("/watch add lockbit")
        await engine_of(bot).ingest([make_post(str(i), f"lockbit post {{i}}") for i in range({POSTS})])
        (tmp / "stored").touch()
        await engine_of(bot).outbox.drain()  # killed somewhere in here

    asyncio.run(main(Path(sys.argv[1])))
""")


async def _wait_for(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "the child process did not get there in time"
        await asyncio.sleep(0.05)


async def test_sigkill_during_delivery_loses_nothing_and_doubles_at_most_one(tmp_path: Path) -> None:
    delivered = tmp_path / "delivered.txt"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", CHILD, str(tmp_path), cwd=tmp_path, env=env)
    try:
        await _wait_for(lambda: delivered.exists() and len(delivered.read_text().splitlines()) >= 2)
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    before = delivered.read_text().splitlines()
    assert (tmp_path / "stored").exists() and 2 <= len(before) < POSTS

    bot, _ = await start_monitor_bot(tmp_path, Clock(), surface=False, group_threshold=100)
    try:
        await bot.app.add_surface(FileSurface(delivered))
        await engine_of(bot).outbox.drain()
    finally:
        await bot.stop()
    lines = delivered.read_text().splitlines()
    assert sorted(set(lines)) == sorted(f"lockbit post {i}" for i in range(POSTS))
    assert len(lines) - len(set(lines)) <= 1  # only the message in flight at the kill may come twice
