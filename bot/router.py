"""The command router: line parsing, access checks, dispatch, audit and buttons (commands from `bot.registry`)."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from bot.command import (
    Arg,
    ArgKind,
    ChatKind,
    ChatRef,
    Command,
    CommandError,
    Context,
    IncomingFile,
    Option,
    ReplySink,
    UsageError,
    UserRef,
    parse_duration,
)
from bot.ratelimit import CommandRateLimiter
from bot.registry import Registry
from bot.reply import Button, Reply, code
from bot.services import Services
from bot.untrusted import encodable
from storage import audit, identity
from storage.db import Database, FirstWrite, bulk_lane, first_write, stops_when_cancelled
from storage.models import ButtonToken, Role

log = logging.getLogger(__name__)

CONSOLE = "console"
REFUSAL = "This chat is not allowed to use the bot yet. Ask an admin to run /allow here."
ANONYMOUS = ("You are writing anonymously (as this group or as a channel), so the bot cannot tell who you are "
             "and gives you no role. Write as yourself to use commands: turn off \"Remain anonymous\" in your "
             "admin rights, or choose your own account as the sender.")
EXPIRED = "This button has expired. Run the command again."
WITHHELD = "(arguments not kept)"


# --------------------------------------------------------------------------- parsing
class ParseError(Exception):
    """The line could not be split into words."""


@dataclass(frozen=True, slots=True)
class Token:
    """A word of the command line, with its span in the original text."""

    value: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """Split like a shell: whitespace separates, "double" or 'single' quotes group."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start, buf = i, []
        while i < n and not text[i].isspace():
            ch = text[i]
            if ch in "\"'“”" and (i == start or buf):
                close = {"“": "”"}.get(ch, ch)
                end = text.find(close, i + 1)
                if end < 0 and ch == "”":
                    end = text.find("”", i + 1)
                if end < 0:
                    raise ParseError(f"unclosed quote {ch} at position {i + 1}")
                buf.append(text[i + 1 : end])
                i = end + 1
            else:
                buf.append(ch)
                i += 1
        tokens.append(Token("".join(buf), start, i))
    return tokens


def _convert(kind: ArgKind, value: str, choices: tuple[str, ...], label: str) -> Any:
    if kind is ArgKind.INT:
        try:
            number = int(value)
        except ValueError:
            raise UsageError(f"{label} must be a whole number, not {value!r}") from None
        if not -(2**63) <= number < 2**63:  # what the database can hold
            raise UsageError(f"{label} is out of range")
        return number
    if kind is ArgKind.FLOAT:
        try:
            return float(value)
        except ValueError:
            raise UsageError(f"{label} must be a number, not {value!r}") from None
    if kind is ArgKind.DURATION:
        try:
            return parse_duration(value)
        except ValueError:
            raise UsageError(f"{label} must be a duration like 30s, 5m, 1h or 2d, not {value!r}") from None
    if kind is ArgKind.CHOICE or choices:
        low = value.lower()
        if low not in choices:
            raise UsageError(f"{label} must be one of {', '.join(choices)}, not {value!r}")
        return low
    return value


def parse_arguments(command: Command, line: str, tokens: list[Token]) -> dict[str, Any]:
    """Turn the tokens after the command name into the handler's keyword arguments."""
    options = {o.name: o for o in command.options}
    values: dict[str, Any] = {o.name: (False if o.flag else o.default) for o in command.options}
    positional: list[Token] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        name = tok.value[2:].split("=", 1)[0] if tok.value.startswith("--") else None
        if name is not None and name in options:
            opt = options[name]
            if opt.flag:
                values[opt.name] = True
            elif "=" in tok.value:
                values[opt.name] = _convert(opt.kind, tok.value.split("=", 1)[1], opt.choices, f"--{name}")
            elif i + 1 < len(tokens):
                i += 1
                values[opt.name] = _convert(opt.kind, tokens[i].value, opt.choices, f"--{name}")
            else:
                raise UsageError(f"--{name} needs a value")
        elif name is not None and command.options and not _text_arg(command):
            raise UsageError(f"unknown option --{name}")
        else:
            positional.append(tok)
        i += 1
    for index, arg in enumerate(command.args):
        if arg.kind is ArgKind.TEXT:
            rest = positional[index:]
            values[arg.name] = line[rest[0].start : rest[-1].end] if rest else arg.default
            if arg.required and not rest:
                raise UsageError(f"missing <{arg.name}>")
            positional = positional[: index]
            break
        if index < len(positional):
            values[arg.name] = _convert(arg.kind, positional[index].value, arg.choices, f"<{arg.name}>")
        elif arg.required:
            raise UsageError(f"missing <{arg.name}>")
        else:
            values[arg.name] = arg.default
    else:
        if len(positional) > len(command.args):
            extra = positional[len(command.args)].value
            raise UsageError(f"unexpected {extra!r}")
    return values


