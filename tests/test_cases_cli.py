"""`socmint case list|export` against a database a bot has filled."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest
import stix2

from handlers.cases import cli
from handlers.cases.commands import commands as case_commands
from tests.harness import BotHarness


async def test_cli_lists_and_exports_a_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bot = BotHarness(tmp_path, sets=[case_commands])
    await bot.start()
    await bot.run("/case new CLI case")
    await bot.run("/case add Evil[.]com")
    await bot.run("/case tag evil.com malicious")
    await bot.run("/case note handed to CTI")
    await bot.stop()
    monkeypatch.setenv("SOCMINT_DATABASE__URL", f"sqlite:///{tmp_path / 'test.db'}")

    out = io.StringIO()
    assert await asyncio.to_thread(cli.main, ["list"], out=out) == 0
    assert "CLI case" in out.getvalue() and "1 entities" in out.getvalue()

    target = tmp_path / "bundle.json"
    assert await asyncio.to_thread(cli.main, ["export", "1", "--format", "stix", "--out", str(target)], out=out) == 0
    bundle = stix2.parse(target.read_text(), allow_custom=False)
    assert any(o.type == "indicator" and o.pattern == "[domain-name:value = 'evil.com']" for o in bundle.objects)

    # no --out: the default file name, in the working directory
    assert await asyncio.to_thread(cli.main, ["export", "1", "--format", "json"], out=out) == 0
    data = json.loads(Path("case-1-cli-case.json").read_text())
    assert data["notes"][0]["text"] == "handed to CTI"

    binary = io.BytesIO()
    to_stdout = ["export", "1", "--format", "md", "--out", "-"]
    assert await asyncio.to_thread(cli.main, to_stdout, out=out, binary_out=binary) == 0
    assert binary.getvalue().startswith(b"**TLP:AMBER**") and b"# Case 1: CLI case" in binary.getvalue()
    assert await asyncio.to_thread(cli.main, ["export", "9", "--format", "md"], out=out) == 1
