"""Security hardening: fail-closed access everywhere, inert relayed text, no secret leaks, SSRF, limits, SQL."""

from __future__ import annotations

import dataclasses
import html.parser
import io
import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.command import ChatKind, ChatRef, CommandError, CommandSet, Context, IncomingFile, UserRef
from bot.logsetup import setup_logging
from bot.render import discord as discord_render
from bot.render import telegram as telegram_render
from bot.render.text import render_text
from bot.reply import Button, Reply, bold, code, italic, link
from bot.surfaces.console import ConsoleSink, safe_filename
from handlers.analysis import geo
from handlers.catalog import command_sets
from handlers.governance_cli import export_main
from handlers.imports import command as import_command
from handlers.lookup.ssrf import SsrfGuard
from handlers.monitor.query import QueryError, compiled_regex, parse_query
from storage import audit
from storage.db import migrate
from storage.models import ButtonToken, Role
from tests.harness import BotHarness, RecordingSink

ROOT = Path(__file__).resolve().parents[1]
# Commands a stranger may run in a chat nobody allowed: they only say who you are and how to get access.
STRANGER_SAFE = {"start", "help", "whoami"}


# --------------------------------------------------------------------------- fail-closed access
def sentinel_sets(calls: list[str]) -> list[CommandSet]:
    """Every registered command, its handler replaced by one that records that it ran."""
    wrapped = CommandSet()
    for command_set in command_sets():
        for command in command_set.commands:
            async def ran(ctx: Context, _name: str = command.name, **_: object) -> Reply:
                calls.append(_name)
                return Reply.text("ran")

            wrapped.commands.append(dataclasses.replace(command, handler=ran))
    return [wrapped]


@pytest.fixture
async def sentinel(tmp_path: Path) -> AsyncIterator[tuple[BotHarness, list[str]]]:
    calls: list[str] = []
    bot = BotHarness(tmp_path, sets=sentinel_sets(calls))
    await bot.start()
    yield bot, calls
    await bot.stop()


def test_registry_is_not_empty_and_stranger_safe_commands_are_reviewed() -> None:
    commands = [c for s in command_sets() for c in s.commands]
    assert len(commands) > 30
    open_to_strangers = {c.name for c in commands if not c.needs_allowed_chat and c.role <= Role.VIEWER}
    assert open_to_strangers <= STRANGER_SAFE, "a new command runs in chats nobody allowed: review it"


@pytest.mark.parametrize("platform", ["telegram", "discord"])
async def test_strangers_are_refused_every_command(sentinel: tuple[BotHarness, list[str]], platform: str) -> None:
    bot, calls = sentinel
    names = [c.name for c in bot.app.registry]
    open_ = {c.name for c in bot.app.registry if not c.needs_allowed_chat and c.role <= Role.VIEWER}
    for i, name in enumerate(names):
        text = await bot.text(f"/{name}", role=None, allowed=False, platform=platform, user_id=7000 + i,
                              chat_id=-7000 - i)
        if name not in open_:
            assert "not allowed" in text or "needs the" in text, (name, text)
    assert set(calls) == open_ and open_ <= STRANGER_SAFE
    refusals = await bot.services.db.run(lambda s: audit.recent(s, 200))
    assert sum(e.outcome == "refused" for e in refusals) == len(names) - len(open_)


async def test_viewers_in_an_allowed_chat_run_only_viewer_commands(sentinel: tuple[BotHarness, list[str]]) -> None:
    bot, calls = sentinel
    for command in bot.app.registry:
        calls.clear()
        text = await bot.text(f"/{command.name}", role=Role.VIEWER, user_id=8001)
        if command.role > Role.VIEWER:
            assert calls == [] and f"needs the {command.role.label} role" in text, command.name
        # viewer commands may still refuse on arguments; they must never be refused for access
        else:
            assert "needs the" not in text, command.name


async def test_console_is_the_owner(sentinel: tuple[BotHarness, list[str]]) -> None:
    bot, calls = sentinel
    for command in bot.app.registry:
        await bot.text(f"/{command.name}", platform="console", role=None, user_id=0, chat_id=0)
    assert set(calls) >= {c.name for c in bot.app.registry if not c.args or not c.args[0].required}


