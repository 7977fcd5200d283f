"""The real `socmint run` as a child process, talking only to fakes on 127.0.0.1, to be killed and restarted."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.fakes.telegram_api import FakeBotAPI

ROOT = Path(__file__).resolve().parents[2]


class Child:
    """One `socmint run` process (started again after each kill, on the same data directory)."""

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

    async def stop(self) -> int:
        """SIGTERM, and the exit code of the graceful shutdown."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), 30)

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-25:]) if self.log.exists() else ""


def child_env(tmp_path: Path, fake: FakeBotAPI, owner: int, **settings: str) -> dict[str, str]:
    """The environment of a `socmint run` on the fake Bot API with `owner` as its admin, plus `SOCMINT_*` settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCMINT_")}
    return {
        **env,
        "PYTHONPATH": str(ROOT),
        # anything that tried to leave this machine would hit a dead local port instead
        "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1,localhost",
        "SOCMINT_DATA_DIR": str(tmp_path / "data"),
        "SOCMINT_ADMINS": f"telegram:{owner}",
        "SOCMINT_TELEGRAM__TOKEN": fake.token,
        "SOCMINT_TELEGRAM__API_URL": fake.url,
        "SOCMINT_TELEGRAM__POLL_TIMEOUT_S": "1",
        **{f"SOCMINT_{key.upper()}": value for key, value in settings.items()},
    }


async def until(predicate: Callable[[], bool], what: str, child: Child, timeout: float = 60.0) -> None:
    """Wait for `predicate`, failing with the child's last log lines if it exits or time runs out."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert child.proc is None or child.proc.returncode is None, f"socmint run exited:\n{child.tail()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{child.tail()}"
        await asyncio.sleep(0.02)
