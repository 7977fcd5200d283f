"""Reliability-suite plumbing: no traffic leaves 127.0.0.1, and the counters reach last_run.json."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests.reliability.tally import OUTPUT, SOAK, TALLY

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})


class NetworkEscape(OSError):
    """A connection to somewhere other than this machine was attempted (and refused)."""


def _host(address: Any) -> str | None:
    if isinstance(address, tuple) and address:
        return str(address[0])
    return None  # unix sockets and the like stay local


@pytest.fixture(autouse=True)
def _local_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Refuse name lookups and connections to anything but the loopback; the escapes are recorded."""
    escapes: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and str(name) not in LOCAL_HOSTS:
            escapes.append(f"resolve {name}")
            raise socket.gaierror(socket.EAI_NONAME, f"reliability suite: no lookups of {name}")
        return real_getaddrinfo(host, *args, **kwargs)

    def guarded(method_name: str):  # type: ignore[no-untyped-def]
        real = getattr(socket.socket, method_name)

        def method(self: socket.socket, *args: Any) -> Any:
            address = args[-1] if method_name == "sendto" else args[0]
            host = _host(address)
            if host is not None and host not in LOCAL_HOSTS:
                escapes.append(f"{method_name} {host}")
                raise NetworkEscape(f"reliability suite: no traffic to {host}")
            return real(self, *args)

        return method

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    for name in ("connect", "connect_ex", "sendto"):
        monkeypatch.setattr(socket.socket, name, guarded(name))
    yield escapes
    TALLY.add("network_guard", escapes_refused=len(escapes))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if TALLY.areas:
        TALLY.write("soak" if SOAK else "reduced", {"pytest_exit_status": int(exitstatus)})


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TALLY.areas and OUTPUT.exists():
        headline = json.loads(OUTPUT.read_text(encoding="utf-8"))["headline"]
        terminalreporter.section(f"reliability ({'soak' if SOAK else 'reduced'}) — {OUTPUT.name}")
        for key, value in headline.items():
            terminalreporter.write_line(f"{key}: {value}")
