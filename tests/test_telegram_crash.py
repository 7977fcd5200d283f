"""A killed bot never replays a chat command: the real `socmint run`, SIGKILL, restart, Telegram redelivers.

The fake Bot API keeps every update until a later getUpdates confirms it, and is made to receive the
confirming getUpdates late, so the kill lands while Telegram still holds the update: the restarted bot
gets it again and must not run it again. A press killed before it ran is run once after the restart.
"""

from __future__ import annotations

import signal
from pathlib import Path

from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Engine

from storage.models import AuditEntry, InboxUpdate, Watch
from tests.fakes.socmint_run import Child, child_env, until
from tests.fakes.telegram_api import Call, FakeBotAPI

OWNER = 1
CONFIRM_LAG_S = 3.0  # longer than the command takes: the kill comes before Telegram hears the confirmation


def database(tmp_path: Path) -> Engine:
    return create_engine(f"sqlite:///{tmp_path / 'data' / 'socmint.db'}")


def audited(engine: Engine, command: str) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(AuditEntry.outcome).where(AuditEntry.command == command)).scalars())


def replies(fake: FakeBotAPI, text: str) -> int:
    return sum(text in t for t in fake.texts(OWNER))


async def started(child: Child, fake: FakeBotAPI) -> None:
    starts = len(fake.calls_to("setMyCommands"))
    await child.start()
    await until(lambda: len(fake.calls_to("setMyCommands")) > starts, "the Telegram surface", child)


async def killed_when(child: Child, fake: FakeBotAPI, method: str, text: str = "") -> None:
    """Arm a SIGKILL for the moment the fake accepts a `method` call showing `text`; wait for it."""

    def hook(call: Call) -> None:
        if call.method == method and text in fake.visible(call):
            fake.on_answer = None
            child.kill()

    fake.on_answer = hook
    assert await child.wait() == -signal.SIGKILL, child.tail()


async def press(fake: FakeBotAPI, label: str) -> int:
    """Press the button `label` of the last message that offered it."""
    for call in reversed(fake.sent(OWNER)):
        for row in (call.params.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if button["text"] == label:
                    return fake.press(button["callback_data"], chat_id=OWNER, user_id=OWNER,
                                      message_id=call.result["message_id"])
    raise AssertionError(f"no {label!r} button was sent")


async def test_a_command_killed_right_after_its_reply_is_not_run_again(tmp_path: Path) -> None:
    async with FakeBotAPI() as fake:
        child = Child(child_env(tmp_path, fake, OWNER), tmp_path, tmp_path / "socmint.log")
        try:
            await started(child, fake)
            fake.lag_confirmations(CONFIRM_LAG_S)
            update_id = fake.send_command("/watch add zorblax OR quintar", chat_id=OWNER, user_id=OWNER)
            await killed_when(child, fake, "sendMessage", "Watch 1")
            assert update_id in fake.pending  # Telegram still holds it: the restart gets it again

            fake.lag_confirmations(0)
            await started(child, fake)
            await until(lambda: update_id not in fake.pending, "the update to be confirmed", child)
            fake.send_command("/watch list", chat_id=OWNER, user_id=OWNER)
            await until(lambda: replies(fake, "1 watches") == 1, "the watch list", child)
            assert await child.stop() == 0, child.tail()
        finally:
            child.kill()
    assert fake.deliveries(update_id) == 2
    assert replies(fake, "Watch 1 added") == 1
    engine = database(tmp_path)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Watch)).scalar_one() == 1
        handled = conn.execute(select(InboxUpdate.handled_at).where(InboxUpdate.update_id == update_id)).scalar()
    assert audited(engine, "watch add") == ["ok"] and handled is not None


async def test_a_button_press_killed_right_after_its_reply_is_not_run_again(tmp_path: Path) -> None:
    async with FakeBotAPI() as fake:
        child = Child(child_env(tmp_path, fake, OWNER), tmp_path, tmp_path / "socmint.log")
        try:
            await started(child, fake)
            fake.send_command("/watch add zorblax", chat_id=OWNER, user_id=OWNER)
            await until(lambda: replies(fake, "Watch 1 added") == 1, "the watch", child)
            fake.lag_confirmations(CONFIRM_LAG_S)
            update_id = await press(fake, "Pause")
            await killed_when(child, fake, "sendMessage", "paused")
            assert update_id in fake.pending

            fake.lag_confirmations(0)
            await started(child, fake)
            await until(lambda: update_id not in fake.pending, "the press to be confirmed", child)
            fake.send_command("/watch list", chat_id=OWNER, user_id=OWNER)
            await until(lambda: replies(fake, "1 watches") == 1, "the watch list", child)
            assert await child.stop() == 0, child.tail()
        finally:
            child.kill()
    assert fake.deliveries(update_id) == 2
    assert replies(fake, "Watch 1 paused") == 1
    assert len(fake.calls_to("answerCallbackQuery")) == 1
    assert audited(database(tmp_path), "watch pause") == ["ok"]


async def test_a_button_press_killed_before_it_ran_runs_once_after_the_restart(tmp_path: Path) -> None:
    async with FakeBotAPI() as fake:
        child = Child(child_env(tmp_path, fake, OWNER), tmp_path, tmp_path / "socmint.log")
        try:
            await started(child, fake)
            fake.send_command("/watch add zorblax", chat_id=OWNER, user_id=OWNER)
            await until(lambda: replies(fake, "Watch 1 added") == 1, "the watch", child)
            update_id = await press(fake, "Pause")
            await killed_when(child, fake, "answerCallbackQuery")  # received and written down, not yet run
            assert audited(database(tmp_path), "watch pause") == []

            await started(child, fake)
            await until(lambda: replies(fake, "Watch 1 paused") == 1, "the press to run", child)
            fake.send_command("/watch list", chat_id=OWNER, user_id=OWNER)
            await until(lambda: replies(fake, "1 watches") == 1, "the watch list", child)
            assert await child.stop() == 0, child.tail()
        finally:
            child.kill()
    assert replies(fake, "Watch 1 paused") == 1
    assert audited(database(tmp_path), "watch pause") == ["ok"]
    assert "again that the last run received but did not handle" in (tmp_path / "socmint.log").read_text()
    assert update_id not in fake.pending
