"""The manual checklist (buttons, notes into the case), /investigate status and cancel, and bad team playbooks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.command import ChatKind, ChatRef, Role, UserRef
from bot.render.text import render_text
from config.investigate import InvestigateSettings
from handlers.investigate import commands as inv
from storage import cases as case_store
from storage import investigations as store
from storage.models import Investigation
from tests.harness import RecordingSink
from tests.investigate_fakes import FIXTURES, world

CHAT = ChatRef("telegram", -5001, ChatKind.GROUP)


async def press_reply(w, reply, label_start: str, user_id: int = 1001):  # type: ignore[no-untyped-def]
    """Press the first button of `reply` whose label starts so, as the user; the answer."""
    tokens = await w.bot.app.router.tokens_for(reply, CHAT)
    token = next(t for b, t in tokens.items() if b.label.startswith(label_start))
    sink = RecordingSink()
    await w.bot.app.router.press(CHAT, UserRef("telegram", user_id), token, sink)
    return sink.replies[-1]


async def press(w, reply, label_start: str, user_id: int = 1001) -> str:  # type: ignore[no-untyped-def]
    return render_text(await press_reply(w, reply, label_start, user_id))


async def test_checklist_buttons_tick_and_skip(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        replies = await w.bot.run("/investigate CVE-2021-44228")
        final = replies[-1]
        text = render_text(final)
        assert "Checklist #1: 0 done, 0 skipped, 3 left" in text
        links = {s.text: s.url for p in final.blocks for s in getattr(p, "spans", ()) if s.url}
        assert links["Public exploits and proofs of concept"] == (
            "https://github.com/search?q=CVE-2021-44228&type=repositories")
        await w.bot.prepare(platform="telegram", user_id=9, chat_id=-5001, role=Role.VIEWER, allowed=True)
        assert "needs the analyst role" in await press(w, final, "✓ Public exploits", user_id=9)
        ticked_reply = await press_reply(w, final, "✓ Public exploits")
        ticked = render_text(ticked_reply)
        assert "✅ Public exploits and proofs of concept: done." in ticked and "1 done, 0 skipped, 2 left" in ticked
        # the new checklist offers buttons only for what is left: its first skip is the advisory step
        skipped = await press(w, ticked_reply, "skip")
        assert "⏭ Vendor advisory and patch: skipped." in skipped and "1 done, 1 skipped, 1 left" in skipped
        status = await w.bot.text("/investigate status", role=Role.VIEWER, user_id=9)
        items = await w.bot.services.db.run(lambda s: store.checklist(s, 1))
    assert [(i.step, i.state, i.by) for i in items] == [
        ("exploits", "done", "telegram:1001"), ("advisory", "skipped", "telegram:1001"), ("chatter", "pending", None)]
    assert "Investigation #1" in status and "1 done, 1 skipped, 1 left" in status


async def test_typed_tick_and_notes_go_into_the_case(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        no_case = await w.bot.text("/investigate note advisory vendor says fixed in 2.15")
        assert "No investigation in this chat yet" in no_case
        await w.bot.run("/investigate CVE-2021-44228")
        note = await w.bot.text("/investigate note advisory vendor says fixed in 2.15")
        assert "only on the checklist" in note
        case_id = await w.open_case()
        note = await w.bot.text("/investigate note advisory patched on our side 2026-11-20")
        assert f"added to case #{case_id}" in note
        assert "✅ Vendor advisory and patch: done." in await w.bot.text("/investigate tick 1 advisory")
        bad = await w.bot.text("/investigate tick nosuch")
        notes = await w.bot.services.db.run(lambda s: case_store.notes(s, case_id))
        item = await w.bot.services.db.run(lambda s: store.item(s, 1, "advisory"))
        status = await w.bot.text("/investigate status")
    assert "has no manual step 'nosuch'" in bad and "exploits, advisory, chatter" in bad
    assert len(notes) == 1 and "step Vendor advisory and patch: patched on our side" in notes[0].text
    assert item.state == "done" and item.note == "vendor says fixed in 2.15\npatched on our side 2026-11-20"
    assert "📝 vendor says fixed in 2.15" in status


async def test_one_at_a_time_and_cancel(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        w.http.faults["rdap"] = "slow"  # every RDAP request takes a second
        sink = RecordingSink()
        first = asyncio.create_task(w.bot.run("/investigate example.com", sink=sink))
        for _ in range(500):
            if inv.running(w.bot.services) and sink.progress_updates:
                break
            await asyncio.sleep(0.01)
        busy = await w.bot.text("/investigate 1.1.1.1")
        status = await w.bot.text("/investigate status")
        stop = await w.bot.text("/investigate cancel")
        replies = await asyncio.wait_for(first, 10)
        investigation = await w.investigation()
        again = await w.bot.text("/investigate cancel")
    assert "Investigation #1 is still running in this chat" in busy
    assert "is running:" in status
    assert "Stopping investigation #1" in stop
    assert "cancelled — partial results" in render_text(replies[-1])
    assert "🔎 example.com" in render_text(sink.progress_updates[0])
    assert investigation.status == "cancelled" and investigation.finished_at is not None
    assert "No investigation is running" in again


async def test_broken_team_playbook_is_reported_in_chat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inv, "settings_for", lambda _s: InvestigateSettings(playbooks_dir=FIXTURES / "broken"))
    async with world(tmp_path) as w:
        listing = await w.bot.text("/investigate playbooks", role=Role.VIEWER)
        run = await w.bot.text("/investigate 10.0.0.1")
    assert "Playbook left out: email.toml, line 4: not valid TOML" in listing
    assert "ip.toml, line 10 (steps[1].action): unknown action 'ip.whois'" in listing
    assert "Investigation #1" in run and "Playbook left out: ip.toml, line 10" in run  # the shipped ip playbook ran


async def test_not_an_identifier_and_unknown_playbook(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        hashed = await w.bot.text("/investigate d41d8cd98f00b204e9800998ecf8427e")
        unknown = await w.bot.text("/investigate example.com --playbook nope")
        wrong = await w.bot.text("/investigate example.com --playbook ip")
    assert "is not a MD5 hash" in hashed
    assert "There is no playbook 'nope'" in unknown
    assert "Playbook ip is for a ip, and this is a domain" in wrong


async def test_runs_left_by_a_restart_are_marked_interrupted(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        services = w.bot.services
        await services.db.run(lambda s: store.create(
            s, platform="telegram", chat_id=-5001, kind="domain", subject="example.com", playbook="domain",
            by="telegram:1", requests_max=10, now=services.now(), checklist=[]))
        await inv.mark_interrupted(services)
        row = await services.db.run(lambda s: s.get(Investigation, 1))
        text = await w.bot.text("/investigate status")
    assert row.status == "interrupted"
    assert "interrupted by a restart" in text and "This playbook has no manual steps." in text
