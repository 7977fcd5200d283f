"""The Discord surface (discord.py): slash commands generated from the registry, a prefix fallback,
buttons as components, and alert delivery — the same router and access checks as every surface."""

from __future__ import annotations

import asyncio
import inspect
import io
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, Optional

import discord
import yarl
from discord import app_commands

from bot.command import Arg, ArgKind, ChatKind, ChatRef, Command, Option, UserRef
from bot.render.discord import DiscordMessage, render
from bot.reply import Reply
from bot.router import Incoming, Registry, Router
from bot.services import DeliveryError, Services

log = logging.getLogger(__name__)

NAME = "discord"
BUTTON_PREFIX = "sm:"
DEFER_AFTER_S = 2.0  # Discord wants an answer within 3 s; defer before that
PROGRESS_EVERY_S = 1.0
NO_MENTIONS = discord.AllowedMentions.none()


# --------------------------------------------------------------------------- registry → slash commands
_PY_TYPES: dict[ArgKind, type] = {ArgKind.INT: int, ArgKind.FLOAT: float}


def _annotation(kind: ArgKind, choices: tuple[str, ...], required: bool, flag: bool = False) -> Any:
    if flag:
        return Optional[bool]  # noqa: UP045  (discord.py reads typing.Optional)
    base: Any = _PY_TYPES.get(kind, str)
    if choices and len(choices) <= 25:
        base = Literal[tuple(choices)]  # type: ignore[valid-type]
    return base if required else Optional[base]  # noqa: UP045


def quote(value: str) -> str:
    """A value as one token for the router's tokenizer."""
    if value and not any(c.isspace() or c in "\"'“”" for c in value):
        return value
    return f'"{value}"' if '"' not in value else f"'{value}'"


def command_line(command: Command, values: dict[str, Any]) -> str:
    """Rebuild the text command line from slash-command option values (one parsing path for all)."""
    parts = [f"/{command.name}"]
    given = [a for a in command.args if values.get(a.name) is not None]
    last = command.args.index(given[-1]) if given else -1
    for arg in command.args[: last + 1]:
        value = values.get(arg.name)
        if value is None:
            value = arg.default if arg.default is not None else ""
        text = str(value)
        parts.append(text if arg.kind is ArgKind.TEXT else quote(text))
    for opt in command.options:
        value = values.get(opt.name)
        if opt.flag:
            if value:
                parts.append(f"--{opt.name}")
        elif value is not None:
            parts.append(f"--{opt.name} {quote(str(value))}")
    return " ".join(parts)


Runner = Callable[[Command, discord.Interaction, dict[str, Any]], Awaitable[None]]
Completer = Callable[[discord.Interaction, str, Arg | Option], Awaitable[list[app_commands.Choice[Any]]]]


def typed_choices(kind: ArgKind, values: list[str]) -> list[app_commands.Choice[Any]]:
    """Suggestions typed like their option (Discord rejects text choices for an integer or number option)."""
    convert = _PY_TYPES.get(kind)
    choices: list[app_commands.Choice[Any]] = []
    for value in values:
        try:
            choices.append(app_commands.Choice(name=value[:100], value=convert(value) if convert else value[:100]))
        except ValueError:
            continue  # not a number: cannot be offered for a numeric option
    return choices


def _slash_name(name: str) -> str:
    return name.lower().replace(" ", "_")[:32]


def slash_command(command: Command, run: Runner, complete: Completer | None = None) -> app_commands.Command:
    """One registry command as an app command with typed, described options."""
    params = [inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                annotation=discord.Interaction)]
    described: dict[str, str] = {}
    fields: list[Arg | Option] = [*command.args, *command.options]
    for field in fields:
        required = isinstance(field, Arg) and field.required
        flag = isinstance(field, Option) and field.flag
        params.append(inspect.Parameter(
            _slash_name(field.name), inspect.Parameter.KEYWORD_ONLY,
            annotation=_annotation(field.kind, field.choices, required, flag),
            default=inspect.Parameter.empty if required else None,
        ))
        described[_slash_name(field.name)] = (field.help or field.name)[:100]
    by_slash = {_slash_name(f.name): f.name for f in fields}

    async def callback(interaction: discord.Interaction, **values: Any) -> None:
        await run(command, interaction, {by_slash[k]: v for k, v in values.items()})

    callback.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    callback.__discord_app_commands_param_description__ = described  # type: ignore[attr-defined]
    callback.__name__ = callback.__qualname__ = f"slash_{_slash_name(command.name)}"
    name = command.name.split(" ", 1)[-1]
    slash = app_commands.Command(name=_slash_name(name), description=command.summary[:100], callback=callback)
    for field in fields:
        if field.complete is not None and complete is not None and not field.choices:
            _attach_autocomplete(slash, _slash_name(field.name), field, complete)
    return slash


