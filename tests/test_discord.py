"""The Discord surface end to end: the real discord.py client against a fake Discord (REST + gateway)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import discord
import pytest

import bot.surfaces.discord as discord_surface
from bot.command import Arg, ArgKind, CommandSet, Context, Option
from bot.render.discord import escape, render, split_content
from bot.reply import Button, Reply
from bot.router import Registry
from bot.surfaces.discord import DiscordSurface, build_tree, command_line
from handlers import admin, basics
from handlers.catalog import command_sets
from storage.models import Role
from tests.fakes.discord_api import APP_ID, FakeDiscord, fake_discord, wait_connected
from tests.harness import BotHarness

HOSTILE = "@everyone @here <@&123456> <@42> **bold** __u__ [click](https://evil.example) `x` " + "y" * 3000

relay = CommandSet()


@relay.command("relay", "Relay a post's text", example="/relay hi", args=[Arg("text", "text", kind=ArgKind.TEXT)])
async def relay_cmd(ctx: Context, text: str) -> Reply:
    return Reply.text(text).buttons([Button("Again", "/relay again"), Button("Who", "/whoami")])


@relay.command("slowpoke", "Takes a while", example="/slowpoke")
async def slowpoke(ctx: Context) -> Reply:
    await ctx.progress("working… 50%")
    await asyncio.sleep(0.6)
    return Reply.text("done slowly")


@relay.command("pick thing", "Pick a thing", example="/pick thing 3 --fast",
              args=[Arg("n", "a number", kind=ArgKind.INT), Arg("mode", "a mode", choices=("a", "b"), required=False)],
              options=[Option("fast", "go fast", flag=True), Option("every", "how often", kind=ArgKind.DURATION)])
async def pick_thing(ctx: Context, n: int, mode: str | None, fast: bool, every: object) -> Reply:
    return Reply.text(f"n={n} mode={mode} fast={fast} every={every}")


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with fake_discord() as server:
        yield server


@pytest.fixture
async def running(tmp_path: Path, fake: FakeDiscord, monkeypatch) -> AsyncIterator[tuple[BotHarness, DiscordSurface]]:
    monkeypatch.setattr(discord_surface, "DEFER_AFTER_S", 0.2)
    harness = BotHarness(tmp_path, sets=[basics.commands, admin.commands, relay],
                         discord={"token": "fake.discord.token", "api_url": fake.api_url,
                                  "gateway_url": fake.gateway_url})
    await harness.start()
    surface = DiscordSurface(harness.services, harness.app.router)
    await harness.app.add_surface(surface)
    await wait_connected(fake, surface)
    yield harness, surface
    await harness.stop()


async def allow(harness: BotHarness, channel: int, user: int, role: Role = Role.ANALYST) -> None:
    await harness.prepare(platform="discord", user_id=user, chat_id=channel, role=role, allowed=True)


def test_every_registry_command_becomes_a_slash_command():
    registry = Registry(command_sets())
    tree = discord.app_commands.CommandTree(discord.Client(intents=discord.Intents.none()))

    async def run(*_: object) -> None: ...

    build_tree(tree, registry, run)
    published = {c.name: c for c in tree.get_commands()}
    for group, commands in registry.groups().items():
        assert group in published, group
        slash = published[group]
        for command in commands:
            if command.name == group and len(commands) > 1:
                continue  # Discord cannot have a bare group command beside subcommands (see /investigate start)
            target = slash if command.name == group else slash.get_command(command.name.split(" ", 1)[1])
            assert target is not None, command.name
            names = [p.name for p in target.parameters]
            assert names[: len(command.args)] == [a.name for a in command.args if a.required] + [
                a.name for a in command.args if not a.required], command.name
            assert set(names) == {a.name for a in command.args} | {o.name for o in command.options}


def test_slash_options_are_typed_with_choices():
    tree = discord.app_commands.CommandTree(discord.Client(intents=discord.Intents.none()))

    async def run(*_: object) -> None: ...

    build_tree(tree, Registry([relay]), run)
    pick = tree.get_command("pick").get_command("thing")
    params = {p.name: p for p in pick.parameters}
    assert params["n"].type is discord.AppCommandOptionType.integer and params["n"].required
    assert [c.value for c in params["mode"].choices] == ["a", "b"] and not params["mode"].required
    assert params["fast"].type is discord.AppCommandOptionType.boolean
    assert params["every"].type is discord.AppCommandOptionType.string


def test_command_line_rebuilt_from_options():
    cmd = Registry([relay]).get("pick thing")
    assert command_line(cmd, {"n": 3, "mode": None, "fast": True, "every": "5m"}) == "/pick thing 3 --fast --every 5m"
    rel = Registry([relay]).get("relay")
    assert command_line(rel, {"text": '"lock bit" OR x'}) == '/relay "lock bit" OR x'


def test_hostile_text_is_escaped_and_split():
    messages = render(Reply.text(HOSTILE), {})
    assert len(messages) >= 2 and all(len(m.content) <= 2000 for m in messages)
    joined = "".join(m.content for m in messages)
    assert "@everyone" not in joined and "@here" not in joined and "<@&123456>" not in joined
    assert "\\*\\*bold\\*\\*" in joined and "\\[click]" in joined  # inert: no bold, no masked link
    assert escape("a_b*c") == "a\\_b\\*c"


def test_split_keeps_code_fences_balanced():
    block = "```\n" + "\n".join(f"line {i} " + "z" * 50 for i in range(100)) + "\n```"
    messages = split_content(["intro", block])
    assert all(m.count("```") % 2 == 0 for m in messages) and all(len(m) <= 2000 for m in messages)


async def test_commands_published_on_login(running, fake: FakeDiscord):
    path = f"/applications/{APP_ID}/commands"
    published = {c["name"]: c for c in fake.commands[path]}
    assert {"help", "whoami", "role", "relay", "pick"} <= set(published)
    role_options = {o["name"]: o for o in published["role"]["options"]}
    assert [c["value"] for c in role_options["role"]["choices"]] == ["owner", "admin", "analyst", "viewer"]


async def test_prefix_command_replies_without_mentions(running, fake: FakeDiscord):
    harness, _ = running
    await allow(harness, 555, 77)
    await fake.dispatch("MESSAGE_CREATE", fake.message_create(555, 77, "!whoami", guild_id=999))
    call = await fake.wait_for(lambda c: c.path == "/channels/555/messages")
    assert "discord:77" in call.json["content"]
    assert call.json["allowed_mentions"] == {"parse": []}


async def test_stranger_channel_is_refused(running, fake: FakeDiscord):
    await fake.dispatch("MESSAGE_CREATE", fake.message_create(556, 78, "!help", guild_id=999))
    call = await fake.wait_for(lambda c: c.path == "/channels/556/messages")
    assert "not allowed" in call.json["content"]


async def test_hostile_relay_never_pings(running, fake: FakeDiscord):
    harness, _ = running
    await allow(harness, 557, 79)
    await fake.dispatch("MESSAGE_CREATE", fake.message_create(557, 79, "!relay " + HOSTILE[:1800], guild_id=999))
    call = await fake.wait_for(lambda c: c.path == "/channels/557/messages")
    assert call.json["allowed_mentions"] == {"parse": []}
    assert "@everyone" not in call.json["content"] and "<@&123456>" not in call.json["content"]
    buttons = call.json["components"][0]["components"]
    assert [b["label"] for b in buttons] == ["Again", "Who"]
    assert all(b["custom_id"].startswith("sm:") for b in buttons)


async def test_slash_command_and_ephemeral_refusal(running, fake: FakeDiscord):
    harness, _ = running
    await allow(harness, 558, 80, Role.ADMIN)
    data = {"id": "1", "name": "role", "type": 1,
            "options": [{"name": "user", "type": 3, "value": "discord:81"},
                        {"name": "role", "type": 3, "value": "analyst"}]}
    interaction = fake.interaction(558, 80, data, guild_id=999)
    await fake.dispatch("INTERACTION_CREATE", interaction)
    call = await fake.wait_for(lambda c: c.path.startswith(f"/interactions/{interaction['id']}/"))
    assert call.json["type"] == 4 and "changed from viewer to analyst" in call.json["data"]["content"]
    assert call.json["data"]["allowed_mentions"] == {"parse": []}
    # a stranger elsewhere: refused, only to them
    stranger = fake.interaction(559, 82, {"id": "2", "name": "status", "type": 1}, guild_id=999)
    await fake.dispatch("INTERACTION_CREATE", stranger)
    call = await fake.wait_for(lambda c: c.path.startswith(f"/interactions/{stranger['id']}/"))
    assert "not allowed" in call.json["data"]["content"] and call.json["data"]["flags"] & 64


async def test_slash_subcommand_with_typed_options(running, fake: FakeDiscord):
    harness, _ = running
    await allow(harness, 560, 83)
    data = {"id": "3", "name": "pick", "type": 1, "options": [
        {"name": "thing", "type": 1, "options": [{"name": "n", "type": 4, "value": 7},
                                                  {"name": "fast", "type": 5, "value": True}]}]}
    interaction = fake.interaction(560, 83, data, guild_id=999)
    await fake.dispatch("INTERACTION_CREATE", interaction)
    call = await fake.wait_for(lambda c: c.path.startswith(f"/interactions/{interaction['id']}/"))
    assert call.json["data"]["content"] == "n=7 mode=None fast=True every=None"


async def test_slow_command_is_deferred_then_edited(running, fake: FakeDiscord):
    harness, _ = running
    await allow(harness, 561, 84)
    interaction = fake.interaction(561, 84, {"id": "4", "name": "slowpoke", "type": 1}, guild_id=999)
    await fake.dispatch("INTERACTION_CREATE", interaction)
    first = await fake.wait_for(lambda c: c.path.startswith(f"/interactions/{interaction['id']}/"))
    assert "working" in first.json["data"]["content"]
    token = interaction["token"]
    final = await fake.wait_for(lambda c: c.path == f"/webhooks/{APP_ID}/{token}/messages/@original"
                                and "done slowly" in (c.json or {}).get("content", ""))
    assert final.method == "PATCH"


async def test_button_press_runs_command_for_presser(running, fake: FakeDiscord):
    harness, _ = running
    await allow(harness, 562, 85)
    await fake.dispatch("MESSAGE_CREATE", fake.message_create(562, 85, "!relay hello", guild_id=999))
    call = await fake.wait_for(lambda c: c.path == "/channels/562/messages")
    who = next(b for b in call.json["components"][0]["components"] if b["label"] == "Who")
    press = fake.interaction(562, 86, {"custom_id": who["custom_id"], "component_type": 2}, kind=3, guild_id=999)
    await harness.prepare(platform="discord", user_id=86, chat_id=562, role=Role.VIEWER, allowed=True)
    await fake.dispatch("INTERACTION_CREATE", press)
    answer = await fake.wait_for(lambda c: c.path.startswith(f"/interactions/{press['id']}/"))
    assert "discord:86" in answer.json["data"]["content"]  # ran as the presser, not the original author


async def test_deliver_survives_429_and_gateway_drop(running, fake: FakeDiscord):
    _, surface = running
    fake.fail_next.append(("/channels/600/messages", 429, {"message": "slow down", "retry_after": 0.2,
                                                             "global": False}))
    await surface.deliver(600, Reply.text("alert one"))
    posted = [c for c in fake.calls if c.path == "/channels/600/messages" and c.method == "POST"]
    assert len(posted) == 2 and posted[-1].json["content"] == "alert one"
    await fake.drop()
    for _ in range(200):
        if fake.resumes or fake.identifies > 1:
            break
        await asyncio.sleep(0.05)
    await wait_connected(fake, surface)
    await surface.deliver(600, Reply.text("alert two"))
    assert [c.json["content"] for c in fake.calls if c.path == "/channels/600/messages"][-1] == "alert two"


async def test_deliver_while_disconnected_asks_to_retry(running):
    from bot.services import DeliveryError

    _, surface = running
    surface.mark_connected(False, "test")
    with pytest.raises(DeliveryError) as info:
        await surface.deliver(601, Reply.text("queued"))
    assert info.value.retry_after and not info.value.permanent


async def test_deliver_to_forbidden_channel_is_permanent(running, fake: FakeDiscord):
    from bot.services import DeliveryError

    _, surface = running
    fake.fail_next.append(("/channels/602/messages", 403, {"message": "Missing Access", "code": 50001}))
    with pytest.raises(DeliveryError) as info:
        await surface.deliver(602, Reply.text("x"))
    assert info.value.permanent