def _text_arg(command: Command) -> Arg | None:
    return next((a for a in command.args if a.kind is ArgKind.TEXT), None)


# --------------------------------------------------------------------------- dispatch
@dataclass
class Incoming:
    """A command line as a surface received it."""

    chat: ChatRef
    user: UserRef
    text: str
    files: list[IncomingFile] = field(default_factory=list)
    bot_username: str | None = None  # for `/cmd@botname` in groups
    receipt: FirstWrite | None = None  # marks the platform's update handled (Telegram), so a redelivery is skipped


@dataclass
class Access:
    """Who the caller is here: their role and whether the chat is allowed."""

    role: Role
    chat_allowed: bool


class CommandRecord(FirstWrite):
    """A changing command's audit entry and its update's receipt: committed with the command's first write (or
    before its reply if it wrote nothing), so a crash leaves the change, its audit entry and its receipt, or none."""

    def __init__(self, user: str, chat: str, command: str, args: str, receipt: FirstWrite | None) -> None:
        super().__init__()
        self.fields = {"user": user, "chat": chat, "command": command, "args": args}
        self.outcome, self.detail = "interrupted", ""  # what the entry says if the process dies mid-command
        self.receipt = receipt
        self.entry_id: int | None = None

    def write(self, session: Session) -> None:
        entry = audit.record(session, **self.fields, outcome=self.outcome, detail=self.detail)
        if self.receipt is not None and not self.receipt.done:
            self.receipt.write(session)
        session.flush()
        self.entry_id = entry.id

    def committed(self) -> None:
        super().committed()
        if self.receipt is not None:
            self.receipt.committed()

    async def finish(self, db: Database, outcome: str, detail: str) -> None:
        """Record how the command ended: the entry itself when nothing wrote it yet, else its outcome."""
        self.outcome, self.detail = outcome, detail
        if not await db.settle(self) and self.entry_id is not None:
            entry_id = self.entry_id
            await db.run(lambda s: audit.set_outcome(s, entry_id, outcome, detail))


class SettlingSink:
    """A sink that commits the update's receipt before the first message leaves (nothing is sent for an update
    that could still run again)."""

    def __init__(self, sink: ReplySink, db: Database, receipt: FirstWrite) -> None:
        self.sink = sink
        self.db = db
        self.receipt = receipt

    async def send(self, reply: Reply) -> None:
        await self.db.settle(self.receipt)
        await self.sink.send(reply)

    async def progress(self, reply: Reply) -> None:
        await self.db.settle(self.receipt)
        await self.sink.progress(reply)