def _attach_autocomplete(slash: app_commands.Command, param: str, field: Arg | Option, complete: Completer) -> None:
    async def autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[Any]]:
        return await complete(interaction, current, field)

    slash.autocomplete(param)(autocomplete)


def build_tree(tree: app_commands.CommandTree, registry: Registry, run: Runner,
               complete: Completer | None = None) -> None:
    """Add every registry entry to `tree`: plain commands, or a group with its subcommands."""
    for group, commands in registry.groups().items():
        visible = [c for c in commands if not c.hidden]
        if not visible:
            continue
        if len(visible) == 1 and visible[0].name == group:
            tree.add_command(slash_command(visible[0], run, complete))
            continue
        described = "; ".join(c.name.split(" ", 1)[-1] for c in visible)
        slash_group = app_commands.Group(name=_slash_name(group), description=f"{group}: {described}"[:100])
        for command in visible:
            if command.name == group:
                continue  # a bare group command cannot coexist with subcommands on Discord
            slash_group.add_command(slash_command(command, run, complete))
        tree.add_command(slash_group)


# --------------------------------------------------------------------------- identity
def chat_ref(channel: Any) -> ChatRef:
    """The chat a Discord channel is: DMs are private chats, everything else a group."""
    if isinstance(channel, discord.DMChannel) or getattr(channel, "type", None) == discord.ChannelType.private:
        return ChatRef(NAME, channel.id, ChatKind.PRIVATE, None)
    return ChatRef(NAME, channel.id, ChatKind.GROUP, getattr(channel, "name", None))


def user_ref(user: discord.abc.User) -> UserRef:
    return UserRef(NAME, user.id, user.name, user.name)


# --------------------------------------------------------------------------- sending
def _view(message: DiscordMessage) -> discord.ui.View | None:
    if not message.buttons:
        return None
    view = discord.ui.View(timeout=None)
    for row_index, row in enumerate(message.buttons):
        for label, token in row:
            view.add_item(discord.ui.Button(label=label, custom_id=BUTTON_PREFIX + token,
                                             style=discord.ButtonStyle.secondary, row=row_index))
    return view


def _files(message: DiscordMessage) -> list[discord.File]:
    return [discord.File(io.BytesIO(data), filename=name) for name, data in message.files]


def _kwargs(message: DiscordMessage) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"content": message.content or None, "allowed_mentions": NO_MENTIONS}
    files = _files(message)
    if files:
        kwargs["files"] = files
    view = _view(message)
    if view is not None:
        kwargs["view"] = view
    return kwargs


class ChannelSink:
    """Replies to a prefix command in its channel; progress is one message edited in place."""

    def __init__(self, surface: DiscordSurface, channel: discord.abc.Messageable, chat: ChatRef) -> None:
        self.surface = surface
        self.channel = channel
        self.chat = chat
        self._progress: discord.Message | None = None
        self._last_edit = 0.0

    async def send(self, reply: Reply) -> None:
        await self.surface.send_to(self.channel, self.chat, reply)

    async def progress(self, reply: Reply) -> None:
        now = time.monotonic()
        if self._progress is not None and now - self._last_edit < PROGRESS_EVERY_S:
            return
        self._last_edit = now
        content = render(reply, {})[0].content or "…"
        if self._progress is None:
            self._progress = await self.channel.send(content, allowed_mentions=NO_MENTIONS)
        else:
            await self._progress.edit(content=content, allowed_mentions=NO_MENTIONS)


