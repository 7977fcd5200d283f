"""Objects a feature shares across commands (the monitor, the source table, guards, caches), by typed slot.

The module that owns an object declares its slot (`MONITOR: Slot[Monitor] = Slot("monitor")`); `Services.shared`
holds the values, so the core never imports a feature and every read is typed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Slot(Generic[T]):
    """The typed name of one shared object."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Slot({self.name!r})"


class Shared:
    """The shared objects of one app, by slot."""

    def __init__(self) -> None:
        self._values: dict[Slot[Any], Any] = {}

    def get(self, slot: Slot[T]) -> T | None:
        """The object in `slot`, or None when none was made yet."""
        return self._values.get(slot)

    def put(self, slot: Slot[T], value: T) -> T:
        """Put `value` in `slot` (replacing any other) and return it."""
        self._values[slot] = value
        return value

    def setdefault(self, slot: Slot[T], make: Callable[[], T]) -> T:
        """The object in `slot`, made by `make()` on first use."""
        if slot not in self._values:
            self._values[slot] = make()
        return self._values[slot]