class Router:
    """Turns an incoming line into a command run: parse, check access, run with a timeout, audit."""

    def __init__(self, services: Services, registry: Registry) -> None:
        self.services = services
        self.registry = registry
        self.inflight: set[asyncio.Task[Any]] = set()
        self.limiter = CommandRateLimiter(services.settings.governance.rate_limits)
        self.refusals = services.refusals

    # access -------------------------------------------------------------------
    async def access(self, chat: ChatRef, user: UserRef, *, carrying: FirstWrite | None = None) -> Access:
        """The caller's role and whether the chat is allowed (`carrying` rows commit in the same transaction).

        An anonymous sender has no role anywhere.
        """
        if chat.platform == CONSOLE:
            return Access(Role.OWNER, True)

        def load(session: Session) -> Access:
            c = identity.touch_chat(session, chat.platform, chat.id, chat.kind.value, chat.title)
            if user.anonymous:  # its id is shared (every group's anonymous admins): never a user row or a role
                return Access(Role.NONE, c.allowed)
            u = identity.touch_user(session, user.platform, user.id, user.name, user.username)
            role = Role(u.role)
            # An admin's own DM (a private chat is only ever them and the bot) needs no allowing.
            allowed = c.allowed or (chat.kind is ChatKind.PRIVATE and role >= Role.ADMIN)
            return Access(role, allowed)

        return await self.services.db.run(load, carrying=carrying)

    def masked(self, text: str) -> str:
        """`text` with every configured secret and URL credential replaced by ***."""
        return self.services.masked(text)

    async def audit(self, ctx_chat: ChatRef, user: UserRef, command: str, args: str, outcome: str,
                    detail: str = "") -> None:
        args, detail = self.masked(encodable(args)), self.masked(encodable(detail))
        await self.services.db.run(
            lambda s: audit.record(
                s, user=user.key, chat=ctx_chat.key, command=command, args=args, outcome=outcome, detail=detail
            )
        )

    async def _refuse(self, incoming: Incoming, sink: ReplySink, access: Access, command: str, args: str,
                      outcome: str, detail: str, reply: Reply) -> None:
        """Audit a refusal and send it; to strangers and anonymous senders only sparingly (RefusalLimiter)."""
        if not access.chat_allowed or incoming.user.anonymous:
            user = incoming.user
            silenced = self.refusals.allow(f"{user.key} in {incoming.chat.key}" if user.anonymous else user.key)
            if silenced is None:  # counted; the next refusal shown to this stranger reports it
                await self.services.db.settle(incoming.receipt)  # handled all the same: never run again
                return
            if silenced:
                detail += f"; {silenced} more refusal(s) to this sender silenced before this one"
        await self.audit(incoming.chat, incoming.user, command[:64], args, outcome, detail)
        await sink.send(reply)

    # entry points -------------------------------------------------------------
    async def handle(self, incoming: Incoming, sink: ReplySink) -> None:
        """Run one command line and send its replies to `sink`. Never raises."""
        sink = self._settling(sink, incoming.receipt)
        try:
            await self._handle(incoming, sink)
        except Exception as exc:  # the last guard: a surface must never see a traceback
            ref = secrets.token_hex(3)
            log.exception("router failure ref=%s", ref)
            self.services.record_error("router", f"{type(exc).__name__} (ref {ref})", incoming.chat.key)
            await _safe_send(sink, Reply.error(f"Something went wrong (ref {ref}). It has been logged."))

    async def press(self, chat: ChatRef, user: UserRef, token: str, sink: ReplySink,
                    receipt: FirstWrite | None = None) -> None:
        """A button was pressed: run its command as the presser, with the presser's access."""

        def load(session: Session) -> ButtonToken | None:
            return session.get(ButtonToken, token)

        row = await self.services.db.run(load)
        if row is None or row.chat != chat.key:  # expired, forged, or shown in another chat
            why = "no such button" if row is None else f"button of {row.chat} pressed here"
            with first_write(receipt):  # the refusal's audit entry marks the press handled
                await self._refuse(Incoming(chat, user, "", receipt=receipt), self._settling(sink, receipt),
                                   await self.access(chat, user), "(button)", token[:64], "refused", why,
                                   Reply.error(EXPIRED))
            return
        await self.handle(Incoming(chat, user, row.command, receipt=receipt), sink)

    def _settling(self, sink: ReplySink, receipt: FirstWrite | None) -> ReplySink:
        if receipt is None or isinstance(sink, SettlingSink):
            return sink
        return SettlingSink(sink, self.services.db, receipt)

    async def tokens_for(self, reply: Reply, chat: ChatRef) -> dict[Button, str]:
        """Short tokens for the reply's buttons (persisted so buttons survive a restart)."""
        buttons = [b for row in reply.button_rows for b in row]
        if not buttons:
            return {}
        tokens = {b: secrets.token_urlsafe(9) for b in buttons}

        def store(session: Session) -> None:
            for button, token in tokens.items():
                session.add(ButtonToken(token=token, command=button.command, chat=chat.key))

        await self.services.db.run(store)
        return tokens

    # the work -----------------------------------------------------------------
    async def _handle(self, incoming: Incoming, sink: ReplySink) -> None:
        settings = self.services.settings
        text = encodable(incoming.text).strip()
        limit = settings.commands.max_input_chars
        if len(text) > limit:
            access = await self.access(incoming.chat, incoming.user)
            await self._refuse(incoming, sink, access, "(oversized)", text[:100], "refused",
                               f"message of {len(text)} characters (limit {limit})",
                               _for_members(access, Reply.error(
                                   f"That message is too long (over {limit} characters). Send a shorter command, "
                                   "or attach a file with /import.")))
            return
        if not text.startswith("/"):
            return
        try:
            tokens = tokenize(text)
        except ParseError as exc:
            access = await self.access(incoming.chat, incoming.user)
            await self._refuse(incoming, sink, access, text.split(maxsplit=1)[0], text, "invalid",
                               f"could not read it: {exc}",
                               _for_members(access, Reply.error(f"Could not read that command: {exc}.",
                                                                '/watch add "lock bit" OR lockbit')))
            return
        if not tokens:
            return
        head = tokens[0].value[1:]
        if not head:
            return
        if "@" in head:
            head, _, addressee = head.partition("@")
            if incoming.bot_username and addressee.lower() != incoming.bot_username.lower():
                return  # addressed to another bot in this group
        tokens[0] = Token(head.lower(), tokens[0].start, tokens[0].end)
        command, used = self.registry.resolve([t.value for t in tokens[:2]])
        # An update that changes nothing is marked handled as it starts; one that does, with its first write.
        changes = command is not None and command.mutates
        access = await self.access(incoming.chat, incoming.user, carrying=None if changes else incoming.receipt)
        with first_write(incoming.receipt):  # a refusal's audit entry is its first write
            await self._dispatch(incoming, sink, access, text, tokens, command, used)

    async def _dispatch(self, incoming: Incoming, sink: ReplySink, access: Access, text: str, tokens: list[Token],
                        command: Command | None, used: int) -> None:
        if incoming.user.anonymous:
            await self._refuse(incoming, sink, access, tokens[0].value, "", "refused", "anonymous sender",
                               Reply.text(ANONYMOUS, ephemeral=True))
            return
        if command is None:
            await self._unknown(incoming, sink, access, text, tokens)
            return
        if command.needs_allowed_chat and not access.chat_allowed:
            await self._refuse(incoming, sink, access, command.name, "", "refused", "chat not allowed",
                               Reply.text(REFUSAL, f" (chat {incoming.chat.key}, you {incoming.user.key})",
                                          ephemeral=True))
            return
        if access.role < command.role:
            await self._refuse(incoming, sink, access, command.name, "", "refused", f"role {access.role.label}",
                               Reply.text(f"Sorry, /{command.name} needs the {command.role.label} role; you are "
                                          f"{access.role.label}. An admin can change that with /role.", ephemeral=True))
            return
        rest = tokens[used:]
        args_text = text[rest[0].start:] if rest else ""
        audited = args_text if command.audit_args else WITHHELD  # what the audit log keeps
        try:
            kwargs = parse_arguments(command, text, rest)
        except UsageError as exc:
            await self.audit(incoming.chat, incoming.user, command.name, audited, "invalid", str(exc))
            await sink.send(_usage_error(command, self.masked(str(exc))))
            return
        if command.expensive and await self._rate_limited(incoming, access, command, audited, sink):
            return
        ctx = Context(self.services, incoming.chat, incoming.user, access.role, command, text, sink, self.registry,
                      incoming.files, access.chat_allowed)
        await self._run(ctx, kwargs, audited, incoming.receipt)

    async def _run(self, ctx: Context, kwargs: dict[str, Any], args_text: str, receipt: FirstWrite | None) -> None:
        command = ctx.command
        timeout = command.timeout or self.services.settings.commands.timeout_s
        started = time.monotonic()
        record = CommandRecord(ctx.user.key, ctx.chat.key, command.name, self.masked(args_text), receipt) \
            if command.mutates else None
        # a changing command's first write carries its audit entry and receipt; an expensive command's database
        # work runs in the bulk lane, so access checks and audit entries never queue behind it; a timed-out
        # command's database work stops
        with first_write(record), bulk_lane(command.expensive), stops_when_cancelled():
            task = asyncio.create_task(command.handler(ctx, **kwargs), name=f"cmd:{command.name}")
        self.inflight.add(task)
        task.add_done_callback(self.inflight.discard)
        outcome, detail = "ok", ""
        try:
            reply = await asyncio.wait_for(task, timeout)
        except UsageError as exc:
            outcome, detail = "invalid", self.masked(str(exc))
            reply = _usage_error(command, detail)
        except CommandError as exc:
            outcome, detail = "failed", self.masked(str(exc))
            reply = Reply.error(detail)
        except TimeoutError:
            outcome, detail = "timeout", f"after {timeout:.0f}s"
            reply = Reply.error(f"/{command.name} took longer than {timeout:.0f}s and was stopped. "
                                "Try a narrower query.")
        except Exception as exc:
            ref = secrets.token_hex(3)
            log.exception("command /%s failed ref=%s", command.name, ref)
            self.services.record_error(f"/{command.name}", f"{type(exc).__name__} (ref {ref})", ctx.chat.key)
            outcome, detail = "error", f"{type(exc).__name__} ref {ref}"
            reply = Reply.error(f"/{command.name} failed unexpectedly (ref {ref}). It has been logged.")
        elapsed = time.monotonic() - started
        self.services.metrics.command_seconds.labels(command.name, outcome).observe(elapsed)
        log.info("command", extra={"command": command.name, "user": ctx.user.key, "chat": ctx.chat.key,
                                   "outcome": outcome, "ms": int(elapsed * 1000)})
        if record is None:  # nothing changed: the answer first, the audit entry need not delay it
            try:
                if reply is not None:
                    await ctx.send(reply)
            finally:
                await self.audit(ctx.chat, ctx.user, command.name, args_text, outcome, detail)
            return
        await record.finish(self.services.db, outcome, self.masked(detail))  # audited before anyone sees an answer
        if reply is not None:
            await ctx.send(reply)

    async def _rate_limited(self, incoming: Incoming, access: Access, command: Command, args_text: str,
                            sink: ReplySink) -> bool:
        """True, after refusing and auditing, when an expensive command is over the caller's or chat's limit."""
        limits = self.services.settings.governance.rate_limits
        if incoming.chat.platform == CONSOLE or (limits.exempt_admins and access.role >= Role.ADMIN):
            return False
        refusal = self.limiter.acquire(incoming.user.key, incoming.chat.key)
        if refusal is None:
            return False
        who = "you" if refusal.scope == "user" else "this chat"
        await self.audit(incoming.chat, incoming.user, command.name, args_text, "refused",
                         f"rate limit: {refusal.limit} per {refusal.window_s:g}s per {refusal.scope}")
        await sink.send(Reply.text(
            f"⏳ Slow down: heavy commands like /{command.name} are limited to {refusal.limit} per "
            f"{refusal.window_s:g} s for {who}. Try again in {refusal.retry_after_s} s.", ephemeral=True))
        return True

    async def _unknown(self, incoming: Incoming, sink: ReplySink, access: Access, text: str,
                       tokens: list[Token]) -> None:
        """Refuse (strangers) or explain (members) a command that is not registered; audited either way."""
        name = tokens[0].value
        args = text[tokens[1].start:] if len(tokens) > 1 else ""
        if not access.chat_allowed:
            await self._refuse(incoming, sink, access, name, args, "refused", "unknown command; chat not allowed",
                               Reply.text(REFUSAL, ephemeral=True))
            return
        group = self.registry.groups().get(name)
        if group:  # a group name without (or with a wrong) subcommand
            reply = Reply.error(f"/{name} needs a subcommand:")
            reply.table(["command", "what it does"], [(c.usage, c.summary) for c in group])
            await self._refuse(incoming, sink, access, name, args, "invalid", "no such subcommand", reply)
            return
        hint = self.registry.suggest(name)
        reply = Reply.error(f"Unknown command /{name}." + (f" Did you mean /{hint[0]}?" if hint else ""))
        reply.para("Send ", code("/help"), " for the list.")
        await self._refuse(incoming, sink, access, name, args, "invalid", "unknown command", reply)


def _for_members(access: Access, reply: Reply) -> Reply:
    """`reply` for an allowed chat; a stranger learns nothing but that the chat is not allowed."""
    return reply if access.chat_allowed else Reply.text(REFUSAL, ephemeral=True)


def _usage_error(command: Command, message: str) -> Reply:
    reply = Reply.error(f"{message[:1].upper()}{message[1:]}.".replace("..", "."))
    reply.para("Usage: ", code(command.usage))
    reply.para("Example: ", code(command.example))
    return reply


async def _safe_send(sink: ReplySink, reply: Reply) -> None:
    try:
        await sink.send(reply)
    except Exception:
        log.exception("could not send an error reply")


__all__ = ["Access", "Incoming", "Option", "ParseError", "Registry", "Router", "Token", "parse_arguments",
           "tokenize"]
