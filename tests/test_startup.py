"""Start-up stays light: serving every command set loads no heavy table or library that one command needs."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("phonenumbers.geocoder", "phonenumbers.carrier", "scipy")  # loaded by the commands that use them


def test_serving_the_commands_loads_no_heavy_module() -> None:
    code = ("import sys; from handlers.catalog import command_sets; command_sets(); "
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == ""
