"""The console surface: the same commands on stdin/stdout, line by line, as the local owner."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path
from typing import TextIO

from bot.command import ChatKind, ChatRef, UserRef
from bot.render.text import render_text
from bot.reply import Attachment, Reply
from bot.router import CONSOLE, Incoming, Router
from bot.services import Services
from storage.private import private_dir, write_private

CONSOLE_CHAT = ChatRef(CONSOLE, 0, ChatKind.PRIVATE, "console")
CONSOLE_USER = UserRef(CONSOLE, 0, "local")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str) -> str:
    """A file name that cannot leave its folder or hide: no separators, dots-only or control characters."""
    cleaned = _UNSAFE.sub("_", name).strip("._") or "file"
    return cleaned[:100]


class ConsoleSink:
    """Prints replies as plain text; attachments are saved under the data directory."""

    def __init__(self, out: TextIO, attachments_dir: Path, err: TextIO | None = None) -> None:
        self.out = out
        self.err = err or sys.stderr
        self.attachments_dir = attachments_dir

    def _save(self, attachment: Attachment) -> Path:
        private_dir(self.attachments_dir)
        path = self.attachments_dir / safe_filename(attachment.filename)
        stem, suffix, n = path.stem, path.suffix, 1
        while path.exists():
            path = path.with_name(f"{stem}-{n}{suffix}")
            n += 1
        write_private(path, attachment.data)
        return path

    async def send(self, reply: Reply) -> None:
        text = render_text(Reply([p for p in reply.parts if not isinstance(p, Attachment)]))
        lines = [text] if text else []
        for attachment in reply.attachments:
            path = self._save(attachment)
            caption = f" — {attachment.caption}" if attachment.caption else ""
            lines.append(f"[saved {attachment.filename} → {path}]{caption}")
        self.out.write("\n".join(lines) + "\n\n")
        self.out.flush()

    async def progress(self, reply: Reply) -> None:
        if self.err.isatty():
            self.err.write("\r" + render_text(reply).replace("\n", " ")[:200] + "\x1b[K")
            self.err.flush()


class ConsoleSurface:
    """Serves stdin line by line; `done` completes at end of input."""

    name = CONSOLE

    def __init__(self, services: Services, router: Router, *, stdin: TextIO | None = None,
                 stdout: TextIO | None = None) -> None:
        self.services = services
        self.router = router
        self.stdin = stdin or sys.stdin
        self.sink = ConsoleSink(stdout or sys.stdout, services.settings.data_dir / "attachments")
        self.done = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return not self.done.is_set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._serve(), name="console")

    async def stop(self) -> None:
        if self._task and not self._task.done():
            self._task.cancel()

    async def _serve(self) -> None:
        try:
            while True:
                line = await asyncio.to_thread(self.stdin.readline)
                if not line:
                    break
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                if not line.startswith("/"):
                    line = "/" + line
                await self.router.handle(Incoming(CONSOLE_CHAT, CONSOLE_USER, line), self.sink)
        finally:
            self.done.set()

    async def deliver(self, chat_id: int, reply: Reply) -> None:
        await self.sink.send(reply)
