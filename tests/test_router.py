"""The command core: parsing, dispatch, access checks, audit, timeouts and buttons."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.command import Arg, ArgKind, ChatKind, ChatRef, CommandError, CommandSet, Context, Option, UsageError, UserRef
from bot.render.text import render_text
from bot.reply import Button, Reply
from bot.router import Incoming, ParseError, Registry, parse_arguments, tokenize
from handlers import admin, basics
from storage import audit, identity
from storage.db import FirstWrite
from storage.models import AuditEntry, Chat, Role
from tests.harness import BotHarness, RecordingSink

demo = CommandSet()


@demo.command("echo", "Echo the text back", example="/echo hi", args=[Arg("text", "what to echo", kind=ArgKind.TEXT)])
async def echo(ctx: Context, text: str) -> Reply:
    return Reply.text(text)


@demo.command("thing add", "Add a thing", example="/thing add 3 --every 5m", role=Role.ANALYST, mutates=True,
              args=[Arg("n", "a number", kind=ArgKind.INT)],
              options=[Option("every", "interval", kind=ArgKind.DURATION), Option("dry", "just try", flag=True)])
async def thing_add(ctx: Context, n: int, every: timedelta | None, dry: bool) -> Reply:
    return Reply.text(f"n={n} every={every} dry={dry}")


@demo.command("thing list", "List things", example="/thing list")
async def thing_list(ctx: Context) -> Reply:
    return Reply.text("things").buttons([Button("again", "/thing list"), Button("add", "/thing add 1")])


@demo.command("slow", "Sleeps", example="/slow", timeout=0.2)
async def slow(ctx: Context) -> Reply:
    await asyncio.sleep(5)
    return Reply.text("never")


@demo.command("boom", "Fails", example="/boom")
async def boom(ctx: Context) -> Reply:
    raise RuntimeError("secret internals")


@demo.command("nope", "Refuses", example="/nope")
async def nope(ctx: Context) -> Reply:
    raise CommandError("that cannot be done here")


@demo.command("bad", "Bad args inside", example="/bad")
async def bad(ctx: Context) -> Reply:
    raise UsageError("the window must be positive")


half_done = asyncio.Event()  # set by a test to let /half finish


@demo.command("half", "Writes, then waits", example="/half", mutates=True)
async def half(ctx: Context) -> Reply:
    await ctx.services.db.run(lambda s: identity.touch_chat(s, "telegram", -4242, "group", "made by /half"))
    await half_done.wait()
    raise CommandError("stopped after the write")


@pytest.fixture
async def dbot(tmp_path):
    harness = BotHarness(tmp_path, sets=[basics.commands, admin.commands, demo])
    await harness.start()
    yield harness
    await harness.stop()


def test_tokenize_quotes_and_spans():
    tokens = tokenize('watch add "lock bit" OR \'x y\' --every 5m')
    assert [t.value for t in tokens] == ["watch", "add", "lock bit", "OR", "x y", "--every", "5m"]
    assert tokens[2].start == 10 and tokens[2].end == 20


def test_tokenize_unclosed_quote_names_position():
    with pytest.raises(ParseError, match="position 6"):
        tokenize('echo "abc')


def test_parse_arguments_options_and_text():
    registry = Registry([demo])
    cmd = registry.get("thing add")
    line = "thing add 7 --every 1h30m --dry"
    tokens = tokenize(line)[2:]
    assert parse_arguments(cmd, line, tokens) == {"n": 7, "every": timedelta(hours=1, minutes=30), "dry": True}
    with pytest.raises(UsageError, match="whole number"):
        parse_arguments(cmd, "thing add x", tokenize("thing add x")[2:])
    with pytest.raises(UsageError, match="duration"):
        parse_arguments(cmd, "thing add 1 --every soon", tokenize("thing add 1 --every soon")[2:])


async def test_text_argument_keeps_raw_quotes(dbot):
    replies = await dbot.run('/echo "lock bit" OR -test')
    assert render_text(replies[0]) == '"lock bit" OR -test'


async def test_unknown_command_suggests(dbot):
    text = await dbot.text("/hepl")
    assert "Unknown command /hepl" in text and "Did you mean /help" in text


async def test_group_without_subcommand_lists_them(dbot):
    text = await dbot.text("/thing")
    assert "/thing add" in text and "/thing list" in text


async def test_wrong_arguments_show_usage_and_example(dbot):
    text = await dbot.text("/thing add many")
    assert "whole number" in text and "Usage: `/thing add <n>" in text and "Example: `/thing add 3 --every 5m`" in text


async def test_role_check_refuses_viewer(dbot):
    text = await dbot.text("/thing add 1", role=Role.VIEWER)
    assert "needs the analyst role" in text
    assert "n=1" in await dbot.text("/thing add 1", role=Role.ANALYST)


async def test_not_allowed_chat_is_refused_and_audited(dbot):
    text = await dbot.text("/help", role=None, allowed=False, user_id=42, chat_id=-42)
    assert "not allowed" in text
    entries = await dbot.services.db.run(lambda s: audit.recent(s, 5))
    assert entries[0].outcome == "refused" and entries[0].user == "telegram:42"


async def test_stranger_gets_only_refusals(dbot):
    for line in ("/thing list", "/status", "/audit", "/nonexistent", "/echo hi"):
        text = await dbot.text(line, role=None, allowed=False, user_id=77, chat_id=-77)
        assert "not allowed" in text, line


async def test_group_address_to_other_bot_is_ignored(dbot):
    sink = RecordingSink()
    await dbot.prepare(platform="telegram", user_id=1, chat_id=-1, role=Role.OWNER, allowed=True)
    chat, user = ChatRef("telegram", -1, ChatKind.GROUP), UserRef("telegram", 1)
    await dbot.app.router.handle(Incoming(chat, user, "/echo@otherbot hi", bot_username="socmintbot"), sink)
    assert sink.replies == []
    await dbot.app.router.handle(Incoming(chat, user, "/echo@SocmintBot hi", bot_username="socmintbot"), sink)
    assert render_text(sink.replies[0]) == "hi"


async def test_timeout_stops_slow_command_without_blocking_others(dbot):
    slow_task = asyncio.create_task(dbot.text("/slow"))
    fast = await dbot.text("/echo quick")
    assert fast == "quick"
    assert "took longer than" in await slow_task


async def test_unexpected_error_gives_reference_not_traceback(dbot):
    text = await dbot.text("/boom")
    assert "failed unexpectedly (ref" in text and "secret internals" not in text
    assert dbot.services.errors and dbot.services.errors[-1].where == "/boom"


async def test_command_error_and_usage_error_from_handlers(dbot):
    assert "that cannot be done here" in await dbot.text("/nope")
    assert "Usage: `/bad`" in await dbot.text("/bad")


async def test_oversized_input_refused(dbot):
    text = await dbot.text("/echo " + "x" * 5000)
    assert "too long" in text


async def test_buttons_run_mapped_command_with_pressers_access(dbot):

    replies = await dbot.run("/thing list")
    chat = ChatRef("telegram", -5001, ChatKind.GROUP)
    tokens = await dbot.app.router.tokens_for(replies[0], chat)
    add_token = next(t for b, t in tokens.items() if b.label == "add")
    # a viewer pressing "add" is refused like a typed command
    await dbot.prepare(platform="telegram", user_id=9, chat_id=-5001, role=Role.VIEWER, allowed=True)
    sink = RecordingSink()
    await dbot.app.router.press(chat, UserRef("telegram", 9), add_token, sink)
    assert "needs the analyst role" in render_text(sink.replies[0])
    sink = RecordingSink()
    await dbot.app.router.press(chat, UserRef("telegram", 1001), add_token, sink)
    assert render_text(sink.replies[0]).startswith("n=1")
    # a token shown in another chat does nothing there
    sink = RecordingSink()
    await dbot.app.router.press(ChatRef("telegram", -999, ChatKind.GROUP), UserRef("telegram", 1001), add_token, sink)
    assert "expired" in render_text(sink.replies[0])


async def test_every_command_is_audited(dbot):
    await dbot.run("/echo hello")
    entries = await dbot.services.db.run(lambda s: audit.recent(s, 1))
    assert (entries[0].command, entries[0].args, entries[0].outcome) == ("echo", "hello", "ok")


class Receipt(FirstWrite):
    """A stand-in for a platform update's receipt: counts the transactions that carried it."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, session) -> None:  # type: ignore[no-untyped-def]
        self.writes += 1


