"""The deployment files say what works: no Docker engine runs here, so the image's own commands are run locally
instead — its entrypoint (`socmint run`), its health check (`socmint health`) against a real process, and its
settings (the Dockerfile's and the compose file's environment) through `socmint config check`."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
COMPOSE = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")


def socmint(*args: str, env: dict[str, str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=cwd, env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)


def clean_env(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("SOCMINT_")}, "PYTHONPATH": str(ROOT),
            **extra}


def stages() -> list[str]:
    return re.split(r"^FROM ", DOCKERFILE, flags=re.MULTILINE)[1:]


def test_the_image_is_built_in_two_stages_and_runs_as_an_unprivileged_user() -> None:
    build, run = stages()
    assert " AS build" in build.splitlines()[0] and "gcc" in build  # the C scan is compiled in the build stage
    assert "pip install --no-cache-dir '.[postgres]'" in build
    assert 'python -c "import handlers.monitor._scan"' in build  # the build fails if the C scan did not compile
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(dep.startswith("psycopg[binary]") for dep in extras["postgres"])
    assert "gcc" not in run and "COPY --from=build /opt/socmint /opt/socmint" in run
    users = re.findall(r"^USER (\S+)", run, flags=re.MULTILINE)
    assert users == ["socmint"]
    assert re.search(r"useradd --system --uid (\d+)", run) and "--uid 0 " not in run
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", build, flags=re.MULTILINE):
        for name in source.split():
            assert (ROOT / name).exists(), f"the Dockerfile copies {name}, which is not in the repository"
    assert 'ENTRYPOINT ["socmint"]' in run and 'CMD ["run"]' in run
    assert 'HEALTHCHECK' in run and 'CMD ["socmint", "health"]' in run


def test_the_image_and_compose_settings_are_valid(tmp_path: Path) -> None:
    env = dict(re.findall(r"(SOCMINT_[A-Z_]+)=(\S+)", DOCKERFILE))
    for name, value in re.findall(r"(SOCMINT_[A-Z_]+): (\S+)", COMPOSE):
        env[name] = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: m.group(2) or "x", value)
    env["SOCMINT_TELEGRAM__TOKEN"] = "123456789:AAFakeTokenForTestsOnly_0123456789abc"
    env["SOCMINT_ADMINS"] = "telegram:1"
    env["SOCMINT_DATA_DIR"] = str(tmp_path / "data")
    assert env["SOCMINT_DATABASE__URL"].startswith("postgresql://socmint:")
    checked = socmint("config", "check", env=clean_env(**env), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert '[ops]\nport = 9464\nlisten = "0.0.0.0"' in checked.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_entrypoint_serves_healthz_and_the_health_check_command_reads_it(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(SOCMINT_DATA_DIR=str(tmp_path / "data"), SOCMINT_OPS__PORT=str(port))
    assert socmint("health", env=clean_env(), cwd=tmp_path).returncode == 2  # no port: nothing to ask
    unanswered = socmint("health", "--timeout", "2", env=env, cwd=tmp_path)
    assert unanswered.returncode == 1 and "no answer" in unanswered.stderr
    bot = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], cwd=tmp_path, env=env, stdin=subprocess.PIPE,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while (checked := socmint("health", env=env, cwd=tmp_path)).returncode != 0:
            assert bot.poll() is None and time.monotonic() < deadline, checked.stderr
            time.sleep(0.2)
        assert json.loads(checked.stdout) | {"uptime_s": 0} == {
            "status": "ok", "database": "ok", "role": "leader", "surfaces": {"console": True}, "uptime_s": 0}
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        assert metrics.status_code == 200 and "socmint_leader 1.0" in metrics.text
    finally:
        _, err = bot.communicate(timeout=60)  # end of input closes the console and the bot
    assert bot.returncode == 0, err
