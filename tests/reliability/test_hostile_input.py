"""Hostile input: random and nasty command lines, queries, import files and fetched payloads.

Property-based (hypothesis) over every entry point a stranger or a malicious post can reach, and a corpus
of nasty strings through the commands and the renderers: no unhandled error anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.command import IncomingFile
from bot.render.text import render_text
from bot.router import Registry
from bot.shared import Shared
from config.settings import Settings
from handlers.fetch import BreakerOpen, FetchError, HostLimiter, PoliteFetcher
from handlers.imports.importer import ImportFailed, ImportReport, import_file
from handlers.lookup.ssrf import SsrfGuard
from handlers.monitor.alert import alert_payload, post_payload, render
from handlers.monitor.query import QueryError, parse_query
from handlers.monitor.sources import bluesky, fourchan, github, hackernews, lemmy, mastodon, reddit
from handlers.monitor.sources.base import NeedsKey, NotSupported, Page
from handlers.monitor.sources.payload import parse_each
from handlers.monitor.sources.registry import SOURCE_CLASSES, available_sources
from handlers.monitor.sources.rss import RssSource
from handlers.monitor.sources.telegram_preview import NoPublicPreview
from storage.models import Role
from tests.fakes.monitor import make_post
from tests.reliability.hostile_bot import all_command_sets, check_renders, start_hostile_bot, unhandled
from tests.reliability.nasty import NASTY
from tests.reliability.tally import SOAK, TALLY, scale

ROOT = Path(__file__).resolve().parents[2]
SOURCES_DIR = ROOT / "handlers" / "monitor" / "sources"
IMPORT_FIXTURES = sorted((ROOT / "tests" / "fixtures" / "imports").iterdir())
COMMAND_NAMES = sorted(c.name for group in Registry(all_command_sets()).groups().values() for c in group)
ROLES = (Role.OWNER, Role.ADMIN, Role.ANALYST, Role.VIEWER, None)


def examples(reduced: int, full: int):  # type: ignore[no-untyped-def]
    """Hypothesis settings sized for the mode; reduced runs are derandomized (same inputs every time)."""
    return settings(max_examples=scale(reduced, full), deadline=None, database=None, derandomize=not SOAK,
                    suppress_health_check=list(HealthCheck))


# strategies -----------------------------------------------------------------------------------------
short_nasty = st.sampled_from([s[:200] for s in NASTY])
word = st.one_of(
    st.text(max_size=24), short_nasty,
    st.sampled_from(["--sources", "--every", "--format", "--source", "--map", "1", "0", "-1", "1h", "9" * 20,
                     '"', "'", "\\", "--", "=", "@everyone", "lockbit", "OR", "-", "#tag", "@alice", "source:x",
                     "/x/", "post:1", "case", "telegram:1", "owner", "8.8.8.8", "example.com", "CVE-2021-44228",
                     "a@b.example", "+1 202 555 0100", "https://example.com/x"]),
)
command_line = st.one_of(
    st.builds(lambda name, args: "/" + name + " " + " ".join(args), st.sampled_from(COMMAND_NAMES),
              st.lists(word, max_size=6)),
    st.builds(lambda text: "/" + text, st.text(max_size=60)),
    st.text(max_size=120),
)
_keys = sorted(set(re.findall(r"""(?:get\(|\[)["']([A-Za-z_$][\w$]*)["']""",
                              "".join(p.read_text() for p in SOURCES_DIR.glob("*.py")))))
leaf = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=30), short_nasty,
    st.sampled_from(["2024-01-01T00:00:00Z", "2024-13-45T99:99:99", "1700000000", "", "null", "at://did:plc:x/y/z",
                     "https://example.com", "did:plc:abc", "<p>hi</p>", "t3_abc"]),
)
json_value = st.recursive(
    leaf, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                  st.dictionaries(st.one_of(st.sampled_from(_keys), st.text(max_size=6)), inner,
                                                  max_size=8)),
    max_leaves=30,
)
shaped_item = st.dictionaries(st.sampled_from(_keys), json_value, max_size=14)


# queries --------------------------------------------------------------------------------------------
@examples(600, 20_000)
@given(text=st.one_of(st.text(max_size=200), st.lists(word, max_size=12).map(" ".join), short_nasty))
def test_queries_parse_or_raise_query_error_only(text: str) -> None:
    TALLY.add("hostile_input", queries_tried=1)
    with contextlib.suppress(QueryError):
        parse_query(text)


