"""The command registry: every declared command by name and alias, as the router, /help and surfaces see it."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Sequence

from bot.command import Command, CommandSet


class Registry:
    """Every command by name and alias; groups (`watch`) hold subcommands (`watch add`)."""

    def __init__(self, sets: Iterable[CommandSet] = ()) -> None:
        self._by_name: dict[str, Command] = {}
        self._aliases: dict[str, str] = {}
        for command_set in sets:
            for command in command_set.commands:
                self.add(command)

    def add(self, command: Command) -> None:
        if command.name in self._by_name:
            raise ValueError(f"command /{command.name} declared twice")
        self._by_name[command.name] = command
        for alias in command.aliases:
            self._aliases[alias] = command.name

    def get(self, name: str) -> Command | None:
        name = self._aliases.get(name, name)
        return self._by_name.get(name)

    def __iter__(self) -> Iterator[Command]:
        return iter(sorted(self._by_name.values(), key=lambda c: c.name))

    def groups(self) -> dict[str, list[Command]]:
        """Top-level name → its commands (a plain command is a group of one)."""
        out: dict[str, list[Command]] = {}
        for command in self:
            out.setdefault(command.group, []).append(command)
        return out

    def resolve(self, words: Sequence[str]) -> tuple[Command | None, int]:
        """The command the first words of a line name, and how many words its name took."""
        if len(words) >= 2:
            sub = self.get(f"{words[0]} {words[1].lower()}")
            if sub:
                return sub, 2
        return self.get(words[0]), 1

    def suggest(self, word: str) -> list[str]:
        names = {c.group for c in self} | set(self._aliases)
        return difflib.get_close_matches(word, sorted(names), n=3, cutoff=0.6)
