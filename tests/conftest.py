"""Shared fixtures: every test runs in its own folder with no SOCMINT_* settings leaking in."""

from __future__ import annotations

import importlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from handlers.monitor.scan import scan
from tests.harness import BotHarness
from tests.postgres_server import PostgresServer, PostgresUnavailable

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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One private PostgreSQL server for the test session; the tests that need it are skipped, with the
    reason, when PostgreSQL is not installed or will not start."""
    try:
        server = PostgresServer.start_new()
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL tests skipped: {exc}")
    yield server
    server.stop()


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> str:
    """The URL of a fresh, empty PostgreSQL database for this test."""
    return postgres_server.create_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each engine in turn: an SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return str(request.getfixturevalue("pg_url"))
