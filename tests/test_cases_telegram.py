"""Cases over the Telegram fake: an alert's "Add to case" button, notes, an HTML export and the graph picture."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from handlers.cases.commands import commands as case_commands
from handlers.monitor.alert import alert_payload, post_payload, render
from tests.fakes.telegram_bot import Telegram, telegram_bot
from tests.test_cases import AssetScanner, alert_post
from tests.test_telegram_e2e import ask

OWNER = 1


@pytest.fixture
async def tg(tmp_path: Path) -> AsyncIterator[Telegram]:
    async with telegram_bot(tmp_path, [case_commands], OWNER) as running:
        yield running


async def test_alert_button_adds_the_post_and_the_report_is_sent(tg: Telegram) -> None:
    [opened] = await ask(tg, "/case new Kit <tracking>")
    assert "Case 1 opened: Kit <tracking>" in opened

    post = alert_post()

    def insert(session) -> int:  # type: ignore[no-untyped-def]
        row = post.to_row()
        session.add(row)
        session.flush()
        return row.id

    post_id = await tg.bot.services.db.run(insert)
    await tg.surface.deliver(OWNER, render(alert_payload([(4, "phishing")], post_payload(post, post_id, ["phishing"]))))
    alert = tg.fake.sent(OWNER)[-1]
    buttons = {b["text"]: b["callback_data"] for row in alert.params["reply_markup"]["inline_keyboard"] for b in row}
    before = len(tg.fake.sent(OWNER))
    tg.fake.press(buttons["Add to case"], chat_id=OWNER, user_id=OWNER, message_id=alert.result["message_id"])
    [*_, added] = await tg.fake.wait_for("sendMessage", before + 1, chat_id=OWNER)
    assert "Added to case 1" in tg.fake.visible(added) and "post mastodon:109" in tg.fake.visible(added)

    [noted] = await ask(tg, "/case note Seen <b>twice</b> today")
    assert "Note 1 added to case 1" in noted

    tg.fake.send_command("/case export html", chat_id=OWNER, user_id=OWNER)
    [document] = await tg.fake.wait_for("sendDocument", chat_id=OWNER)
    name, data = document.files["document"]
    assert name == "case-1-kit-tracking.html"
    scanner = AssetScanner()
    scanner.feed(data.decode())
    assert scanner.loads and all(src.startswith("data:") for src in scanner.loads)
    assert "Seen &lt;b&gt;twice&lt;/b&gt; today" in data.decode()

    tg.fake.send_command("/case graph", chat_id=OWNER, user_id=OWNER)
    [photo] = await tg.fake.wait_for("sendPhoto", chat_id=OWNER)
    assert photo.files["photo"][1].startswith(b"\x89PNG")