async def test_buttons_for_every_command_refuse_strangers_and_viewers(
        sentinel: tuple[BotHarness, list[str]]) -> None:
    bot, calls = sentinel
    names = [c.name for c in bot.app.registry]

    def plant(session) -> None:  # type: ignore[no-untyped-def]
        for i, name in enumerate(names):
            session.add(ButtonToken(token=f"s{i}", command=f"/{name}", chat="telegram:-9100"))
            session.add(ButtonToken(token=f"v{i}", command=f"/{name}", chat="telegram:-9200"))

    await bot.services.db.run(plant)
    await bot.prepare(platform="telegram", user_id=9100, chat_id=-9100, role=None, allowed=False)
    await bot.prepare(platform="telegram", user_id=9200, chat_id=-9200, role=Role.VIEWER, allowed=True)
    stranger_chat = ChatRef("telegram", -9100, ChatKind.GROUP)
    viewer_chat = ChatRef("telegram", -9200, ChatKind.GROUP)
    for i, name in enumerate(names):
        command = bot.app.registry.get(name)
        assert command is not None
        calls.clear()
        sink = RecordingSink()
        await bot.app.router.press(stranger_chat, UserRef("telegram", 9100), f"s{i}", sink)
        if not (name in STRANGER_SAFE and not command.needs_allowed_chat):
            assert calls == [] and sink.replies, name
        calls.clear()
        sink = RecordingSink()
        await bot.app.router.press(viewer_chat, UserRef("telegram", 9200), f"v{i}", sink)
        if command.role > Role.VIEWER:
            assert calls == [] and "needs the" in render_text(sink.replies[0]), name
        # a token pressed in a chat it was not shown in does nothing but say so
        sink = RecordingSink()
        calls.clear()
        await bot.app.router.press(viewer_chat, UserRef("telegram", 9200), f"s{i}", sink)
        assert calls == [] and "expired" in render_text(sink.replies[0])


# --------------------------------------------------------------------------- hostile text through renderers
NASTY = [
    "\u202egnp.exe\u202c \u2066isolate\u2069",  # RTL override and isolates
    "a\u200db\u200cc\u200bd\u2060e\ufeff 👩‍👩‍👧 🏳️‍🌈",  # zero-width joiners and friends
    "x" * 10_000,  # one very long line
    "null\x00byte\x00" + "\x07bell\x1b[31mred\x1b[0m\x7f\x85",
    '<b>bold</b><script>alert(1)</script><a href="javascript:alert(1)">x</a> <tg-spoiler>s</tg-spoiler> &amp; &',
    "@everyone @here <@123456> <@!42> <@&987> <#555> </cmd:1> @​everyone",
    "**b** __u__ ~~s~~ `c` ```block``` [click](https://evil.example) ||spoiler|| > quote\n# heading",
    "line\r\nbreak\u2028sep\u2029para\n\n\n",
    "Z\u0337\u0322\u031ba\u0336l\u0334g\u0337o\u0338" * 300,
    "\ud800 lone surrogate",
]
BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def nasty_reply(s: str) -> Reply:
    reply = Reply.text(s).para(bold(s), " ", italic(s), " ", code(s), " ", link(s, s), " ",
                               link("safe", "javascript:alert(1)"), " ", link("tg", "tg://user?id=1"))
    reply.kv([(s[:50], s), ("k", [code(s)])], title=s[:100]).code_block(s)
    reply.table([s[:30], "b"], [(s, s), ("1", "2")], title=s[:60])
    reply.attach(s[:200] or "f", b"data", "text/plain", caption=s)
    return reply.buttons([Button(s[:60] or "b", "/help")])