async def test_a_writing_command_commits_its_audit_entry_and_receipt_with_its_first_write(dbot):
    half_done.clear()
    receipt = Receipt()
    chat, user = ChatRef("telegram", -5001, ChatKind.GROUP), UserRef("telegram", 1001)
    await dbot.prepare(platform="telegram", user_id=1001, chat_id=-5001, role=Role.OWNER, allowed=True)
    run = asyncio.create_task(dbot.app.router.handle(Incoming(chat, user, "/half", receipt=receipt), RecordingSink()))

    def state(s):  # type: ignore[no-untyped-def]
        made = s.execute(select(Chat).where(Chat.platform_id == -4242)).scalar_one_or_none()
        return made is not None, [e.outcome for e in s.execute(select(AuditEntry).where(AuditEntry.command == "half"))
                                  .scalars()]

    while not receipt.done:
        await asyncio.sleep(0.01)
    assert await dbot.services.db.run(state) == (True, ["interrupted"])  # what a crash here would leave
    half_done.set()
    await run
    assert await dbot.services.db.run(state) == (True, ["failed"])
    assert receipt.writes == 1


async def test_a_reading_command_is_marked_handled_before_it_runs_and_audited_after_its_reply(dbot):
    receipt = Receipt()
    seen: list[tuple[bool, list[str]]] = []

    class Watching(RecordingSink):
        async def send(self, reply: Reply) -> None:
            entries = await dbot.services.db.run(lambda s: audit.recent(s, 5))
            seen.append((receipt.done, [e.command for e in entries]))
            await super().send(reply)

    chat, user = ChatRef("telegram", -5001, ChatKind.GROUP), UserRef("telegram", 1001)
    await dbot.prepare(platform="telegram", user_id=1001, chat_id=-5001, role=Role.OWNER, allowed=True)
    await dbot.app.router.handle(Incoming(chat, user, "/echo hi", receipt=receipt), Watching())
    assert seen == [(True, [])] and receipt.writes == 1  # the answer first: the audit entry follows it
    assert [e.command for e in await dbot.services.db.run(lambda s: audit.recent(s, 5))] == ["echo"]
    refused = Receipt()  # a changing command refused: its refusal's audit entry carries the receipt
    await dbot.app.router.handle(Incoming(ChatRef("telegram", -6, ChatKind.GROUP), user, "/half",
                                          receipt=refused), RecordingSink())
    assert refused.done and refused.writes == 1
    not_a_command = Receipt()  # nothing to say: the receipt is the surface's to commit at the end
    await dbot.app.router.handle(Incoming(chat, user, "just chatting", receipt=not_a_command), RecordingSink())
    assert not not_a_command.done


def test_registry_rejects_duplicates():
    with pytest.raises(ValueError):
        Registry([demo, demo])
