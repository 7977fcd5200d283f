"""The command line through real subprocesses: console, config errors, init, version."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot import __version__


def socmint(*args: str, cwd: Path, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SOCMINT_")}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], input=stdin, capture_output=True, text=True, cwd=cwd,
        env={**base, **(env or {}), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}, timeout=120,
    )


def test_console_is_scriptable(tmp_path: Path):
    result = socmint("console", cwd=tmp_path, stdin="/help\n/whoami\nstatus\n/nosuch\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Commands (your role: owner)" in out
    assert "Needs a key (not polled until configured): reddit" in out  # never silently empty
    assert "console:0" in out and "owner" in out
    assert "uptime" in out
    assert "Unknown command /nosuch" in out
    assert "Traceback" not in out + result.stderr
    assert (tmp_path / "data" / "socmint.db").exists()


def test_console_keeps_data_between_runs(tmp_path: Path):
    socmint("console", cwd=tmp_path, stdin="/allow telegram:-100123\n")
    result = socmint("console", cwd=tmp_path, stdin="/audit 5\n")
    assert "/allow telegram:-100123" in result.stdout


def test_invalid_config_exits_2_with_clear_message(tmp_path: Path):
    (tmp_path / "socmint.toml").write_text('log_level = "LOUD"\n[telegram]\napi_url = "ftp://x"\n')
    result = socmint("config", "check", cwd=tmp_path)
    assert result.returncode == 2
    assert "invalid setting log_level" in result.stderr and "invalid setting telegram.api_url" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_key_and_bad_toml_and_bad_env(tmp_path: Path):
    (tmp_path / "socmint.toml").write_text("[telegram]\ntokn = 'x'\n")
    result = socmint("run", cwd=tmp_path)
    assert result.returncode == 2 and "telegram.tokn" in result.stderr and "unknown setting" in result.stderr
    (tmp_path / "socmint.toml").write_text("[telegram\n")
    result = socmint("console", cwd=tmp_path)
    assert result.returncode == 2 and "not valid TOML" in result.stderr
    (tmp_path / "socmint.toml").unlink()
    result = socmint("config", "check", cwd=tmp_path, env={"SOCMINT_ADMINS": "telegram:abc"})
    assert result.returncode == 2 and "SOCMINT_ADMINS" in result.stderr
    result = socmint("config", "check", cwd=tmp_path, env={"SOCMINT_CONFIG": str(tmp_path / "missing.toml")})
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_config_check_masks_secrets_and_applies_env(tmp_path: Path):
    token = "123456789:AAFakeTokenFakeTokenFakeToken123"
    (tmp_path / "socmint.toml").write_text('[sources.hackernews]\nbase_url = "http://127.0.0.1:9/hn"\n')
    result = socmint("config", "check", cwd=tmp_path,
                     env={"SOCMINT_TELEGRAM__TOKEN": token, "SOCMINT_DISCORD__PREFIX": "?"})
    assert result.returncode == 0, result.stderr
    assert token not in result.stdout and "**********" in result.stdout
    assert 'prefix = "?"' in result.stdout and "http://127.0.0.1:9/hn" in result.stdout


def test_init_writes_a_config_that_loads(tmp_path: Path):
    result = socmint("init", cwd=tmp_path)
    assert result.returncode == 0
    text = (tmp_path / "socmint.toml").read_text()
    assert "SOCMINT_TELEGRAM__TOKEN" in text
    assert socmint("config", "check", cwd=tmp_path).returncode == 0
    assert socmint("init", cwd=tmp_path).returncode == 1  # no silent overwrite


def test_version(tmp_path: Path):
    result = socmint("--version", cwd=tmp_path)
    assert result.stdout.strip() == f"socmint {__version__}"


@pytest.mark.parametrize("line", ["/role", '/help "unclosed', "/audit x"])
def test_console_bad_input_gets_help_not_traceback(tmp_path: Path, line: str):
    result = socmint("console", cwd=tmp_path, stdin=line + "\n")
    assert result.returncode == 0
    assert "⚠️" in result.stdout and "Traceback" not in result.stdout + result.stderr
