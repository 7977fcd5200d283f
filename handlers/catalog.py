"""Every command set the bot serves, in help order. Add a handler module here to serve its commands."""

from __future__ import annotations

from bot.command import CommandSet


def command_sets() -> list[CommandSet]:
    """The served command sets (imported here, not at module load, so `bot.app` stays cheap to import)."""
    from handlers import admin, basics, governance, search, sources, watch
    from handlers.analysis import commands as analysis
    from handlers.cases import commands as cases
    from handlers.imports import command as imports
    from handlers.investigate import commands as investigate
    from handlers.lookup import commands as lookup
    from handlers.lookup import user

    return [basics.commands, admin.commands, lookup.commands, user.commands, watch.commands, search.commands,
            sources.commands, imports.commands, analysis.commands, cases.commands, investigate.commands,
            governance.commands]
