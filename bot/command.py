"""How commands are declared, and what a handler receives: the neutral core handlers import.

Handlers declare commands where they implement them::

    commands = CommandSet()

    @commands.command("whoami", "Show who you are and your role here", example="/whoami")
    async def whoami(ctx: Context) -> Reply: ...

Nothing here knows a chat platform; surfaces translate to and from these types.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from bot.reply import Reply
from storage.models import Role

if TYPE_CHECKING:
    from bot.services import Services

__all__ = [
    "Arg",
    "ArgKind",
    "ChatKind",
    "ChatRef",
    "Command",
    "CommandError",
    "CommandIndex",
    "CommandSet",
    "Context",
    "IncomingFile",
    "Option",
    "ReplySink",
    "Role",
    "UsageError",
    "UserRef",
    "parse_duration",
]


class ArgKind(StrEnum):
    """The type of a command argument, used for parsing and for typed slash options."""

    STR = "str"
    INT = "int"
    FLOAT = "float"
    DURATION = "duration"
    CHOICE = "choice"
    TEXT = "text"  # greedy: the rest of the line, raw (quotes kept)


Completer = Callable[["Services", "ChatRef", str], Awaitable[list[str]]]


@dataclass(frozen=True)
class Arg:
    """A positional argument."""

    name: str
    help: str
    kind: ArgKind = ArgKind.STR
    required: bool = True
    choices: tuple[str, ...] = ()
    complete: Completer | None = None
    default: Any = None


@dataclass(frozen=True)
class Option:
    """A named `--option value` (or `--flag` when `flag` is true)."""

    name: str
    help: str
    kind: ArgKind = ArgKind.STR
    flag: bool = False
    choices: tuple[str, ...] = ()
    complete: Completer | None = None
    default: Any = None


Handler = Callable[..., Awaitable[Reply | None]]
Lifecycle = Callable[["Services"], Awaitable[None]]


@dataclass
class Command:
    """One command: what it is called, what it takes, who may run it, and what runs it."""

    name: str  # may contain one space for a subcommand: "watch add"
    handler: Handler
    summary: str
    example: str
    args: tuple[Arg, ...] = ()
    options: tuple[Option, ...] = ()
    role: Role = Role.VIEWER
    mutates: bool = False
    aliases: tuple[str, ...] = ()
    timeout: float | None = None  # seconds; None = the configured default
    needs_allowed_chat: bool = True
    expensive: bool = False  # rate-limited per user and chat; its database work runs in the bulk lane
    hidden: bool = False
    audit_args: bool = True  # False: the audit log keeps that the command ran, not its arguments (erasure)

    @property
    def usage(self) -> str:
        parts = [f"/{self.name}"]
        for a in self.args:
            label = f"<{a.name}>" if not a.choices else "|".join(a.choices)
            if a.kind is ArgKind.TEXT:
                label = f"<{a.name}…>"
            parts.append(label if a.required else f"[{label}]")
        for o in self.options:
            value = "|".join(o.choices) if o.choices else f"<{o.kind.value}>"
            parts.append(f"[--{o.name}]" if o.flag else f"[--{o.name} {value}]")
        return " ".join(parts)

    @property
    def group(self) -> str:
        return self.name.split(" ", 1)[0]


class CommandSet:
    """The commands one handler module declares; the app collects the sets into a registry."""

    def __init__(self) -> None:
        self.commands: list[Command] = []
        self.starters: list[Lifecycle] = []
        self.stoppers: list[Lifecycle] = []

    def on_start(self, fn: Lifecycle) -> Lifecycle:
        """Run `fn(services)` once the app is wired (start workers, add scheduler jobs)."""
        self.starters.append(fn)
        return fn

    def on_stop(self, fn: Lifecycle) -> Lifecycle:
        """Run `fn(services)` at shutdown, before the database and HTTP client close."""
        self.stoppers.append(fn)
        return fn

    def command(
        self,
        name: str,
        summary: str,
        *,
        example: str,
        args: Sequence[Arg] = (),
        options: Sequence[Option] = (),
        role: Role = Role.VIEWER,
        mutates: bool = False,
        aliases: Sequence[str] = (),
        timeout: float | None = None,
        needs_allowed_chat: bool = True,
        expensive: bool = False,
        hidden: bool = False,
        audit_args: bool = True,
    ) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self.commands.append(
                Command(
                    name=name,
                    handler=fn,
                    summary=summary,
                    example=example,
                    args=tuple(args),
                    options=tuple(options),
                    role=role,
                    mutates=mutates,
                    aliases=tuple(aliases),
                    timeout=timeout,
                    needs_allowed_chat=needs_allowed_chat,
                    expensive=expensive,
                    hidden=hidden,
                    audit_args=audit_args,
                )
            )
            return fn

        return register


class UsageError(Exception):
    """Raised by a handler when its arguments are wrong: the user sees the message and the usage."""


class CommandError(Exception):
    """Raised by a handler for an expected failure: the user sees the message, nothing else."""


class ChatKind(StrEnum):
    PRIVATE = "private"
    GROUP = "group"
    CHANNEL = "channel"


@dataclass(frozen=True)
class ChatRef:
    """A chat on a platform, by its stable numeric id."""

    platform: str
    id: int
    kind: ChatKind = ChatKind.PRIVATE
    title: str | None = None

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.id}"


@dataclass(frozen=True)
class UserRef:
    """A user on a platform, by its stable numeric id.

    `name` is display only; `username` is the platform's unique handle (Telegram @username), the only
    thing `/role @name` resolves against. `anonymous` marks a sender the platform hides (an anonymous
    group admin, a channel posting in a group): it shares its id with others and gets no role.
    """

    platform: str
    id: int
    name: str | None = None
    username: str | None = None
    anonymous: bool = False

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.id}"


@dataclass(frozen=True)
class IncomingFile:
    """A file the user attached to a command (for /import); `fetch` downloads its bytes."""

    filename: str
    size: int
    fetch: Callable[[], Awaitable[bytes]]
    mime: str = "application/octet-stream"


class ReplySink(Protocol):
    """Where a running command's output goes: the surface implements it per incoming message."""

    async def send(self, reply: Reply) -> None:
        """Send a reply now (the final one or an intermediate one)."""

    async def progress(self, reply: Reply) -> None:
        """Show or update the single in-place progress message for this command."""


