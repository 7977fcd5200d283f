"""Logs are structured and never carry a secret, not even inside library URLs or tracebacks."""

from __future__ import annotations

import io
import json
import logging

import pytest

from bot.logsetup import setup_logging


@pytest.fixture(autouse=True)
def _restore_logging():
    """setup_logging reconfigures the root logger: put it back so later tests see pytest's logging."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


def test_secrets_masked_in_messages_args_extras_and_tracebacks():
    stream = io.StringIO()
    secret = "s3cr3t-value-xyz"
    setup_logging("INFO", "text", [secret], stream=stream)
    log = logging.getLogger("test.mask")
    log.info("POST https://api.telegram.org/bot123456789:AAAbbbCCCdddEEEfffGGGhhh/getMe %s", secret)
    log.info("with extra", extra={"url": f"https://x/{secret}"})
    try:
        raise RuntimeError(f"boom {secret}")
    except RuntimeError:
        log.exception("failed")
    out = stream.getvalue()
    assert secret not in out and "AAAbbbCCCdddEEEfffGGGhhh" not in out
    assert out.count("***") >= 4


def test_json_format_one_object_per_line():
    stream = io.StringIO()
    setup_logging("INFO", "json", [], stream=stream)
    logging.getLogger("test.json").info("hello", extra={"command": "help"})
    record = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert record["msg"] == "hello" and record["command"] == "help" and record["level"] == "INFO"


def test_credentials_in_urls_are_masked_even_unconfigured():
    stream = io.StringIO()
    setup_logging("INFO", "text", [], stream=stream)
    logging.getLogger("test.urls").warning(
        "connect failed: postgresql://socmint:pg-Secret-1@db:5432/x, https://tok-abc123@git.example/r, "
        "https://feeds.example/a?token=qq-77&x=1")
    out = stream.getvalue()
    assert "pg-Secret-1" not in out and "tok-abc123" not in out and "qq-77" not in out
    assert "postgresql://socmint:***@db:5432/x" in out and "https://***@git.example/r" in out
    assert "?token=***&x=1" in out
