"""A test bot: the real App and Router on a temporary SQLite database, driven line by line.

    bot = BotHarness(tmp_path)
    await bot.start()
    replies = await bot.run("/whoami", role=Role.ANALYST)
    assert "analyst" in render_text(replies[-1])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.app import App
from bot.command import ChatKind, ChatRef, CommandSet, IncomingFile, UserRef
from bot.render.text import render_text
from bot.reply import Reply
from bot.router import Incoming
from bot.services import DeliveryError, Services
from config.settings import Settings
from storage import identity
from storage.models import Role


class RecordingSink:
    """A ReplySink that keeps what a command sent, and its progress updates."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.progress_updates: list[Reply] = []

    async def send(self, reply: Reply) -> None:
        self.replies.append(reply)

    async def progress(self, reply: Reply) -> None:
        self.progress_updates.append(reply)


class RecordingSurface:
    """A fake chat surface for the outbox: records deliveries, can be told to fail."""

    def __init__(self, name: str = "telegram") -> None:
        self.name = name
        self.delivered: list[tuple[int, Reply]] = []
        self.fail_with: DeliveryError | None = None
        self.fail_times = 0
        self.up = True

    @property
    def connected(self) -> bool:
        return self.up

    async def start(self) -> None:
        self.up = True

    async def stop(self) -> None:
        self.up = False

    async def deliver(self, chat_id: int, reply: Reply) -> None:
        if self.fail_with is not None and self.fail_times != 0:
            self.fail_times -= 1
            raise self.fail_with
        self.delivered.append((chat_id, reply))


# Tests of other things send strangers many refusals in a row; the flood limiter is tested on its own.
UNLIMITED_REFUSALS = {"stranger_refusals": 0, "stranger_refusals_total": 0}


def test_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for a test: data and database under `tmp_path`, no tokens, no network roots changed.

    Refusals to strangers are not rate-limited unless the test sets `governance.rate_limits` itself.
    """
    overrides.setdefault("data_dir", tmp_path / "data")
    governance = overrides.setdefault("governance", {})
    governance["rate_limits"] = {**UNLIMITED_REFUSALS, **governance.get("rate_limits", {})}
    database = overrides.pop("database", {"url": f"sqlite:///{tmp_path / 'test.db'}"})
    return Settings(database=database, **overrides)


class BotHarness:
    """The whole bot minus real chat platforms."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        sets: Iterable[CommandSet] | None = None,
        clock: Callable[[], datetime] | None = None,
        background: bool = False,
        surfaces: Sequence[RecordingSurface] = (),
        **settings: Any,
    ) -> None:
        self.app = App(test_settings(tmp_path, **settings), sets=sets, clock=clock)
        self.app.services.background = background
        self.surfaces = list(surfaces)

    @property
    def services(self) -> Services:
        return self.app.services

    async def start(self) -> BotHarness:
        await self.app.start(self.surfaces)
        return self

    async def stop(self) -> None:
        await self.app.stop()

    async def prepare(self, *, platform: str, user_id: int, chat_id: int, role: Role | None,
                      allowed: bool) -> None:
        """Set the caller's role and the chat's allowed state in the database."""

        def apply(session) -> None:  # type: ignore[no-untyped-def]
            if role is not None:
                identity.set_role(session, platform, user_id, role)
            identity.touch_chat(session, platform, chat_id, "group", None)
            identity.set_allowed(session, platform, chat_id, allowed, "test")

        await self.services.db.run(apply)

    async def run(
        self,
        line: str,
        *,
        role: Role | None = Role.OWNER,
        platform: str = "telegram",
        user_id: int = 1001,
        chat_id: int = -5001,
        allowed: bool = True,
        files: Sequence[IncomingFile] = (),
        sink: RecordingSink | None = None,
    ) -> list[Reply]:
        """Run one line as a user with `role` in a chat (allowed unless told otherwise)."""
        await self.prepare(platform=platform, user_id=user_id, chat_id=chat_id, role=role, allowed=allowed)
        sink = sink or RecordingSink()
        chat = ChatRef(platform, chat_id, ChatKind.GROUP, "test chat")
        user = UserRef(platform, user_id, f"user{user_id}", f"user{user_id}")
        await self.app.router.handle(Incoming(chat, user, line, list(files)), sink)
        return sink.replies

    async def text(self, line: str, **kwargs: Any) -> str:
        """The plain text of all replies to `line`."""
        return "\n\n".join(render_text(r) for r in await self.run(line, **kwargs))
