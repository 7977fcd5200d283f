"""Security probes: every command tried by someone who may not run it, with hostile arguments, and forged buttons.

Each probe must be refused (audited as refused, nothing run); the refusals are counted for the README.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from bot.command import ChatKind, ChatRef, UserRef
from bot.render.text import render_text
from bot.reply import Button, Reply
from bot.router import Registry
from storage.models import AuditEntry, Role, Watch
from tests.harness import RecordingSink
from tests.reliability.hostile_bot import all_command_sets, start_hostile_bot
from tests.reliability.nasty import NASTY
from tests.reliability.tally import TALLY

STRANGER, VIEWER, ANALYST = 6661, 6662, 6663
COMMANDS = [c for group in Registry(all_command_sets()).groups().values() for c in group]


async def _outcomes(bot, user_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    key = f"telegram:{user_id}"
    return await bot.services.db.run(lambda s: list(s.execute(
        select(AuditEntry.outcome).where(AuditEntry.user == key).order_by(AuditEntry.id)).scalars()))


async def test_commands_are_refused_to_whoever_may_not_run_them(tmp_path: Path) -> None:
    bot = await start_hostile_bot(tmp_path)
    refused = unreadable = 0
    try:
        probes = [(STRANGER, None, False, c) for c in COMMANDS if c.needs_allowed_chat]
        probes += [(VIEWER, Role.VIEWER, True, c) for c in COMMANDS if c.role > Role.VIEWER]
        probes += [(ANALYST, Role.ANALYST, True, c) for c in COMMANDS if c.role > Role.ANALYST]
        for n, (user_id, role, allowed, command) in enumerate(probes):
            args = NASTY[n % len(NASTY)][:300]
            before = len(await _outcomes(bot, user_id))
            replies = await bot.run(f"/{command.name} {args}", role=role, allowed=allowed, user_id=user_id,
                                    chat_id=-user_id)
            outcomes = (await _outcomes(bot, user_id))[before:]
            assert replies, command.name
            if outcomes == ["invalid"]:  # the line did not even tokenize (unbalanced quotes): audited, not run
                expected = "Could not read that command" if allowed else "not allowed to use the bot"
                assert expected in render_text(replies[-1])  # a stranger learns nothing more
                unreadable += 1
                continue
            assert outcomes == ["refused"], (command.name, role, outcomes)
            refused += 1
        watches = await bot.services.db.run(lambda s: s.execute(select(func.count()).select_from(Watch)).scalar_one())
        assert watches == 0  # no refused /watch add left anything behind
    finally:
        await bot.stop()
    TALLY.add("security_probes", refused=refused, command_probes=refused, unreadable_lines_rejected=unreadable)


async def test_buttons_only_work_in_their_own_chat(tmp_path: Path) -> None:
    bot = await start_hostile_bot(tmp_path)
    refused = 0
    try:
        await bot.run("/whoami", chat_id=-1)  # the chat exists and is allowed
        home = ChatRef("telegram", -1, ChatKind.GROUP, "home")
        tokens = await bot.app.router.tokens_for(Reply.text("x").buttons([Button("Add", "/watch add lockbit")]), home)
        [token] = tokens.values()
        await bot.prepare(platform="telegram", user_id=STRANGER, chat_id=-2, role=Role.OWNER, allowed=True)
        forged = [token + "x", "", "A" * 64, "../../etc", "' OR 1=1 --", *NASTY[:5]]
        for chat_id, data in [(-2, token), *((-1, f) for f in forged)]:
            sink = RecordingSink()
            await bot.app.router.press(ChatRef("telegram", chat_id, ChatKind.GROUP, "other"),
                                       UserRef("telegram", STRANGER, "stranger"), data, sink)
            assert "expired" in render_text(sink.replies[-1])
            refused += 1
        watches = await bot.services.db.run(lambda s: s.execute(select(func.count()).select_from(Watch)).scalar_one())
        assert watches == 0
    finally:
        await bot.stop()
    TALLY.add("security_probes", refused=refused, button_probes=refused)
