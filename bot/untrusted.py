"""Untrusted text made inert: what every renderer and every export file passes relayed text through."""

from __future__ import annotations

import re

# Terminal control sequences could rewrite the analyst's screen, and XML 1.0 forbids C0 controls but
# tab and newline: drop them (carriage returns too; newlines carry the line breaks).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Embeddings, overrides and isolates reorder what follows them ("Trojan Source", `gnp.exe`).
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
# A lone surrogate cannot be encoded at all (nor stored); U+FFFE and U+FFFF are not characters (nor XML).
_SURROGATE = re.compile("[\ud800-\udfff]")
_UNENCODABLE = re.compile("[\ud800-\udfff\ufffe\uffff]")


def encodable(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD, so it can be encoded and stored."""
    return _SURROGATE.sub("\ufffd", text)


def inert(text: str) -> str:
    """`text` without control characters or bidi overrides, and with nothing that cannot be encoded."""
    return _UNENCODABLE.sub("\ufffd", _BIDI.sub("", _CONTROL.sub("", text)))
