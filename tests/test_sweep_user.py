"""/user through the bot, and `socmint user` / `socmint sites` on the command line, against the farm."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

import pytest

from bot.command import Role
from bot.render.text import render_text
from handlers.lookup import user
from handlers.lookup.sweep.cli import sites_cli, user_cli
from handlers.lookup.user import ProgressThrottle, progress_text
from tests.harness import BotHarness, RecordingSink
from tests.sweep_farm import running_farm


def sweep_settings(sites: Path) -> dict[str, object]:
    return {"sweep": {"sites_file": str(sites), "site_timeout_s": 0.5, "deadline_s": 10}}


async def test_user_command_reports_found_by_category_and_unknowns_apart(tmp_path: Path) -> None:
    async with running_farm(slow_s=2) as farm:
        sites = farm.wmn_list(tmp_path / "sites.json")
        bot = BotHarness(tmp_path, sets=[user.commands], lookups=sweep_settings(sites))
        await bot.start()
        try:
            sink = RecordingSink()
            replies = await bot.run("/user @alice", role=Role.ANALYST, sink=sink)
        finally:
            await bot.stop()
    final = replies[-1]
    text = render_text(final)
    assert "found on 5 of 9 sites" in text and "unknown 4" in text
    assert "coding: message <" in text and "gaming: redirect <" in text
    assert "timed out" in text and "rate limited" in text and "Cloudflare" in text
    links = [s for p in final.blocks for s in getattr(p, "spans", ()) if s.url]
    assert {s.text for s in links} == {"status", "message", "redirect", "flaky", "post"}
    files = {a.filename: a for a in final.attachments}
    rows = list(csv.DictReader(io.StringIO(files["user-alice.csv"].data.decode())))
    assert len(rows) == 9 and {r["status"] for r in rows} == {"found", "unknown"}
    data = json.loads(files["user-alice.json"].data)
    assert {d["site"]: d["status"] for d in data}["limited"] == "unknown"
    assert sink.progress_updates and "0/9" in render_text(sink.progress_updates[0])


async def test_user_command_rejects_bad_names_and_empty_selections(tmp_path: Path) -> None:
    async with running_farm() as farm:
        sites = farm.wmn_list(tmp_path / "sites.json")
        bot = BotHarness(tmp_path, sets=[user.commands], lookups=sweep_settings(sites))
        await bot.start()
        try:
            bad = await bot.text("/user a/b", role=Role.ANALYST)
            empty = await bot.text("/user alice --category knitting", role=Role.ANALYST)
            viewer = await bot.text("/user alice", role=Role.VIEWER)
        finally:
            await bot.stop()
        assert not farm.paths
    assert "letters, digits" in bad
    assert "No site matches" in empty and "coding" in empty
    assert "analyst" in viewer.lower()


def test_command_is_expensive() -> None:
    (command,) = [c for c in user.commands.commands if c.name == "user"]
    assert command.expensive and command.role is Role.ANALYST


def test_progress_text_and_throttle() -> None:
    assert progress_text("bob", 5, 10, 2) == "🔎 bob ■■■■■□□□□□ 5/10 · 2 found"
    now = [0.0]
    throttle = ProgressThrottle(1.0, clock=lambda: now[0])
    assert throttle.ready() and not throttle.ready()
    now[0] = 0.9
    assert not throttle.ready()
    now[0] = 1.0
    assert throttle.ready()


async def _cli(fn, argv: list[str]) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    code = await asyncio.to_thread(fn, argv, out)
    return code, out.getvalue()


async def test_cli_json_has_one_object_per_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCMINT_DATA_DIR", str(tmp_path / "data"))
    async with running_farm(slow_s=2) as farm:
        sites = farm.wmn_list(tmp_path / "sites.json")
        code, out = await _cli(user_cli, ["alice", "--sites", str(sites), "--format", "json", "--timeout", "0.5"])
    assert code == 0
    data = json.loads(out)
    assert len(data) == 9
    assert all({"site", "url", "status", "http_status", "elapsed_ms", "reason"} <= d.keys() for d in data)
    by_site = {d["site"]: d for d in data}
    assert by_site["redirect"]["status"] == "found" and by_site["redirect"]["http_status"] == 200
    assert by_site["slow"]["status"] == "unknown" and by_site["slow"]["http_status"] is None


async def test_cli_table_and_bad_input(tmp_path: Path) -> None:
    async with running_farm() as farm:
        sites = farm.wmn_list(tmp_path / "sites.json", ["status", "message"])
        code, out = await _cli(user_cli, ["bob", "--sites", str(sites)])
    assert code == 0 and "not_found" in out and "0 found, 2 not found, 0 unknown of 2 sites" in out
    assert (await _cli(user_cli, ["a/b", "--sites", str(sites)]))[0] == 2


async def test_sites_check_reports_rules_that_no_longer_hold(tmp_path: Path) -> None:
    async with running_farm(users={"alice"}) as farm:
        doc = json.loads(farm.wmn_list(tmp_path / "sites.json", ["status", "message", "odd"]).read_text())
        doc["sites"][1]["known"] = ["carol"]  # known account that no longer exists
        path = tmp_path / "check.json"
        path.write_text(json.dumps(doc))
        code, out = await _cli(sites_cli, ["check", "--sites", str(path), "--timeout", "1"])
    assert code == 1
    assert "BROKEN     message: known account came back not_found" in out
    assert "UNCHECKED  odd" in out and "BROKEN     status" not in out


async def test_sites_update_caches_the_list_and_it_becomes_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiohttp import web

    wmn = json.loads((Path(__file__).parent / "fixtures" / "sweep" / "wmn_small.json").read_text())

    async def serve(request: web.Request) -> web.Response:
        return web.json_response(wmn)

    app = web.Application()
    app.router.add_get("/wmn-data.json", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    monkeypatch.setenv("SOCMINT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SOCMINT_LOOKUPS__SWEEP__WMN_URL", f"http://127.0.0.1:{port}/wmn-data.json")
    try:
        code, out = await _cli(sites_cli, ["update"])
    finally:
        await runner.cleanup()
    assert code == 0 and "5 sites cached" in out and "CC BY-SA 4.0" in out
    from config.settings import load_settings
    from handlers.lookup.sweep.sitelist import default_sites

    chosen = default_sites(load_settings())
    assert chosen.origin.startswith("WhatsMyName") and chosen.sites[0].name == "CodeHub"
