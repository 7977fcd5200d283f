"""Identity and access: roles, /allow, /deny, /role, /audit, /whoami, fail closed."""

from __future__ import annotations

from bot.command import ChatKind, ChatRef, UserRef
from bot.render.text import render_text
from bot.router import Incoming
from storage import identity
from storage.models import Role
from tests.harness import BotHarness, RecordingSink


async def test_admin_allows_chat_then_members_are_viewers(bot):
    assert "not allowed" in await bot.text("/help", role=None, allowed=False, user_id=5, chat_id=-10)
    await bot.prepare(platform="telegram", user_id=1, chat_id=-10, role=Role.ADMIN, allowed=False)
    sink = RecordingSink()
    chat = ChatRef("telegram", -10, ChatKind.GROUP)
    await bot.app.router.handle(Incoming(chat, UserRef("telegram", 1), "/allow"), sink)
    assert "is allowed" in render_text(sink.replies[0])
    sink = RecordingSink()
    await bot.app.router.handle(Incoming(chat, UserRef("telegram", 5), "/whoami"), sink)
    text = render_text(sink.replies[0])
    assert "viewer" in text and "telegram:5" in text


async def test_viewer_cannot_allow(bot):
    text = await bot.text("/allow", role=Role.VIEWER, allowed=False, user_id=6, chat_id=-11)
    assert "needs the admin role" in text


async def test_whoami_in_unallowed_chat_shows_ids_to_give_admin(bot):
    text = await bot.text("/whoami", role=None, allowed=False, user_id=8, chat_id=-12)
    assert "telegram:8" in text and "telegram:-12" in text and "ask an admin" in text


async def test_role_changes_and_limits(bot):
    await bot.run("/whoami", role=Role.VIEWER, user_id=20)
    assert "analyst" in await bot.text("/role telegram:20 analyst", role=Role.ADMIN, user_id=21)
    role = await bot.services.db.run(lambda s: identity.get_user(s, "telegram", 20).role)
    assert role == Role.ANALYST
    assert "cannot grant owner" in await bot.text("/role telegram:20 owner", role=Role.ADMIN, user_id=21)
    await bot.run("/whoami", role=Role.OWNER, user_id=22)
    assert "cannot change the role of a owner" in await bot.text("/role telegram:22 viewer", role=Role.ADMIN,
                                                                 user_id=21)
    assert "must look like" in await bot.text("/role bob:x viewer", role=Role.ADMIN, user_id=21)


async def test_role_by_known_name(bot):
    await bot.run("/whoami", role=Role.VIEWER, user_id=30)  # seen as "user30"
    assert "analyst" in await bot.text("/role @user30 analyst", role=Role.ADMIN, user_id=31)


async def test_deny_closes_chat(bot):
    await bot.run("/deny", role=Role.ADMIN, user_id=40, chat_id=-40)
    sink = RecordingSink()
    await bot.app.router.handle(Incoming(ChatRef("telegram", -40, ChatKind.GROUP), UserRef("telegram", 41),
                                         "/help"), sink)
    assert "not allowed" in render_text(sink.replies[0])


async def test_admin_dm_needs_no_allow(bot):
    await bot.prepare(platform="telegram", user_id=50, chat_id=-999, role=Role.ADMIN, allowed=False)
    sink = RecordingSink()
    await bot.app.router.handle(Incoming(ChatRef("telegram", 50, ChatKind.PRIVATE), UserRef("telegram", 50),
                                         "/help"), sink)
    assert "Commands" in render_text(sink.replies[0])


async def test_configured_admins_become_owners(tmp_path):
    harness = BotHarness(tmp_path, admins=["telegram:777"])
    await harness.start()
    try:
        role = await harness.services.db.run(lambda s: identity.get_user(s, "telegram", 777).role)
        assert role == Role.OWNER
    finally:
        await harness.stop()


async def test_audit_lists_entries_for_admins(bot):
    await bot.run("/whoami", user_id=60)
    text = await bot.text("/audit 5 telegram:60", role=Role.ADMIN, user_id=60)
    assert "/whoami" in text
    assert "between 1 and 200" in await bot.text("/audit 0", role=Role.ADMIN)
    assert "needs the admin role" in await bot.text("/audit", role=Role.ANALYST, user_id=61)
