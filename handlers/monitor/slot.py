"""The running monitor's slot in `Services.shared`, declared apart from the engine so that looking it up (the
importer, autocompletion) does not import the engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.shared import Slot

if TYPE_CHECKING:
    from handlers.monitor.engine import Monitor

MONITOR: Slot[Monitor] = Slot("monitor")
