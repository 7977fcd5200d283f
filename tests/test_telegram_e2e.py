"""End to end: the real python-telegram-bot Application, over HTTP, against the fake Bot API server."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.command import CommandSet, Context
from bot.logsetup import SecretMask, TextFormatter
from bot.render.telegram import render
from bot.reply import Button, Reply, link
from bot.surfaces.telegram import TelegramSurface
from handlers.catalog import command_sets
from tests.fakes.telegram_api import FakeBotAPI, parse_html
from tests.fakes.telegram_bot import Telegram, telegram_bot
from tests.harness import BotHarness

OWNER = 1  # configured in SOCMINT_ADMINS; their DM needs no /allow
STRANGER = 777
GROUP = -100200
HOSTILE = '<b>bold?</b> & <a href="javascript:alert(1)">click</a> &amp; <script>x</script>'

extra = CommandSet()


@extra.command("long", "A reply longer than one Telegram message", example="/long", needs_allowed_chat=False)
async def long_reply(ctx: Context) -> Reply:
    reply = Reply.text("start ", "word " * 900)
    reply.para("middle ", "😀 " * 1500)
    reply.code_block("\n".join(f"line {i:04d} <tag> & more" for i in range(300)))
    return reply.para("the end")


@extra.command("hostile", "Relays hostile text", example="/hostile", needs_allowed_chat=False)
async def hostile(ctx: Context) -> Reply:
    reply = Reply.text(HOSTILE)
    reply.para(link(HOSTILE, "javascript:alert(2)"))
    reply.kv([(HOSTILE, HOSTILE)])
    return reply


@extra.command("menu", "Offers a button", example="/menu", needs_allowed_chat=False)
async def menu(ctx: Context) -> Reply:
    return Reply.text("Pick one").buttons([Button("Who am I?", "/whoami")])


@extra.command("slow", "Reports progress, then answers", example="/slow", needs_allowed_chat=False)
async def slow(ctx: Context) -> Reply:
    for step in range(1, 4):
        await ctx.progress(f"step {step} of 3")
    await asyncio.sleep(1.5)  # long enough for the throttled edit (one per second) to go out
    return Reply.text("done")


@extra.command("peek", "Reads the attached file", example="/peek", needs_allowed_chat=False)
async def peek(ctx: Context) -> Reply:
    data = await ctx.files[0].fetch()
    return Reply.text(f"{ctx.files[0].filename}: {len(data)} bytes, first line {data.splitlines()[0].decode()}")


@extra.command("files", "Sends a picture and a wide table", example="/files", needs_allowed_chat=False)
async def files(ctx: Context) -> Reply:
    reply = Reply.text("files:").attach("chart.png", b"\x89PNG fake", "image/png", "a <chart> & caption")
    return reply.table(["name", "description"], [("x", "y" * 90)], title="wide")


@pytest.fixture
async def tg(tmp_path: Path) -> AsyncIterator[Telegram]:
    async with telegram_bot(tmp_path, [*command_sets(), extra], OWNER) as running:
        yield running


async def ask(tg: Telegram, text: str, *, chat_id: int = OWNER, user_id: int = OWNER, count: int = 1,
              **kwargs: object) -> list[str]:
    """Send a command and return the visible texts of the first `count` new messages to that chat."""
    before = len(tg.fake.sent(chat_id))
    tg.fake.send_command(text, chat_id=chat_id, user_id=user_id, **kwargs)
    calls = [c for c in await tg.fake.wait_for("sendMessage", before + count, chat_id=chat_id)]
    return [tg.fake.visible(c) for c in calls[before:before + count]]


async def test_startup_publishes_the_command_menu_and_polls(tg: Telegram) -> None:
    methods = [c.method for c in tg.fake.calls]
    assert methods[:1] == ["getMe"]
    assert "deleteWebhook" in methods  # polling bootstrap (getUpdates is recorded when a poll ends)
    names = {c["command"] for c in tg.fake.commands}
    assert {"help", "whoami", "allow", "status"} <= names
    assert tg.surface.connected


async def test_help_and_whoami_are_answered(tg: Telegram) -> None:
    [help_text] = await ask(tg, "/help")
    assert "Commands" in help_text and "/whoami" in help_text
    [who] = await ask(tg, "/whoami@socmint_test_bot")
    assert f"telegram:{OWNER}" in who and "owner" in who


async def test_command_for_another_bot_is_ignored_in_groups(tg: Telegram) -> None:
    tg.fake.send_command("/whoami@other_bot", chat_id=GROUP, user_id=OWNER, chat_type="supergroup")
    [who] = await ask(tg, "/whoami", chat_id=GROUP, chat_type="supergroup")
    assert len(tg.fake.sent(GROUP)) == 1 and f"telegram:{GROUP}" in who


async def test_long_reply_is_split_under_the_limit(tg: Telegram) -> None:
    expected = len(render(await long_reply(None)))  # type: ignore[arg-type]  # (ctx unused)
    tg.fake.send_command("/long", chat_id=OWNER, user_id=OWNER)
    await tg.fake.wait_for("sendMessage", expected, chat_id=OWNER)
    texts = tg.fake.texts(OWNER)
    assert len(texts) == expected >= 3
    assert all(len(t.encode("utf-16-le")) // 2 <= 4096 for t in texts)
    joined = "\n".join(texts)
    assert joined.startswith("start") and joined.rstrip().endswith("the end")
    assert joined.count("😀") == 1500 and "line 0299 <tag> & more" in joined
    pre_chunks = [c.params["text"] for c in tg.fake.sent(OWNER) if "<pre>" in c.params["text"]]
    assert len(pre_chunks) >= 2  # the code block was split and <pre> reopened


async def test_hostile_text_arrives_inert(tg: Telegram) -> None:
    [text] = await ask(tg, "/hostile")
    call = tg.fake.sent(OWNER)[-1]
    _visible, tags = parse_html(call.params["text"])
    assert not any(t["tag"] == "a" for t in tags)  # the javascript: link is not a link
    assert all(t["tag"] == "b" for t in tags)  # only our own bold key, no relayed <b>/<script>
    assert text.count(HOSTILE) == 4  # shown exactly as written: paragraph, link text, key and value


async def test_stranger_is_refused_until_an_admin_allows_the_chat(tg: Telegram) -> None:
    group = {"chat_id": GROUP, "chat_type": "supergroup"}
    [refusal] = await ask(tg, "/status", user_id=STRANGER, **group)
    assert "not allowed" in refusal and "Status" not in refusal
    [allowed] = await ask(tg, "/allow", user_id=OWNER, **group)
    assert f"telegram:{GROUP}" in allowed and "allowed" in allowed
    [status] = await ask(tg, "/status", user_id=STRANGER, **group)
    assert "Status" in status and "telegram (up)" in status


async def test_button_press_runs_its_command(tg: Telegram) -> None:
    await ask(tg, "/menu")
    sent = tg.fake.sent(OWNER)[-1]
    [[button]] = sent.params["reply_markup"]["inline_keyboard"]
    assert button["text"] == "Who am I?" and len(button["callback_data"].encode()) <= 64
    tg.fake.press(button["callback_data"], chat_id=OWNER, user_id=OWNER, message_id=sent.result["message_id"])
    await tg.fake.wait_for("answerCallbackQuery")
    [*_, who] = await tg.fake.wait_for("sendMessage", 2, chat_id=OWNER)
    assert "Who am I" in tg.fake.visible(who) and f"telegram:{OWNER}" in tg.fake.visible(who)


async def test_button_from_another_chat_is_refused(tg: Telegram) -> None:
    await ask(tg, "/menu")
    sent = tg.fake.sent(OWNER)[-1]
    token = sent.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    tg.fake.press(token, chat_id=GROUP, user_id=OWNER, message_id=1, chat_type="supergroup")
    [answer] = await tg.fake.wait_for("sendMessage", chat_id=GROUP)
    assert "expired" in tg.fake.visible(answer)
    assert tg.fake.calls_to("answerCallbackQuery")


async def test_progress_is_edited_in_place(tg: Telegram) -> None:
    tg.fake.send_command("/slow", chat_id=OWNER, user_id=OWNER)
    [*_, done] = await tg.fake.wait_for("sendMessage", 2, chat_id=OWNER)
    first = tg.fake.sent(OWNER)[0]
    assert tg.fake.visible(first) == "step 1 of 3" and tg.fake.visible(done) == "done"
    edits = tg.fake.calls_to("editMessageText")
    assert [tg.fake.visible(e) for e in edits] == ["step 3 of 3"]  # coalesced and throttled
    assert edits[0].params["message_id"] == first.result["message_id"]


async def test_caption_command_with_a_document_gets_the_file(tg: Telegram) -> None:
    tg.fake.upload("/peek", "posts.csv", b"id,text\n1,hello\n", chat_id=OWNER, user_id=OWNER)
    [answer] = await tg.fake.wait_for("sendMessage", chat_id=OWNER)
    assert tg.fake.visible(answer) == "posts.csv: 16 bytes, first line id,text"
    assert tg.fake.calls_to("getFile") and tg.fake.calls_to("download")


async def test_photo_and_wide_table_are_sent_as_files(tg: Telegram) -> None:
    tg.fake.send_command("/files", chat_id=OWNER, user_id=OWNER)
    [photo] = await tg.fake.wait_for("sendPhoto", chat_id=OWNER)
    [document] = await tg.fake.wait_for("sendDocument", chat_id=OWNER)
    assert photo.files["photo"] == ("chart.png", b"\x89PNG fake")
    assert tg.fake.visible(photo) == "a <chart> & caption"
    name, data = document.files["document"]
    assert name == "wide.csv" and data.startswith("\ufeffname,description\r\nx,yyy".encode())


async def test_rate_limit_is_waited_out_and_the_reply_delivered(tg: Telegram) -> None:
    tg.fake.fail_rate_limit("sendMessage", retry_after=1)
    [who] = await ask(tg, "/whoami")
    assert "Who am I" in who
    statuses = [c.status for c in tg.fake.calls if c.method == "sendMessage"]
    assert statuses == [429, 200]


async def test_deliver_maps_telegram_errors(tg: Telegram) -> None:
    from bot.services import DeliveryError

    await tg.surface.deliver(OWNER, Reply.text("alert: ", HOSTILE))
    assert tg.fake.texts(OWNER) == [f"alert: {HOSTILE}"]
    tg.fake.fail("sendMessage", 403, "Forbidden: bot was blocked by the user")
    with pytest.raises(DeliveryError) as blocked:
        await tg.surface.deliver(OWNER, Reply.text("x"))
    assert blocked.value.permanent
    tg.fake.fail("sendMessage", 400, "Bad Request: chat not found")
    with pytest.raises(DeliveryError) as missing:
        await tg.surface.deliver(-42, Reply.text("x"))
    assert missing.value.permanent


async def test_deliver_reports_a_rate_limit_it_could_not_wait_out(tg: Telegram,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from telegram.error import RetryAfter

    from bot.services import DeliveryError

    async def flooded(chat: object, reply: Reply) -> None:  # what is left after the limiter's own retries
        raise RetryAfter(7)

    monkeypatch.setattr(tg.surface, "send_reply", flooded)
    with pytest.raises(DeliveryError) as limited:
        await tg.surface.deliver(OWNER, Reply.text("x"))
    assert limited.value.retry_after == 7 and not limited.value.permanent


async def test_conflict_is_logged_clearly_and_polling_continues(tg: Telegram,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.surfaces.telegram")
    tg.fake.fail_conflict()
    await ask(tg, "/whoami")  # ends the pending long poll; the next one gets the 409
    await tg.fake.wait_for("getUpdates", status=409)
    [who] = await ask(tg, "/whoami")  # answered after PTB's backoff
    assert "Who am I" in who
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("409 Conflict" in m and "another bot instance" in m for m in errors)
    assert tg.surface.connected


class RawLines(logging.Handler):
    """Keeps each record's message as emitted, before any masking filter rewrites the record."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.name, record.getMessage()))