# payload parsers ------------------------------------------------------------------------------------
PARSERS: dict[str, Callable[[Any], Any]] = {
    "hackernews.hit": hackernews.hit_to_post,
    "hackernews.item": hackernews.item_to_post,
    "mastodon.status": lambda s: mastodon.status_to_post(s, "https://mastodon.example"),
    "bluesky.post_view": bluesky.post_view_to_post,
    "bluesky.event": bluesky.event_to_post,
    "lemmy.post_view": lemmy.parse_post_view,
    "reddit.thing": reddit.parse_thing,
    "github.issue": github.parse_issue,
    "github.event": github.parse_event,
    "fourchan.post": lambda i: fourchan.parse_post(i, "g", "https://boards.example", "https://media.example"),
}


@examples(150, 3_000)
@given(name=st.sampled_from(sorted(PARSERS)), items=st.lists(st.one_of(shaped_item, json_value), max_size=5))
@example(name="hackernews.hit", items=[{"author": "a", "objectID": "1", "created_at_i": 1e30}])  # OverflowError
@example(name="hackernews.item", items=[{"by": "a", "id": 1, "time": -1e20}])
def test_source_item_parsers_skip_garbage(name: str, items: list[Any]) -> None:
    TALLY.add("hostile_input", payload_items_tried=len(items))
    posts = parse_each(name, items, PARSERS[name])
    assert len(posts) <= len(items)


# sources end to end over HTTP ----------------------------------------------------------------------
body = st.one_of(
    json_value.map(json.dumps),
    st.lists(shaped_item, max_size=4).map(lambda items: json.dumps({
        "hits": items, "posts": items, "statuses": items, "items": items, "feed": items, "threads": items,
        "data": {"children": [{"kind": "t3", "data": i} for i in items], "after": None}, "nbPages": 2})),
    st.lists(shaped_item, max_size=4).map(json.dumps),
    st.text(max_size=300),
    short_nasty,
    st.sampled_from(["<rss><channel><item><title>lockbit</title></item></channel></rss>", "<html><div class=",
                     '<div class="tgme_widget_message" data-post="c/1"><div class="tgme_widget_message_text">x'
                     "</div></div>", "{", "[", '{"hits": [', "\x00\x01",
                     "<rss><channel><item><guid>a&#55296;</guid><title>lockbit &#55296;</title></item></channel></rss>",
                     '{"statuses": [{"id": "1", "content": "\\ud800"}]}', "[" * 5000]),
)
# a failed fetch, an unsupported call, a missing key; and a page that is not a public channel preview
ALLOWED_SOURCE_ERRORS = (FetchError, NotSupported, NeedsKey, BreakerOpen, NoPublicPreview)
HANDLES = {"mastodon": "@someone@mastodon.example", "bluesky": "someone.bsky.social", "telegram": "somechannel",
           "fourchan": "g", "github": "someone", "reddit": "u/someone", "lemmy": "!community@lemmy.example",
           "rss": "https://feeds.example/rss.xml"}  # well-formed handles: the payload is what is hostile here


