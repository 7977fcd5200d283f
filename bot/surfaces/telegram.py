"""The Telegram surface: python-telegram-bot v22 against a configurable Bot API root.

Commands (and `/import` captions on documents) go to the router; button presses are answered
at once and run as the presser. Every update passes through the inbox (`telegram_inbox.py`), so
each is handled once across crashes and restarts. Polling runs in PTB's retry loop; every
getUpdates exchange is watched so 409 Conflict, rate limits, timeouts and network errors each get
one clear log line and `connected` tells the truth. The token is part of every Bot API URL, so
nothing here logs URLs or raw request errors; the logging setup masks anything token-shaped besides.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import warnings
from typing import Any
from urllib.parse import urlsplit

from telegram import (
    BotCommand,
    Chat,
    Document,
    InputFile,
    LinkPreviewOptions,
    Message,
    Update,
    User,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.command import ChatKind, ChatRef, CommandError, IncomingFile, UserRef
from bot.render.telegram import Kind, Outgoing, render, render_progress
from bot.reply import Reply
from bot.router import Incoming, Registry, Router
from bot.services import DeliveryError, Services
from bot.surfaces.telegram_inbox import InboxProcessor, InboxQueue, TelegramInbox, current_receipt
from config.settings import TelegramSettings

log = logging.getLogger(__name__)

PLATFORM = "telegram"
PROGRESS_INTERVAL_S = 1.0  # Telegram tolerates about one edit per second per chat
RETRY_AFTER_RETRIES = 2  # sends wait out a 429 this many times before giving up
DOWNLOAD_MAX_BYTES = 20 * 1024 * 1024  # Bot API getFile limit
BOOTSTRAP_RETRIES = 3
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# The `from` of messages whose real sender Telegram hides: anonymous group admins (GroupAnonymousBot)
# and channels posting in groups (Channel_Bot). Every such message in every group carries the same id.
ANONYMOUS_SENDERS = frozenset({1087968824, 136817688})


def retry_after_seconds(exc: RetryAfter) -> float:
    """The wait Telegram asked for, in seconds (without PTB's int/timedelta deprecation warning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value if isinstance(value, int | float) else value.total_seconds()


def chat_ref(chat: Chat) -> ChatRef:
    """Our reference to a Telegram chat."""
    kind = {Chat.PRIVATE: ChatKind.PRIVATE, Chat.CHANNEL: ChatKind.CHANNEL}.get(chat.type, ChatKind.GROUP)
    return ChatRef(PLATFORM, chat.id, kind, (chat.title or None) and chat.title[:256])


def user_ref(user: User) -> UserRef:
    """Our reference to a Telegram user (the name is for display only; the @username is kept apart)."""
    return UserRef(PLATFORM, user.id, user.full_name[:256], user.username)


def sender_ref(message: Message, user: User) -> UserRef:
    """Who sent a message: anonymous group admins and channels posting in a group are marked anonymous."""
    ref = user_ref(user)
    if message.sender_chat is not None or user.id in ANONYMOUS_SENDERS:
        return UserRef(PLATFORM, user.id, ref.name, None, anonymous=True)
    return ref


def bot_commands(registry: Registry) -> list[BotCommand]:
    """The command menu: one entry per top-level group, with its summary."""
    out: list[BotCommand] = []
    for group, commands in registry.groups().items():
        visible = [c for c in commands if not c.hidden]
        if not visible or not _COMMAND_NAME.fullmatch(group):
            continue
        top = next((c for c in visible if c.name == group), None)
        summary = top.summary if top else f"{group}: " + ", ".join(c.name.partition(" ")[2] for c in visible)
        out.append(BotCommand(group, summary[:256]))
    return out[:100]


# --------------------------------------------------------------------------- polling health
class PollMonitor:
    """Watches each getUpdates exchange: health for `connected`, one clear log line per failure."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.ok = False
        self.failures = 0

    def succeeded(self) -> None:
        if self.failures:
            log.info("Telegram polling recovered after %d failed attempt(s)", self.failures)
        self.ok, self.failures = True, 0

    def failed(self, message: str, level: int = logging.WARNING) -> None:
        self.ok = False
        self.failures += 1
        log.log(level, "%s (attempt %d; retrying with backoff, up to 30 s apart)", message, self.failures)
        self.services.record_error(PLATFORM, message)

    def answered(self, code: int, payload: bytes) -> None:
        """An HTTP answer to getUpdates arrived."""
        if code == 200:
            self.succeeded()
            return
        try:
            body = json.loads(payload)
        except ValueError:
            body = {}
        description = str(body.get("description", ""))[:200] if isinstance(body, dict) else ""
        if code == 409:
            self.failed("Telegram 409 Conflict: another bot instance is polling (or a webhook is set) for this "
                        "token; only one instance may run", logging.ERROR)
        elif code == 429:
            wait = (body.get("parameters") or {}).get("retry_after") if isinstance(body, dict) else None
            self.failed(f"Telegram rate limit on getUpdates: retry after {wait} s")
        elif code in (401, 404):
            self.failed("Telegram rejected the bot token (401/404); polling stops. Check SOCMINT_TELEGRAM__TOKEN",
                        logging.ERROR)
        else:
            self.failed(f"Telegram getUpdates answered HTTP {code}: {description}")

    def raised(self, exc: BaseException) -> None:
        """The getUpdates request failed before an answer (network, timeout)."""
        if isinstance(exc, asyncio.CancelledError):
            return
        kind = "timed out" if isinstance(exc, TimedOut) else "network error"
        self.failed(f"Telegram getUpdates {kind}: {type(exc).__name__}: {exc}")


class MonitoredRequest(HTTPXRequest):
    """The getUpdates connection, reporting every exchange to a PollMonitor."""

    def __init__(self, monitor: PollMonitor, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.monitor = monitor

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        try:
            code, payload = await super().do_request(*args, **kwargs)
        except BaseException as exc:
            self.monitor.raised(exc)
            raise
        self.monitor.answered(code, payload)
        return code, payload


# --------------------------------------------------------------------------- replies
class TelegramSink:
    """Where one command's output goes: replies sent in order, progress edited in place."""

    def __init__(self, surface: TelegramSurface, chat: ChatRef) -> None:
        self.surface = surface
        self.chat = chat
        self._progress_id: int | None = None
        self._shown = ""
        self._pending: str | None = None
        self._last_edit = 0.0
        self._edit_task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def send(self, reply: Reply) -> None:
        if self._edit_task and not self._edit_task.done():
            self._edit_task.cancel()  # the reply supersedes any queued progress edit
        try:
            await self.surface.send_reply(self.chat, reply)
        except TelegramError as exc:
            self.surface.send_failed(self.chat, exc)

    async def progress(self, reply: Reply) -> None:
        html = render_progress(reply)
        async with self._lock:
            if self._progress_id is None:
                try:
                    message = await self.surface.bot.send_message(
                        self.chat.id, html, parse_mode=ParseMode.HTML, link_preview_options=_NO_PREVIEW)
                except TelegramError as exc:
                    self.surface.send_failed(self.chat, exc)
                    return
                self._progress_id, self._shown, self._last_edit = message.message_id, html, time.monotonic()
                return
            self._pending = html
            if self._edit_task is None or self._edit_task.done():
                self._edit_task = asyncio.create_task(self._edit_soon(), name="telegram:progress")

    async def _edit_soon(self) -> None:
        """Show the latest pending progress, at most one edit per PROGRESS_INTERVAL_S."""
        while self._pending is not None and self._progress_id is not None:
            delay = self._last_edit + PROGRESS_INTERVAL_S - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            html, self._pending = self._pending, None
            if html == self._shown:
                continue
            self._last_edit = time.monotonic()
            try:
                await self.surface.bot.edit_message_text(
                    html, chat_id=self.chat.id, message_id=self._progress_id, parse_mode=ParseMode.HTML,
                    link_preview_options=_NO_PREVIEW)
                self._shown = html
            except BadRequest as exc:
                if "not modified" not in str(exc).lower():
                    log.warning("Telegram progress edit failed in chat %s: %s", self.chat.id, exc)
            except TelegramError as exc:
                log.warning("Telegram progress edit failed in chat %s: %s", self.chat.id, exc)


# --------------------------------------------------------------------------- the surface
def build_application(settings: TelegramSettings, monitor: PollMonitor, inbox: TelegramInbox) -> Application:
    """The PTB application for our token and API root, with the rate limiter and concurrent updates via the inbox."""
    if settings.token is None:
        raise ValueError("telegram.token is not set")
    root = settings.api_url
    return (
        ApplicationBuilder()
        .token(settings.token.get_secret_value())
        .base_url(root + "/bot")
        .base_file_url(root + "/file/bot")
        .rate_limiter(AIORateLimiter(max_retries=RETRY_AFTER_RETRIES))
        .update_queue(InboxQueue(inbox))
        .concurrent_updates(InboxProcessor(inbox))
        .get_updates_request(MonitoredRequest(monitor, connection_pool_size=2))
        .job_queue(None)
        .build()
    )


class TelegramSurface:
    """Serves the router on Telegram (long polling, or a webhook when one is configured)."""

    name = PLATFORM

    def __init__(self, services: Services, router: Router) -> None:
        self.services = services
        self.router = router
        self.settings = services.settings.telegram
        self.monitor = PollMonitor(services)
        self.inbox = TelegramInbox(services)
        self.app = build_application(self.settings, self.monitor, self.inbox)
        self.bot = self.app.bot
        self._running = False
        self._polling = False
        command_filter = filters.COMMAND | (filters.CaptionRegex(r"^/") & filters.Document.ALL)
        self.app.add_handler(MessageHandler(filters.UpdateType.MESSAGE & command_filter, self._on_command))
        self.app.add_handler(CallbackQueryHandler(self._on_button))
        self.app.add_error_handler(self._on_error)

    @property
    def connected(self) -> bool:
        if not self._running:
            return False
        return True if self.settings.webhook_url or not self._polling else self.monitor.ok

    @property
    def single_receiver(self) -> bool:
        """Long polling allows one receiver per token (Telegram answers a second one 409); webhooks any number."""
        return not self.settings.webhook_url

    # lifecycle ----------------------------------------------------------------
    async def start(self) -> None:
        """Connect for sending; with a webhook, receive too (long polling starts in `start_receiving`)."""
        try:
            await self.app.initialize()
        except InvalidToken:
            raise RuntimeError("Telegram rejected the bot token; check SOCMINT_TELEGRAM__TOKEN") from None
        except NetworkError as exc:
            raise RuntimeError(f"cannot reach the Telegram Bot API at {self.settings.api_url}: {exc}") from None
        self.inbox.bot_id = self.bot.id
        await self._publish_commands()
        await self.app.start()
        updater = self.app.updater
        assert updater is not None  # built with the default updater
        if self.settings.webhook_url:
            await self._recover()
            await updater.start_webhook(
                listen=self.settings.webhook_listen,
                port=self.settings.webhook_port,
                url_path=urlsplit(self.settings.webhook_url).path.lstrip("/"),
                webhook_url=self.settings.webhook_url,
                # PTB answers 403 to every update whose X-Telegram-Bot-Api-Secret-Token differs; the settings
                # refuse webhook mode without a secret (config error, exit 2).
                secret_token=self.settings.webhook_secret.get_secret_value() if self.settings.webhook_secret else None,
                allowed_updates=["message", "callback_query"],
                bootstrap_retries=BOOTSTRAP_RETRIES,
            )
            log.info("Telegram surface up as @%s (webhook)", self.bot.username)
        else:
            log.info("Telegram surface up as @%s (sending; long polling in the leader)", self.bot.username)
        self._running = True

    async def start_receiving(self) -> None:
        """Start long polling (nothing to do with a webhook, which receives from `start`)."""
        updater = self.app.updater
        if self.settings.webhook_url or updater is None or updater.running:
            return
        await self._recover()  # by the receiver only: a follower running them too would run them twice
        await updater.start_polling(
            timeout=self.settings.poll_timeout_s,
            allowed_updates=["message", "callback_query"],
            bootstrap_retries=BOOTSTRAP_RETRIES,
            error_callback=self._on_poll_error,
        )
        self._polling = True
        self.monitor.succeeded()  # getMe and deleteWebhook just worked; polls report from here on
        log.info("Telegram long polling as @%s", self.bot.username)

    async def _recover(self) -> None:
        """Run again the updates a previous run received but did not handle."""
        for update in await self.inbox.recover(self.bot):
            self.app.update_queue.put_nowait(update)  # already in the inbox: straight to processing

    async def stop_receiving(self) -> None:
        """Stop long polling; sending keeps working."""
        updater = self.app.updater
        self._polling = False
        if not self.settings.webhook_url and updater is not None and updater.running:
            await updater.stop()

    async def stop(self) -> None:
        self._running = False
        self._polling = False
        updater = self.app.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()

    async def _publish_commands(self) -> None:
        commands = bot_commands(self.router.registry)
        try:
            await self.bot.set_my_commands(commands)
        except TelegramError as exc:
            log.warning("Telegram setMyCommands failed (the menu may be stale): %s", exc)

    @staticmethod
    def _on_poll_error(exc: TelegramError) -> None:
        """PTB's default logs a traceback per failed poll; the PollMonitor has logged one clear line."""

    # incoming -----------------------------------------------------------------
    async def _on_command(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user, chat = update.message, update.effective_user, update.effective_chat
        if message is None or user is None or chat is None:
            return
        files = [self._incoming_file(message.document)] if message.document else []
        text = message.text or message.caption or ""
        incoming = Incoming(chat_ref(chat), sender_ref(message, user), text, files, self.bot.username,
                            current_receipt())
        await self.router.handle(incoming, TelegramSink(self, incoming.chat))

    def _incoming_file(self, document: Document) -> IncomingFile:
        size = document.file_size or 0

        async def fetch() -> bytes:
            if size > DOWNLOAD_MAX_BYTES:
                raise CommandError("That file is over Telegram's 20 MB download limit for bots.")
            file = await self.bot.get_file(document.file_id)
            return bytes(await file.download_as_bytearray())

        return IncomingFile(document.file_name or "upload", size, fetch,
                            document.mime_type or "application/octet-stream")

    async def _on_button(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        try:
            await query.answer()
        except TelegramError as exc:
            log.warning("Telegram answerCallbackQuery failed: %s", exc)
        message = query.message
        if message is None:  # a button on an inline-mode message: not ours
            return
        chat = chat_ref(message.chat)
        await self.router.press(chat, user_ref(query.from_user), query.data or "", TelegramSink(self, chat),
                                current_receipt())

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        exc = context.error
        where = f"update {update.update_id}" if isinstance(update, Update) else "background"
        log.error("Telegram %s failed: %s: %s", where, type(exc).__name__, exc, exc_info=exc)
        self.services.record_error(PLATFORM, f"{type(exc).__name__}: {exc}")

    # outgoing -----------------------------------------------------------------
    async def send_reply(self, chat: ChatRef, reply: Reply) -> list[Message]:
        """Render and send a reply; Telegram errors propagate to the caller."""
        tokens = await self.router.tokens_for(reply, chat) if reply.button_rows else {}
        return [await self._send(chat.id, out) for out in render(reply, tokens)]

    async def _send(self, chat_id: int, out: Outgoing) -> Message:
        common: dict[str, Any] = {"reply_markup": out.keyboard, "disable_notification": out.silent}
        if out.kind is Kind.TEXT:
            return await self.bot.send_message(chat_id, out.html, parse_mode=ParseMode.HTML,
                                               link_preview_options=_NO_PREVIEW, **common)
        caption = {"caption": out.html or None, "parse_mode": ParseMode.HTML}
        if out.kind is Kind.PHOTO:
            try:
                return await self.bot.send_photo(chat_id, InputFile(out.data, filename=out.filename),
                                                 **caption, **common)
            except BadRequest as exc:  # e.g. dimensions Telegram will not show as a photo
                log.info("Telegram refused %s as a photo (%s); sending it as a file", out.filename, exc)
        return await self.bot.send_document(chat_id, InputFile(out.data, filename=out.filename),
                                            **caption, **common)

    def send_failed(self, chat: ChatRef, exc: TelegramError) -> None:
        """A reply could not be sent to a chat that just wrote to us: log it clearly, keep serving."""
        level = logging.ERROR if isinstance(exc, BadRequest) else logging.WARNING
        log.log(level, "Telegram could not send to chat %s: %s: %s", chat.id, type(exc).__name__, exc)
        self.services.record_error(PLATFORM, f"send to {chat.id}: {type(exc).__name__}: {exc}")

    async def deliver(self, chat_id: int, reply: Reply) -> None:
        chat = ChatRef(PLATFORM, chat_id, ChatKind.GROUP if chat_id < 0 else ChatKind.PRIVATE)
        try:
            await self.send_reply(chat, reply)
        except RetryAfter as exc:
            raise DeliveryError(f"Telegram rate limit: {exc}", retry_after=retry_after_seconds(exc)) from None
        except Forbidden as exc:
            raise DeliveryError(f"Telegram refused chat {chat_id}: {exc}", permanent=True) from None
        except ChatMigrated as exc:
            raise DeliveryError(f"Telegram chat {chat_id} is now {exc.new_chat_id}", permanent=True) from None
        except BadRequest as exc:  # chat not found, or a message Telegram will never accept as sent
            raise DeliveryError(f"Telegram rejected the message: {exc}", permanent=True) from None
        except TelegramError as exc:  # network errors, timeouts, server trouble: worth a retry
            raise DeliveryError(f"Telegram unreachable: {type(exc).__name__}: {exc}") from None