async def test_the_token_never_reaches_the_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    out = io.StringIO()
    raw, handler = RawLines(), logging.StreamHandler(out)
    root = logging.getLogger()
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")  # httpx logs every request URL, token included
    async with FakeBotAPI() as fake:
        handler.addFilter(SecretMask([fake.token]))
        handler.setFormatter(TextFormatter())
        root.addHandler(raw)
        root.addHandler(handler)
        try:
            harness = BotHarness(tmp_path, admins=[f"telegram:{OWNER}"],
                                 telegram={"token": fake.token, "api_url": fake.url, "poll_timeout_s": 5})
            await harness.start()
            surface = TelegramSurface(harness.services, harness.app.router)
            await surface.start()
            await surface.start_receiving()
            fake.fail_conflict()
            fake.fail("sendMessage", 400, "Bad Request: chat not found")
            fake.send_command("/whoami", chat_id=OWNER, user_id=OWNER)
            await fake.wait_for("getUpdates", status=409)
            fake.send_command("/whoami", chat_id=OWNER, user_id=OWNER)
            await fake.wait_for("sendMessage", chat_id=OWNER)
            await surface.stop()
            await harness.stop()
        finally:
            root.removeHandler(handler)
            root.removeHandler(raw)
    logged = out.getvalue()
    assert "409 Conflict" in logged and "chat not found" in logged.lower()  # the failures were logged...
    assert fake.token not in logged  # ...and nothing carried the token
    secret_part = fake.token.split(":", 1)[1]
    assert secret_part not in logged
    assert any(fake.token in line for _name, line in raw.lines)  # the library lines did carry it
    ours = [line for name, line in raw.lines if name.startswith("bot.")]
    assert ours and not any(secret_part in line for line in ours)  # our own lines never had it


