"""The whole command catalogue on a temporary database, with every network call answered locally at once."""

from __future__ import annotations

import re

import httpx

from bot.command import CommandSet
from bot.render import discord as discord_render
from bot.render import telegram as telegram_render
from bot.render.text import render_text
from bot.reply import Reply
from handlers.catalog import command_sets
from handlers.fetch import PoliteFetcher
from tests.fakes.telegram_api import CAPTION_LIMIT, TEXT_LIMIT, parse_html, utf16_len
from tests.harness import BotHarness

UNHANDLED = ("failed unexpectedly (ref", "Something went wrong (ref")
_DISCORD_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)
_BIDI_OVERRIDES = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def all_command_sets() -> list[CommandSet]:
    """The catalogue, plus /import while it is not registered there yet."""
    from handlers.imports import command as imports

    sets = command_sets()
    return sets if imports.commands in sets else [*sets, imports.commands]


async def no_sleep(_seconds: float) -> None:
    return None


async def start_hostile_bot(tmp_path) -> BotHarness:  # type: ignore[no-untyped-def]
    """A started bot whose HTTP answers 404 at once and whose DNS points at a closed local port."""
    bot = BotHarness(tmp_path, sets=all_command_sets(),
                     lookups={"dns_resolver": "127.0.0.1:9", "dns_timeout_s": 0.05})
    await bot.services.http.aclose()
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda request: httpx.Response(404, text="no")))
    bot.services.http = client
    bot.services.fetcher = PoliteFetcher(client, retries=0, sleep=no_sleep)
    await bot.start()
    return bot


def unhandled(replies: list[Reply]) -> list[str]:
    """The replies that report an unexpected error."""
    return [t for t in (render_text(r) for r in replies) if any(marker in t for marker in UNHANDLED)]


def check_renders(reply: Reply) -> int:
    """Draw a reply for every platform and check it is well-formed and inert; returns the checks made."""
    checks = 0
    tokens = {button: f"t{i}" for i, button in enumerate(b for row in reply.button_rows for b in row)}
    for out in telegram_render.render(reply, tokens):
        visible, _tags = parse_html(out.html)  # raises on anything Telegram would refuse to parse
        limit = TEXT_LIMIT if out.kind is telegram_render.Kind.TEXT else CAPTION_LIMIT
        assert utf16_len(visible) <= limit
        checks += 1
    for message in discord_render.render(reply, tokens):
        assert len(message.content) <= discord_render.MESSAGE_LIMIT
        outside_code = _DISCORD_CODE.sub("", message.content)  # Discord shows code literally, mentions included
        assert "@everyone" not in outside_code and "@here" not in outside_code
        checks += 1
    text = render_text(reply)
    assert not any(c in _BIDI_OVERRIDES or (ord(c) < 32 and c not in "\n\t") for c in text)
    return checks + 1
