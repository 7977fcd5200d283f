"""Logs are structured and never carry a secret, not even inside library URLs or tracebacks."""

from __future__ import annotations

import io
import json
import logging

from bot.logsetup import setup_logging


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