async def test_webhook_mode_receives_updates_over_http(tmp_path: Path) -> None:
    import socket

    import httpx

    from tests.fakes.telegram_api import message_update

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hook = f"http://127.0.0.1:{port}/tg-hook"
    async with FakeBotAPI() as fake:
        harness = BotHarness(tmp_path, admins=[f"telegram:{OWNER}"],
                             telegram={"token": fake.token, "api_url": fake.url, "webhook_url": hook,
                                       "webhook_port": port, "webhook_secret": "hook-secret-123"})
        await harness.start()
        surface = TelegramSurface(harness.services, harness.app.router)
        await surface.start()
        try:
            assert fake.webhook_url == hook and surface.connected
            [set_hook] = fake.calls_to("setWebhook")
            assert set_hook.params["secret_token"] == "hook-secret-123"
            update = {"update_id": 1, **message_update("/whoami", chat_id=OWNER, user_id=OWNER)}
            async with httpx.AsyncClient() as client:
                forged = await client.post(hook, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "no"})
                assert forged.status_code == 403
                real = await client.post(hook, json=update,
                                         headers={"X-Telegram-Bot-Api-Secret-Token": "hook-secret-123"})
                assert real.status_code == 200
            [answer] = await fake.wait_for("sendMessage", chat_id=OWNER)
            assert "Who am I" in fake.visible(answer)
        finally:
            await surface.stop()
            await harness.stop()


async def test_a_rejected_token_fails_start_clearly(tmp_path: Path) -> None:
    async with FakeBotAPI() as fake:
        harness = BotHarness(tmp_path, telegram={"token": "999:WrongTokenWrongTokenWrongToken", "api_url": fake.url})
        await harness.start()
        surface = TelegramSurface(harness.services, harness.app.router)
        try:
            with pytest.raises(RuntimeError, match="rejected the bot token") as failure:
                await surface.start()
            assert "WrongToken" not in str(failure.value) and not surface.connected
        finally:
            await surface.stop()
            await harness.stop()
