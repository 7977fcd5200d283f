"""Every command set the bot serves, in help order. Add a handler module here to serve its commands."""

from __future__ import annotations

from bot.command import CommandSet


def command_sets() -> list[CommandSet]:
    """The served command sets (imported here, not at module load, so `bot.app` stays cheap to import)."""
    from handlers import admin, basics
    from handlers import watch as watch_commands
    from handlers.lookup import commands as lookup_commands

    return [basics.commands, admin.commands, lookup_commands.commands, watch_commands.commands]