class CommandIndex(Protocol):
    """The declared commands as /help reads them (the registry, `bot.registry`, is one)."""

    def get(self, name: str) -> Command | None:
        """The command by name or alias."""

    def groups(self) -> dict[str, list[Command]]:
        """Top-level name → its commands."""

    def suggest(self, word: str) -> list[str]:
        """Command names close to `word`."""


@dataclass
class Context:
    """What a handler gets: who asked, where, with what role, where to answer, and the commands there are."""

    services: Services
    chat: ChatRef
    user: UserRef
    role: Role
    command: Command
    line: str
    sink: ReplySink
    commands: CommandIndex
    files: list[IncomingFile] = field(default_factory=list)
    chat_allowed: bool = True

    @property
    def platform(self) -> str:
        return self.chat.platform

    async def send(self, reply: Reply) -> None:
        await self.sink.send(reply)

    async def progress(self, message: str | Reply) -> None:
        await self.sink.progress(Reply.text(message) if isinstance(message, str) else message)


_DURATION = re.compile(r"(\d+)\s*(s|sec|m|min|h|d|w)", re.IGNORECASE)
_UNIT = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """Parse `90s`, `5m`, `1h30m`, `2d`, `1w` into a timedelta; ValueError otherwise."""
    text = text.strip()
    pos, total = 0, 0
    for m in _DURATION.finditer(text):
        if text[pos : m.start()].strip():
            break
        total += int(m.group(1)) * _UNIT[m.group(2).lower()]
        pos = m.end()
    if not text or pos != len(text) or total <= 0:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 5m, 1h, 2d)")
    return timedelta(seconds=total)
