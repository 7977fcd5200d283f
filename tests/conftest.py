"""Shared fixtures: every test runs in its own folder with no SOCMINT_* settings leaking in."""

from __future__ import annotations

import importlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from handlers.monitor.scan import scan
from tests.harness import BotHarness

if os.environ.get("SOCMINT_TEST_TRAVEL"):  # the date-bomb guard (`make test-travel`): this process and its children
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).parent / "travel"),
                                                             os.environ.get("PYTHONPATH")]))
    importlib.import_module("tests.travel.sitecustomize")


@pytest.fixture(autouse=True, scope="session")
def _scan_table() -> None:
    """Build the scan's fold table once, up front, so no hypothesis deadline counts that one-off cost."""
    scan("")


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("SOCMINT_") and key != "SOCMINT_TEST_TRAVEL":
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[BotHarness]:
    """A started bot (commands only, no background work) on a temporary database."""
    harness = BotHarness(tmp_path)
    await harness.start()
    yield harness
    await harness.stop()