class InteractionSink:
    """Replies to a slash command or a button: deferred when slow, errors and refusals ephemeral."""

    def __init__(self, surface: DiscordSurface, interaction: discord.Interaction, chat: ChatRef) -> None:
        self.surface = surface
        self.interaction = interaction
        self.chat = chat
        self._lock = asyncio.Lock()
        self._original_used = False  # the original response holds progress (or a "thinking" state)
        self._last_edit = 0.0
        self._timer = asyncio.get_running_loop().call_later(
            DEFER_AFTER_S, lambda: asyncio.ensure_future(self._defer()))

    async def _defer(self) -> None:
        async with self._lock:
            if not self.interaction.response.is_done():
                await self.interaction.response.defer(thinking=True)
                self._original_used = True

    def close(self) -> None:
        self._timer.cancel()

    async def progress(self, reply: Reply) -> None:
        now = time.monotonic()
        if self._original_used and now - self._last_edit < PROGRESS_EVERY_S:
            return
        self._last_edit = now
        content = render(reply, {})[0].content or "…"
        async with self._lock:
            if not self.interaction.response.is_done():
                await self.interaction.response.send_message(content, allowed_mentions=NO_MENTIONS)
            else:
                await self.interaction.edit_original_response(content=content, allowed_mentions=NO_MENTIONS)
            self._original_used = True

    async def send(self, reply: Reply) -> None:
        tokens = await self.surface.router.tokens_for(reply, self.chat)
        messages = render(reply, tokens, self.surface.upload_limit)
        async with self._lock:
            for message in messages:
                await self._send_one(message, reply.ephemeral)

    async def _send_one(self, message: DiscordMessage, ephemeral: bool) -> None:
        kwargs = _kwargs(message)
        response = self.interaction.response
        if not response.is_done():
            await response.send_message(ephemeral=ephemeral, **{k: v for k, v in kwargs.items() if v is not None})
            return
        if self._original_used and not ephemeral:
            self._original_used = False
            edit = {k: v for k, v in kwargs.items() if k != "files"}
            if "files" in kwargs:
                edit["attachments"] = kwargs["files"]
            await self.interaction.edit_original_response(**edit)
            return
        if self._original_used and ephemeral:
            self._original_used = False
            await self.interaction.delete_original_response()
        await self.interaction.followup.send(ephemeral=ephemeral, **{k: v for k, v in kwargs.items() if v is not None})


