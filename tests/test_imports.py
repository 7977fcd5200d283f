"""Imports: Telegram Desktop exports, JSONL and CSV — good rows stored, bad rows reported by line."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot.command import IncomingFile
from bot.render.text import render_text
from handlers.imports import command as import_command
from handlers.imports.csv_posts import parse_mapping, read_csv
from handlers.imports.importer import ImportFailed, detect_format, import_file
from handlers.imports.jsonl import MAX_LINE_BYTES, read_jsonl
from handlers.imports.record import RowError
from handlers.monitor.post import Post
from storage.models import Role, StoredPost
from tests.harness import BotHarness

FIX = Path(__file__).parent / "fixtures" / "imports"
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[BotHarness]:
    bot = BotHarness(tmp_path, sets=[import_command.commands], clock=lambda: NOW)
    await bot.start()
    yield bot
    await bot.stop()


async def stored(bot: BotHarness) -> dict[tuple[str, str], StoredPost]:
    rows = await bot.services.db.run(lambda s: list(s.exec(select(StoredPost))))
    return {(r.source, r.source_id): r for r in rows}


async def test_jsonl_good_rows_stored_bad_rows_named(harness: BotHarness) -> None:
    report = await import_file(harness.services, FIX / "posts.jsonl")
    assert report.format == "jsonl"
    assert (report.rows, report.imported, report.duplicates, report.skipped) == (12, 4, 1, 1)
    problems = {e.where: e.message for e in report.errors}
    assert problems == {
        "line 5": "created_at: 'yesterday' is not ISO 8601 or epoch seconds",
        "line 6": "id: missing or empty",
        "line 7": problems["line 7"],
        "line 8": "expected a JSON object, got list",
        "line 9": "source: 'bad source!' is not a source name (letters, digits, _ . -)",
        "line 10": "url: must start with http:// or https://",
    }
    assert problems["line 7"].startswith("invalid JSON")
    posts = await stored(harness)
    assert set(posts) == {("forum", "a1"), ("import", "2"), ("import", "a3"), ("import", "a10")}
    first = posts[("forum", "a1")]
    assert first.text == "First & good post #osint" and first.hashtags == ["osint"] and first.lang == "en"
    assert first.author_handle == "alice" and first.created_at == datetime(2026, 10, 31, 8, tzinfo=UTC)
    bob = posts[("import", "2")]
    assert (bob.author_id, bob.author_handle, bob.author_name) == ("7", "bob", "Bob")
    assert bob.created_at == datetime.fromtimestamp(1761897600, UTC) and bob.reply_to == "a1"
    assert posts[("import", "a3")].created_at == datetime.fromtimestamp(1761897600.123, UTC)
    assert posts[("import", "a10")].created_at == NOW  # no time given: the import time
    again = await import_file(harness.services, FIX / "posts.jsonl")
    assert again.imported == 0 and again.duplicates == 5


async def test_csv_with_quoted_multiline_cells(harness: BotHarness) -> None:
    report = await import_file(harness.services, (FIX / "posts.csv").read_bytes(), name="posts.csv",
                               source="survey")
    assert (report.imported, report.skipped, report.error_count) == (2, 1, 3)
    assert [(e.where, e.message) for e in report.errors] == [
        ("line 5", "text: empty"),
        ("line 7", "lang: 'not a lang' is not a language code (e.g. en, pt-BR)"),
        ("line 8", "7 fields where the header has 6"),
    ]
    posts = await stored(harness)
    assert posts[("survey", "1")].text == "Hello, world — with a comma"
    assert posts[("survey", "1")].created_at == datetime(2026, 10, 31, 6, tzinfo=UTC)
    assert posts[("survey", "2")].text == 'Multi\nline "quoted" text'


async def test_csv_mapping_and_missing_columns(harness: BotHarness) -> None:
    data = (FIX / "mapped.csv").read_bytes()
    with pytest.raises(ImportFailed, match="no id or text column"):
        await import_file(harness.services, data, "csv")
    mapping = parse_mapping("id=tweet_id, text=content, author=user, created_at=when")
    report = await import_file(harness.services, data, "csv", mapping=mapping)
    assert report.imported == 1
    post = (await stored(harness))[("import", "100")]
    assert post.text == "mapped row" and post.author_handle == "eve"


def test_bad_mapping() -> None:
    with pytest.raises(ValueError, match="field=column"):
        parse_mapping("nonsense")
    with pytest.raises(ValueError, match="field one of"):
        parse_mapping("colour=c")


async def test_telegram_export(harness: BotHarness) -> None:
    report = await import_file(harness.services, FIX / "result.json")
    assert report.format == "telegram"
    assert (report.imported, report.skipped, report.error_count) == (3, 2, 1)
    assert report.errors == [RowError("Example News: message 5", "date: missing")]
    posts = await stored(harness)
    entity = posts[("telegram", "1234567890/3")]
    assert entity.text == "Забастовка #порт — подробности здесь, от @reporter_ua https://t.me/otherchannel/77 & more"
    assert entity.hashtags == ["порт"] and entity.mentions == ["reporter_ua"]
    assert entity.urls == ["https://example.org/strike", "https://t.me/otherchannel/77"]
    assert entity.reply_to == "1234567890/2" and entity.url == "https://t.me/c/1234567890/3"
    assert entity.raw and entity.raw["forwarded_from"] == "Другой канал"
    assert entity.created_at == datetime.fromtimestamp(1759320300, UTC)
    photo = posts[("telegram", "1234567890/4")]
    assert photo.media == [{"type": "photo", "file": "photos/photo_1@01-10-2026_12-10-00.jpg"}]
    assert photo.created_at == datetime(2026, 10, 1, 12, 10, tzinfo=UTC)


async def test_not_an_export(harness: BotHarness) -> None:
    with pytest.raises(ImportFailed, match="not a Telegram Desktop export"):
        await import_file(harness.services, b'{\n "hello": 1\n}\n')
    with pytest.raises(ImportFailed, match="not valid JSON"):
        await import_file(harness.services, b'{\n "messages": [\n')


def test_detect_format() -> None:
    assert detect_format("x.jsonl", b"") == "jsonl"
    assert detect_format("x.csv", b"{") == "csv"
    assert detect_format("result.json", b"{") == "telegram"
    assert detect_format(None, b'{\n "name": "x"') == "telegram"
    assert detect_format(None, b'{"id": 1, "text": "x"}\n') == "jsonl"
    assert detect_format(None, b"id,text\n") == "csv"


def test_overlong_jsonl_line_is_reported_and_reading_continues() -> None:
    data = b'{"id": 1, "text": "' + b"x" * (MAX_LINE_BYTES + 10) + b'"}\n{"id": 2, "text": "ok"}\n'
    rows = list(read_jsonl(io.BytesIO(data), default_source="import", now=NOW))
    assert isinstance(rows[0], RowError) and rows[0].where == "line 1" and "longer than" in rows[0].message
    assert isinstance(rows[1], Post) and rows[1].source_id == "2"


def test_readers_stream_lazily() -> None:
    """A reader yields the first row before the stream is read to the end."""
    lines = [json.dumps({"id": i, "text": f"post {i}"}).encode() + b"\n" for i in range(10_000)]
    stream = io.BytesIO(b"".join(lines))
    rows = read_jsonl(stream, default_source="import", now=NOW)
    assert isinstance(next(rows), Post)
    assert stream.tell() < len(lines[0]) * 2
    csv_stream = io.BytesIO(b"id,text\n" + b"".join(f"{i},post {i}\n".encode() for i in range(100_000)))
    csv_rows = read_csv(csv_stream, default_source="import", now=NOW)
    assert isinstance(next(csv_rows), Post)
    assert csv_stream.tell() < 100_000  # only a buffer's worth read, not the whole 1.3 MB


async def test_import_command_with_attachment(harness: BotHarness) -> None:
    data = (FIX / "posts.jsonl").read_bytes()

    async def fetch() -> bytes:
        return data

    file = IncomingFile("posts.jsonl", len(data), fetch)
    text = "\n".join(render_text(r) for r in await harness.run("/import", role=Role.ANALYST, files=[file]))
    assert "imported" in text and "4" in text
    assert "line 5" in text and "created_at" in text
    assert len(await stored(harness)) == 4


async def test_import_command_needs_a_file_and_a_role(harness: BotHarness) -> None:
    text = "\n".join(render_text(r) for r in await harness.run("/import", role=Role.ANALYST))
    assert "Attach the file" in text
    data = b'{"id": 1, "text": "x"}\n'

    async def fetch() -> bytes:
        return data

    denied = "\n".join(render_text(r) for r in await harness.run(
        "/import", role=Role.VIEWER, files=[IncomingFile("a.jsonl", len(data), fetch)]))
    assert await stored(harness) == {} and "analyst" in denied.lower()


async def test_import_command_size_limit(harness: BotHarness) -> None:
    async def fetch() -> bytes:
        raise AssertionError("an oversized file must not be downloaded")

    big = IncomingFile("huge.jsonl", import_command.MAX_CHAT_IMPORT_BYTES + 1, fetch)
    text = "\n".join(render_text(r) for r in await harness.run("/import", role=Role.ANALYST, files=[big]))
    assert "socmint import FILE" in text


async def test_imports_run_through_the_watch_pipeline(tmp_path: Path) -> None:
    """Imported posts are matched like polled ones: every match stored, only the recent post alerted."""
    from tests.fakes.monitor import Clock, engine_of, start_monitor_bot

    clock = Clock()
    bot, surface = await start_monitor_bot(tmp_path, clock)
    try:
        await bot.run("/watch add lockbit", role=Role.ANALYST)
        year_ago, hour_ago = clock.now - timedelta(days=400), clock.now - timedelta(hours=1)
        lines = [{"id": "old", "text": "lockbit in last year's archive", "created_at": year_ago.isoformat()},
                 {"id": "new", "text": "lockbit leak posted an hour ago", "created_at": hour_ago.isoformat()},
                 {"id": "other", "text": "nothing to see here at all", "created_at": clock.now.isoformat()}]
        data = "".join(json.dumps(line) + "\n" for line in lines).encode()
        report = await import_file(bot.services, data, name="a.jsonl")
        assert (report.imported, report.matched, report.alerts) == (3, 2, 1)
        assert await engine_of(bot).outbox.drain() == 1
        assert "posted an hour ago" in render_text(surface.delivered[0][1])
        assert "matched, not alerted" in render_text(import_command.report_reply(report, "a.jsonl"))
    finally:
        await bot.stop()


async def test_import_says_why_rows_were_not_imported(harness: BotHarness) -> None:
    first = [{"id": "1", "text": "the same words posted twice by one author", "author": "a"},
             {"id": "2", "text": "a post that is only here once", "author": "a"}]
    await import_file(harness.services, "".join(json.dumps(r) + "\n" for r in first).encode(), name="a.jsonl")
    again = [{"id": "1", "text": "re-exported with the same id", "author": "a"},
             {"id": "9", "text": "the same words posted twice by one author", "author": "a"},
             {"id": "9", "text": "the id repeated inside this very file", "author": "a"},
             {"id": "10", "text": "fine", "created_at": "yesterday"}]
    data = ("".join(json.dumps(r) + "\n" for r in again) + "\n").encode()
    report = await import_file(harness.services, data, name="b.jsonl")
    text = render_text(import_command.report_reply(report, "b.jsonl"))
    assert "1 already stored (same source id)" in text
    assert "1 same text as a stored post" in text
    assert "1 repeated in the file" in text
    assert "1 skipped: blank line (line 5)" in text
    assert "1 bad: created_at" in text and "on line 4" in text


async def test_telegram_export_keeps_two_senders_saying_the_same(harness: BotHarness) -> None:
    """Same words from two people are two posts (coordination analyses need both), not a duplicate."""
    words = "join the protest tomorrow at noon"
    export = {"name": "G", "type": "public_supergroup", "id": 5, "messages": [
        {"id": 1, "type": "message", "date_unixtime": "1700000000", "from": "A", "from_id": "user1", "text": words},
        {"id": 2, "type": "message", "date_unixtime": "1700000060", "from": "B", "from_id": "user2", "text": words},
        {"id": 3, "type": "service", "date_unixtime": "1700000120", "actor": "A", "action": "pin_message"}]}
    report = await import_file(harness.services, json.dumps(export).encode(), name="result.json")
    assert (report.imported, report.duplicates) == (2, 0)
    assert "1 skipped: service message (G: message 3)" in render_text(import_command.report_reply(report, "r"))


def test_row_values_match_to_row() -> None:
    """The fast insert path writes exactly the columns `Post.to_row()` would."""
    from handlers.monitor.pipeline import row_values
    from handlers.monitor.post import Author

    post = Post(source="s", source_id="1", text="t #x", created_at=NOW, author=Author("i", "h", "n"),
                url="https://u.example", title="T", lang="en", reply_to="0", thread_id="th", mentions=["m"],
                hashtags=["x"], urls=["https://u.example"], media=[{"type": "photo"}], geo={"lat": 1},
                engagement={"views": 3}, raw={"k": "v"})
    row = post.to_row()
    columns = [c.name for c in StoredPost.__table__.columns if c.name != "id"]  # type: ignore[attr-defined]
    values = row_values(post, row.collected_at)
    assert sorted(values) == sorted(columns)
    assert values == {name: getattr(row, name) for name in columns}
