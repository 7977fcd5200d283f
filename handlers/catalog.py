"""Every command set the bot serves, in help order. Add a handler module here to serve its commands."""

from __future__ import annotations

from bot.command import CommandSet


def command_sets() -> list[CommandSet]:
    """Import lazily so a broken optional module names itself instead of taking the bot down."""
    from handlers import admin, basics

    return [basics.commands, admin.commands]