class TagCollector(html.parser.HTMLParser):
    """The tags and link targets of Telegram HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.hrefs += [v or "" for k, v in attrs if k == "href"]


@pytest.mark.parametrize("s", NASTY, ids=range(len(NASTY)))
def test_plain_text_renderer_makes_hostile_text_inert(s: str) -> None:
    out = render_text(nasty_reply(s))
    assert not BIDI.search(out) and not CONTROL.search(out)
    assert "\x1b" not in out


@pytest.mark.parametrize("s", NASTY, ids=range(len(NASTY)))
def test_telegram_renderer_makes_hostile_text_inert(s: str) -> None:
    reply = nasty_reply(s)
    tokens = {b: "tok" for row in reply.button_rows for b in row}
    messages = telegram_render.render(reply, tokens)
    assert messages
    for m in messages:
        parser = TagCollector()
        parser.feed(m.html)
        assert parser.tags <= {"b", "i", "code", "pre", "a"}, parser.tags
        assert all(h.startswith(("http://", "https://")) for h in parser.hrefs), parser.hrefs
        assert not BIDI.search(m.html) and not CONTROL.search(m.html)
        assert "<script" not in m.html and "<tg-spoiler" not in m.html
        visible = re.sub(r"<[^>]+>", "", m.html)
        limit = telegram_render.CAPTION_LIMIT if m.kind is not telegram_render.Kind.TEXT else telegram_render.TEXT_LIMIT
        assert telegram_render.utf16_len(visible) <= limit
        assert not BIDI.search(m.filename) and "\x00" not in m.filename
        if m.keyboard:
            for row in m.keyboard.inline_keyboard:
                assert all(not BIDI.search(b.text) and len(b.text) <= 64 for b in row)


MENTION = re.compile(r"@(everyone|here)|<@[!&]?\d+>|<#\d+>")
# Discord never parses mentions inside code; code is left verbatim so indicators copy intact, and every send
# carries AllowedMentions.none() besides (test_discord_sends_never_allow_mentions).
CODE = re.compile(r"```.*?```|`[^`]*`", re.DOTALL)


@pytest.mark.parametrize("s", NASTY, ids=range(len(NASTY)))
def test_discord_renderer_makes_hostile_text_inert(s: str) -> None:
    reply = nasty_reply(s)
    tokens = {b: "tok" for row in reply.button_rows for b in row}
    messages = discord_render.render(reply, tokens)
    for m in messages:
        assert len(m.content) <= discord_render.MESSAGE_LIMIT
        assert not MENTION.search(CODE.sub("", m.content)), m.content[:200]
        assert "](javascript:" not in m.content and "tg://" not in m.content.replace("tg:\u200b//", "")
        assert not BIDI.search(m.content) and not CONTROL.search(m.content)
        for row in m.buttons:
            assert all(len(label) <= 80 for label, _ in row)


def test_discord_sends_never_allow_mentions() -> None:
    source = (ROOT / "bot" / "surfaces" / "discord.py").read_text()
    sends = re.findall(r"\.(?:send|send_message|edit|edit_original_response)\(", source)
    assert sends and source.count("allowed_mentions=NO_MENTIONS") >= 4
    assert "AllowedMentions.none()" in source


# --------------------------------------------------------------------------- secrets
SECRETS: dict[str, Any] = {
    "telegram": {"token": "123456789:AAHsecretTelegramTokenValue_xyz"},
    "discord": {"token": "discord-secret-token-value-abc"},
    "sources": {"github": {"token": "ghp_secretgithubtokenvalue123"}},
}
SECRET_VALUES = [SECRETS["telegram"]["token"], SECRETS["discord"]["token"], SECRETS["sources"]["github"]["token"]]

leaky = CommandSet()


@leaky.command("leak", "Fails, mentioning a secret", example="/leak")
async def leak(ctx: Context) -> Reply:
    raise RuntimeError(f"upstream said no to {SECRET_VALUES[0]}")


@leaky.command("leakerr", "Refuses, mentioning a secret", example="/leakerr")
async def leakerr(ctx: Context) -> Reply:
    raise CommandError(f"GitHub rejected token {SECRET_VALUES[2]}")


@pytest.fixture
def _restore_logging() -> AsyncIterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield  # type: ignore[misc]
    root.handlers[:] = handlers
    root.setLevel(level)


async def test_no_secret_in_logs_errors_replies_status_or_audit(tmp_path: Path, _restore_logging: None) -> None:
    from handlers import admin, basics, governance

    bot = BotHarness(tmp_path, sets=[basics.commands, admin.commands, governance.commands, leaky], **SECRETS)
    stream = io.StringIO()
    setup_logging("DEBUG", "text", bot.services.settings.secrets(), stream=stream)
    await bot.start()
    try:
        seen = [await bot.text("/leak"), await bot.text("/leakerr"), await bot.text("/status"),
                await bot.text(f"/whoami {SECRET_VALUES[1]}")]
        entries = await bot.services.db.run(lambda s: audit.recent(s, 50))
        seen += [f"{e.args} {e.detail}" for e in entries]
        seen += [e.message for e in bot.services.errors]
        seen.append(stream.getvalue())
    finally:
        await bot.stop()
    assert "failed unexpectedly (ref" in seen[0] and "GitHub rejected token ***" in seen[1]
    blob = "\n".join(seen)
    for secret in SECRET_VALUES:
        assert secret not in blob


def test_no_secret_in_data_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    migrate(url)
    monkeypatch.setenv("SOCMINT_DATABASE__URL", url)
    monkeypatch.setenv("SOCMINT_SOURCES__GITHUB__TOKEN", SECRET_VALUES[2])
    from storage.db import Database

    db = Database(url)
    with db.session() as s:
        audit.record(s, user="u", chat="c", command="x", args=f"token={SECRET_VALUES[2]}", outcome="ok")
    db.close()
    out = io.StringIO()
    assert export_main(["--out", str(tmp_path / "e")], out, io.StringIO()) == 0
    dumped = "".join(p.read_text() for p in (tmp_path / "e").iterdir()) + out.getvalue()
    assert SECRET_VALUES[2] not in dumped and "token=***" in dumped


# --------------------------------------------------------------------------- SSRF: every user-supplied URL
def _resolver(table: dict[str, str]):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        return [table[host]]

    return resolve


async def test_geo_exif_downloads_go_through_the_ssrf_guard() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers["host"] == "redirector.example":
            return httpx.Response(302, headers={"location": "http://169.254.169.254/latest/meta-data/"})
        return httpx.Response(200, content=b"not an image")

    guard = SsrfGuard(_resolver({"internal.example": "10.1.2.3", "redirector.example": "93.184.216.34"}),
                      max_bytes=geo.MAX_IMAGE_BYTES)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        assert await geo.fetch_image_gps(client, "http://internal.example/p.jpg", guard) is None
        assert seen == []  # a name resolving to a private address is never contacted
        assert await geo.fetch_image_gps(client, "http://redirector.example/p.jpg", guard) is None
        assert [r.url.host for r in seen] == ["93.184.216.34"]  # the redirect to metadata was not followed


async def test_geo_command_uses_the_app_guard(tmp_path: Path) -> None:
    from handlers.analysis import commands as analysis
    from handlers.monitor.post import Author, Post

    bot = BotHarness(tmp_path, sets=[analysis.commands])
    await bot.start()
    seen: list[httpx.Request] = []
    await bot.services.http.aclose()
    bot.services.http = httpx.AsyncClient(transport=httpx.MockTransport(
        lambda r: seen.append(r) or httpx.Response(200, content=b"x")))
    bot.services.shared.put(geo.IMAGE_GUARD, SsrfGuard(_resolver({"cdn.example": "127.0.0.1"})))
    try:
        post = Post(source="bluesky", source_id="1", text="hi", created_at=datetime(2026, 1, 1, tzinfo=UTC),
                    author=Author(handle="alice"), media=[{"type": "image", "url": "http://cdn.example/a.jpg"}])
        await bot.services.db.run(lambda s: s.add(post.to_row()))
        text = await bot.text("/geo bluesky:alice --exif", role=Role.ANALYST)
        assert "EXIF checked on 1 image" in text
        assert seen == []
    finally:
        await bot.stop()


# --------------------------------------------------------------------------- guarded regexes
def test_catastrophic_regex_runs_linear_under_re2() -> None:
    program = compiled_regex("(a+)+$")
    assert program.search("a" * 50_000 + "!") is None  # exponential under Python's re; linear under RE2
    assert parse_query("/(x+x+)+y/").terms


@pytest.mark.parametrize("bad", ["/" + "a" * 300 + "/", r"/(a)\1/", "/(?=look)ahead/"])
def test_unsafe_or_oversized_regexes_are_refused(bad: str) -> None:
    with pytest.raises(QueryError):
        parse_query(bad)


# --------------------------------------------------------------------------- attachment and import limits
async def test_import_refuses_oversized_files_without_downloading(tmp_path: Path) -> None:
    bot = BotHarness(tmp_path, sets=[import_command.commands])
    await bot.start()
    downloads: list[str] = []

    async def huge() -> bytes:
        downloads.append("declared")
        return b""

    async def liar() -> bytes:
        downloads.append("liar")
        return b"{}\n" * (import_command.MAX_CHAT_IMPORT_BYTES // 3 + 10)

    try:
        big = IncomingFile("posts.jsonl", import_command.MAX_CHAT_IMPORT_BYTES + 1, huge)
        text = await bot.text("/import", role=Role.ANALYST, files=[big])
        assert "chat imports take up to" in text and downloads == []
        lying = IncomingFile("posts.jsonl", 10, liar)
        assert "larger than" in await bot.text("/import", role=Role.ANALYST, files=[lying])
    finally:
        await bot.stop()


@pytest.mark.parametrize("name", ["../../etc/passwd", "..", ".hidden", "a/b\\c", "nul\x00byte.txt",
                                  "x" * 5000 + ".png", "\u202egnp.exe", "", "CON", "~/.ssh/authorized_keys"])
async def test_attachment_file_names_stay_in_their_folder(tmp_path: Path, name: str) -> None:
    safe = safe_filename(name)
    assert safe and len(safe) <= 100 and "/" not in safe and "\\" not in safe and "\x00" not in safe
    assert not safe.startswith(".") and not BIDI.search(safe)
    folder = tmp_path / "attachments"
    sink = ConsoleSink(io.StringIO(), folder, io.StringIO())
    await sink.send(Reply().attach(name or "f", b"payload", "text/plain"))
    saved = list(folder.iterdir())
    assert len(saved) == 1 and saved[0].resolve().parent == folder.resolve()
    assert saved[0].read_bytes() == b"payload"


# --------------------------------------------------------------------------- SQL only through the ORM
SQL_INTERPOLATION = [
    re.compile(r"(?<![\w.])(?:sa\.|sqlalchemy\.)?text\(\s*f[\"']"),  # text(f"...")
    re.compile(r"\.(?:execute|exec|exec_driver_sql|executescript|executemany)\(\s*f[\"']"),
    re.compile(r"\.(?:execute|exec|exec_driver_sql|executescript)\(\s*[\"'][^\"']*[\"']\s*(?:%|\.format\(|\+)"),
    re.compile(r"(?<![\w.])text\(\s*[\"'][^\"']*[\"']\s*(?:%|\.format\(|\+)"),
    re.compile(r"[\"']\s*(?:SELECT|INSERT|UPDATE|DELETE)\b[^\"']*[\"']\s*(?:%|\+|\.format\()", re.IGNORECASE),
]


def test_sql_is_never_built_from_strings() -> None:
    offenders = []
    for folder in ("handlers", "storage", "bot"):
        for path in (ROOT / folder).rglob("*.py"):
            source = path.read_text(encoding="utf-8")
            for pattern in SQL_INTERPOLATION:
                for m in pattern.finditer(source):
                    line = source.count("\n", 0, m.start()) + 1
                    offenders.append(f"{path.relative_to(ROOT)}:{line}: {m.group(0)}")
    assert offenders == []


def test_sql_guard_patterns_catch_the_usual_mistakes() -> None:
    bad = ['session.execute(f"DELETE FROM posts WHERE id={x}")', 'text(f"SELECT * FROM t WHERE a={a}")',
           'conn.execute("SELECT * FROM t WHERE a=%s" % a)', 'q = "SELECT * FROM t WHERE a=" + a',
           'cur.executescript("DROP TABLE " + name)']
    good = ['session.exec(select(StoredPost).where(StoredPost.id == x))', 'Reply.text(f"Case {n}")',
            'cur.execute("PRAGMA journal_mode=WAL")']
    assert all(any(p.search(b) for p in SQL_INTERPOLATION) for b in bad)
    assert not any(p.search(g) for p in SQL_INTERPOLATION for g in good)