async def public_resolver(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


class NoPacing(HostLimiter):
    """No waiting between requests: every answer here is local and instant."""

    async def acquire(self, key: str, rate_per_s: float | None = None) -> None:
        return None


@pytest.mark.parametrize("section", list(SOURCE_CLASSES))
def test_sources_turn_garbage_answers_into_fetch_errors_or_pages(section: str) -> None:
    answers: list[tuple[int, str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        status, text = answers[-1]
        # surrogatepass: a lone surrogate goes out as the invalid UTF-8 bytes a hostile upstream can send
        return httpx.Response(status, content=text.encode("utf-8", "surrogatepass"),
                              headers={"Content-Type": "application/json"})

    async def no_sleep(_s: float) -> None:
        return None

    with asyncio.Runner() as runner:
        client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
        fetcher = PoliteFetcher(client, retries=0, sleep=no_sleep)
        fetcher.limiter = NoPacing()
        keys = {"client_id": "id", "client_secret": "secret"}  # reddit is polled with an app key
        services = SimpleNamespace(settings=Settings(sources={"reddit": keys}), fetcher=fetcher, shared=Shared())
        source = next(s for s in available_sources(services).values()  # type: ignore[arg-type]
                      if type(s).__module__.endswith(SOURCE_CLASSES[section].partition(":")[0].rpartition(".")[2]))
        if not source.configured():
            pytest.skip(f"{section} needs a key")
        if isinstance(source, RssSource):  # feed hosts "resolve" to a public address; the answer is still ours
            source.guard = SsrfGuard(public_resolver)
        cursors: dict[str, str | None] = {}

        @examples(40, 1_000)
        @given(what=st.sampled_from(["search", "account_feed"]),
               status=st.sampled_from([200, 200, 200, 200, 201, 304, 404, 410, 500]), text=body,
               own_cursor=st.booleans())
        def check(what: str, status: int, text: str, own_cursor: bool) -> None:
            TALLY.add("hostile_input", fetched_payloads_tried=1)
            answers.append((status, text))
            fetcher.breakers.clear()
            cursor = cursors.get(what) if own_cursor else None  # a cursor the source itself handed out
            handle = HANDLES.get(section, "someone")
            call = source.search(["lockbit"], cursor) if what == "search" else source.account_feed(handle, cursor)
            try:
                page = runner.run(call)
            except ALLOWED_SOURCE_ERRORS:
                return
            assert isinstance(page, Page)
            cursors[what] = page.cursor

        try:
            check()
        finally:
            runner.run(client.aclose())


# imports --------------------------------------------------------------------------------------------
def _garble(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    out = bytearray(data)
    for position, cut, insert in edits:
        at = position % (len(out) + 1)
        out[at : at + cut] = insert
    return bytes(out)


import_bytes = st.one_of(
    st.builds(_garble, st.sampled_from([p.read_bytes() for p in IMPORT_FIXTURES]),
              st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 64),
                                 st.one_of(st.binary(max_size=16), st.sampled_from(
                                     [b"\x00", b'"', b",", b"\n", b"{", b"}", b"\xff\xfe", b'\\u0000', b"\r\n",
                                      "\u202e".encode(), b'"text": null', b'"date": "x"', b"\\ud800",
                                      b'"\\udc00"', b"[" * 3000, b'"x": ' + b"[" * 40 + b"]" * 40 + b","])))
                       , max_size=6)),
    st.binary(max_size=600),
    st.lists(json_value, max_size=5).map(lambda rows: "\n".join(map(json.dumps, rows)).encode()),
)
import_name = st.sampled_from(["posts.jsonl", "posts.csv", "result.json", "dump.ndjson", "x.tsv", "noext", ""])


def test_garbled_imports_give_a_report_never_an_exception(tmp_path: Path) -> None:
    with asyncio.Runner() as runner:
        bot = runner.run(start_hostile_bot(tmp_path))

        @examples(150, 4_000)
        @given(data=import_bytes, name=import_name, fmt=st.sampled_from([None, "jsonl", "csv", "telegram"]))
        def check(data: bytes, name: str, fmt: str | None) -> None:
            TALLY.add("hostile_input", import_files_tried=1)
            try:
                report = runner.run(import_file(bot.services, data, fmt, name=name or None))
            except ImportFailed:
                pass
            else:
                assert isinstance(report, ImportReport) and report.rows >= report.imported

            async def fetch() -> bytes:
                return data

            attached = IncomingFile(name or "upload", len(data), fetch)
            replies = runner.run(bot.run("/import" + (f" --format {fmt}" if fmt else ""), files=[attached]))
            TALLY.add("hostile_input", unhandled=len(unhandled(replies)))
            assert replies and unhandled(replies) == [], render_text(replies[-1])

        try:
            check()
        finally:
            runner.run(bot.stop())


# commands -------------------------------------------------------------------------------------------
def test_random_command_lines_never_fail_unexpectedly(tmp_path: Path) -> None:
    with asyncio.Runner() as runner:
        bot = runner.run(start_hostile_bot(tmp_path))

        @examples(250, 6_000)
        @given(line=command_line, role=st.sampled_from(ROLES), allowed=st.booleans())
        def check(line: str, role: Role | None, allowed: bool) -> None:
            TALLY.add("hostile_input", command_lines_tried=1)
            replies = runner.run(bot.run(line, role=role, allowed=allowed))
            TALLY.add("hostile_input", unhandled=len(unhandled(replies)))
            assert unhandled(replies) == [], (line, [render_text(r)[:300] for r in replies])
            for reply in replies:
                check_renders(reply)

        try:
            check()
        finally:
            runner.run(bot.stop())


TEMPLATES = ("/{s}", "/help {s}", "/watch add {s}", "/watch test {s}", "/watch show {s}", "/case new {s}",
             "/case note {s}", "/iocs {s}", "/sentiment {s}", "/whoami {s}", "/role {s} analyst", "/lookup {s}",
             "/profile {s}", "/audit {s}")


async def test_nasty_strings_through_commands_and_renderers(tmp_path: Path) -> None:
    bot = await start_hostile_bot(tmp_path)
    tried = checks = 0
    try:
        await bot.run("/case new nasty-corpus")
        for text in NASTY:
            for template in TEMPLATES:
                line = template.format(s=text)
                replies = await bot.run(line)
                tried += 1
                TALLY.add("hostile_input", unhandled=len(unhandled(replies)))
                assert unhandled(replies) == [], (line[:200], [render_text(r)[:300] for r in replies])
                for reply in replies:
                    checks += check_renders(reply)
            post = make_post("n", text or "-", author=text[:64] or "x", url="https://example.com/" + text[:50],
                             title=text[:300] or None)
            for terms in ([], ["lockbit"]):  # matched terms come from parsed queries, never from the post
                checks += check_renders(render(alert_payload([(1, text[:300])], post_payload(post, 1, terms))))
                tried += 1
    finally:
        await bot.stop()
    TALLY.add("hostile_input", nasty_lines_tried=tried, render_checks=checks)


async def test_integer_arguments_beyond_64_bits_are_refused_cleanly(tmp_path: Path) -> None:
    bot = await start_hostile_bot(tmp_path)
    try:
        await bot.run("/case new overflow")
        for line in ("/case close 9223372036854775808", "/case reopen 9223372036854775808"):
            replies = await bot.run(line)
            assert unhandled(replies) == [], line
    finally:
        await bot.stop()


# exports and CSV files ------------------------------------------------------------------------------
_SPECIALS = ["\ud800", "\udfff", "\ufffe", "\uffff", "\x00", "\x0b", "\x1b[31m", "\x85", "\u202e", "\u2066", "=",
             "+", "-", "@", "\t", "\r", "]]>", "<", "&", '"', "'", "\n", "😀", "HYPERLINK(", "cmd|' /C calc'!A0"]
hostile_text = st.one_of(short_nasty, st.lists(st.one_of(st.text(max_size=12), st.sampled_from(_SPECIALS)),
                                                max_size=8).map("".join))


@examples(150, 3_000)
@given(texts=st.lists(hostile_text, min_size=1, max_size=6))
def test_every_export_stays_inert_and_well_formed_for_any_text(texts: list[str]) -> None:
    import xml.etree.ElementTree as ET
    from datetime import UTC, datetime

    from bot.csvfile import csv_bytes
    from handlers.cases import export_csv, export_gexf, export_json, export_md
    from handlers.cases.bundle import CaseBundle, inert_copy
    from storage.models import Case, CaseEntity, CaseEvent, CaseLink, CaseNote

    TALLY.add("hostile_input", export_texts_tried=len(texts))
    at = datetime(2026, 1, 1, tzinfo=UTC)
    entities = [CaseEntity(id=i + 1, case_id=1, kind="username", key=t, value=t, attrs={"text": t, t: t},
                           tags=[t], sources=[t], added_by=t, added_at=at) for i, t in enumerate(texts)]
    links = [CaseLink(id=1, case_id=1, src_id=1, dst_id=len(texts), kind="related-to", source=texts[0],
                      added_by="t", added_at=at)]
    bundle = inert_copy(CaseBundle(
        Case(id=1, chat_platform="telegram", chat_id=1, title=texts[0], created_by=texts[-1], created_at=at,
             updated_at=at), entities, links, [CaseNote(id=1, case_id=1, text=t, by=t, at=at) for t in texts],
        [CaseEvent(id=1, case_id=1, at=at, by=texts[0], action="note", detail=texts[-1])], [(texts[0], texts[-1])],
        at))
    ET.fromstring(export_gexf.render(bundle))  # well-formed XML whatever the text
    outputs = [export_md.render(bundle).decode(), export_json.render(bundle).decode(),
               csv_bytes(["h"], [[t] for t in texts]).decode("utf-8-sig"),
               *(data.decode("utf-8-sig") for data in export_csv.tables(bundle).values())]
    for out in outputs:
        assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]", out)
    cells = [c for out in outputs[2:] for row in csv.reader(io.StringIO(out)) for c in row]
    number = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?%?")  # plain numbers stay numbers
    assert not [c for c in cells if c and c[0] in "=+-@\t\r" and not number.fullmatch(c)]
