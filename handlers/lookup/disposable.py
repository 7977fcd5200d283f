"""Disposable (throw-away) email providers, from a small list shipped with the bot."""

from __future__ import annotations

from functools import cache
from pathlib import Path

LIST_FILE = Path(__file__).with_name("disposable_domains.txt")


@cache
def domains() -> frozenset[str]:
    """The shipped list: one domain a line, `#` comments."""
    lines = LIST_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def is_disposable(domain: str) -> bool:
    """Whether `domain` or a parent of it is a known disposable provider."""
    labels = domain.lower().rstrip(".").split(".")
    return any(".".join(labels[i:]) in domains() for i in range(len(labels) - 1))