# --------------------------------------------------------------------------- the client and surface
class _Client(discord.Client):
    """discord.py client whose events go to the surface."""

    def __init__(self, surface: DiscordSurface, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.surface = surface

    async def setup_hook(self) -> None:
        await self.surface.sync_commands()

    async def on_ready(self) -> None:
        self.surface.mark_connected(True, "ready")

    async def on_resumed(self) -> None:
        self.surface.mark_connected(True, "resumed")

    async def on_disconnect(self) -> None:
        self.surface.mark_connected(False, "gateway disconnected; discord.py reconnects")

    async def on_message(self, message: discord.Message) -> None:
        await self.surface.on_message(message)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await self.surface.on_component(interaction)


class DiscordSurface:
    """Serves the registry on Discord and delivers alerts to Discord channels."""

    name = NAME

    def __init__(self, services: Services, router: Router) -> None:
        self.services = services
        self.router = router
        self.settings = services.settings.discord
        self.upload_limit = 10 * 1024 * 1024
        intents = discord.Intents.default()
        intents.message_content = True  # for the prefix fallback; enable it in the developer portal
        self.client = _Client(self, intents=intents, allowed_mentions=NO_MENTIONS, max_ratelimit_timeout=30.0)
        self.tree = app_commands.CommandTree(self.client)
        self.tree.on_error = self._tree_error  # type: ignore[method-assign]
        build_tree(self.tree, router.registry, self.run_slash, self.autocomplete)
        self._connected = False
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[Any]] = set()

    # lifecycle ----------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._connected

    def mark_connected(self, up: bool, why: str) -> None:
        if up != self._connected:
            (log.info if up else log.warning)("discord %s", why)
        self._connected = up

    def apply_endpoints(self) -> None:
        """Point discord.py at the configured REST root and gateway (self-hosted proxies, tests)."""
        if self.settings.api_url:
            discord.http.Route.BASE = self.settings.api_url.rstrip("/")
        if self.settings.gateway_url:
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.settings.gateway_url)

    @property
    def single_receiver(self) -> bool:
        """One gateway connection per bot (without sharding): only the leader connects."""
        return True

    async def start(self) -> None:
        self.apply_endpoints()

    async def start_receiving(self) -> None:
        """Log in and keep the gateway connection up (in the background, reconnecting)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._supervise(), name="discord")

    async def stop_receiving(self) -> None:
        """Close the gateway connection, leaving the client ready to connect again."""
        await self.stop()
        self.client.clear()

    async def _supervise(self) -> None:
        token = self.settings.token.get_secret_value() if self.settings.token else ""
        delay = 5.0
        while True:
            try:
                await self.client.start(token, reconnect=True)
                return
            except discord.LoginFailure:
                log.error("discord: the token was rejected (401); fix SOCMINT_DISCORD__TOKEN. Discord is off.")
                self.services.record_error(NAME, "token rejected")
                return
            except discord.PrivilegedIntentsRequired:
                log.error("discord: enable the Message Content intent for this bot in the developer portal")
                self.services.record_error(NAME, "message content intent not enabled")
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.mark_connected(False, f"connection failed ({type(exc).__name__}); retrying in {delay:.0f}s")
                self.services.record_error(NAME, f"connection failed: {type(exc).__name__}")
            await self.client.close()
            self.client.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 300)

    async def stop(self) -> None:
        await self.client.close()
        if self._task:
            self._task.cancel()
            self._task = None
        self.mark_connected(False, "closed")

    async def sync_commands(self) -> None:
        """Publish slash commands: to the configured guilds (instant) or globally."""
        try:
            if self.settings.guilds:
                for guild_id in self.settings.guilds:
                    guild = discord.Object(id=guild_id)
                    self.tree.copy_global_to(guild=guild)
                    await self.tree.sync(guild=guild)
            else:
                await self.tree.sync()
        except discord.HTTPException as exc:
            log.error("discord: could not sync slash commands: %s", exc)
            self.services.record_error(NAME, f"slash sync failed: HTTP {exc.status}")

    # incoming -----------------------------------------------------------------
    async def on_message(self, message: discord.Message) -> None:
        prefix = self.settings.prefix
        if message.author.bot or not prefix or not message.content.startswith(prefix):
            return
        line = "/" + message.content[len(prefix):].lstrip()
        chat = chat_ref(message.channel)
        files = [self._incoming_file(a) for a in message.attachments]
        await self.router.handle(Incoming(chat, user_ref(message.author), line, files),
                                 ChannelSink(self, message.channel, chat))

    @staticmethod
    def _incoming_file(attachment: discord.Attachment):  # type: ignore[no-untyped-def]
        from bot.command import IncomingFile

        return IncomingFile(attachment.filename, attachment.size, attachment.read,
                            attachment.content_type or "application/octet-stream")

    async def run_slash(self, command: Command, interaction: discord.Interaction, values: dict[str, Any]) -> None:
        chat = chat_ref(interaction.channel) if interaction.channel else ChatRef(NAME, interaction.channel_id or 0)
        sink = InteractionSink(self, interaction, chat)
        try:
            await self.router.handle(Incoming(chat, user_ref(interaction.user), command_line(command, values)), sink)
        finally:
            sink.close()

    async def on_component(self, interaction: discord.Interaction) -> None:
        custom_id = (interaction.data or {}).get("custom_id", "") if interaction.data else ""
        if interaction.type != discord.InteractionType.component or not custom_id.startswith(BUTTON_PREFIX):
            return
        chat = chat_ref(interaction.channel) if interaction.channel else ChatRef(NAME, interaction.channel_id or 0)
        sink = InteractionSink(self, interaction, chat)
        try:
            await self.router.press(chat, user_ref(interaction.user), custom_id[len(BUTTON_PREFIX):], sink)
        finally:
            sink.close()

    async def autocomplete(self, interaction: discord.Interaction, current: str,
                           field: Arg | Option) -> list[app_commands.Choice[Any]]:
        chat = chat_ref(interaction.channel) if interaction.channel else ChatRef(NAME, interaction.channel_id or 0)
        access = await self.router.access(chat, user_ref(interaction.user))
        if not access.chat_allowed or field.complete is None:
            return []  # fail closed: nothing about this bot's data leaks into an unallowed chat
        try:
            values = await field.complete(self.services, chat, str(current))  # integer input arrives raw
        except Exception:
            log.exception("autocomplete for %s failed", field.name)
            return []
        return typed_choices(field.kind, values)[:25]

    async def _tree_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        log.error("discord: slash command failed: %s", error)
        self.services.record_error(NAME, f"slash command failed: {type(error).__name__}")
        if not interaction.response.is_done():
            await interaction.response.send_message("⚠️ That command failed; it has been logged.", ephemeral=True)

    # outgoing -----------------------------------------------------------------
    async def send_to(self, channel: discord.abc.Messageable, chat: ChatRef, reply: Reply) -> None:
        tokens = await self.router.tokens_for(reply, chat)
        for message in render(reply, tokens, self.upload_limit):
            await channel.send(**{k: v for k, v in _kwargs(message).items() if v is not None})

    async def deliver(self, chat_id: int, reply: Reply) -> None:
        if not self._connected:
            raise DeliveryError("Discord is not connected", retry_after=10)
        try:
            channel = self.client.get_channel(chat_id) or await self.client.fetch_channel(chat_id)
            await self.send_to(channel, chat_ref(channel), reply)  # type: ignore[arg-type]
        except (discord.Forbidden, discord.NotFound) as exc:
            raise DeliveryError(f"Discord refused channel {chat_id}: {exc.status}", permanent=True) from None
        except discord.RateLimited as exc:
            raise DeliveryError("Discord rate limit", retry_after=exc.retry_after) from None
        except discord.HTTPException as exc:
            raise DeliveryError(f"Discord HTTP {exc.status}", retry_after=5) from None
        except (TimeoutError, discord.ConnectionClosed, OSError) as exc:
            raise DeliveryError(f"Discord connection problem: {type(exc).__name__}", retry_after=10) from None
