"""Cryptocurrency addresses: which currency an address belongs to, checked as far as is cheap.

- Bitcoin: legacy `1…`/`3…` addresses with their base58check checksum; `bc1…` segwit addresses with
  their bech32 or bech32m checksum (BIP 173/350).
- Ethereum: `0x` and 40 hex digits (the mixed-case EIP-55 checksum needs Keccak and is not checked).
- Monero: 95 base58 characters starting `4` (standard) or `8` (subaddress), 106 for integrated
  addresses; the format is checked, not the Keccak checksum — at that length a false match is unlikely.
"""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum


class Currency(StrEnum):
    """The currency of an address."""

    BTC = "btc"
    ETH = "eth"
    XMR = "xmr"

    @property
    def title(self) -> str:
        return {"btc": "bitcoin", "eth": "ethereum", "xmr": "monero"}[self.value]


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
BTC_LEGACY_RE = re.compile(r"[13][a-km-zA-HJ-NP-Z1-9]{25,34}")
BTC_BECH32_RE = re.compile(r"bc1[ac-hj-np-z02-9]{11,71}", re.IGNORECASE)
ETH_RE = re.compile(r"0x[a-fA-F0-9]{40}")
XMR_RE = re.compile(r"[48][0-9AB][1-9A-HJ-NP-Za-km-z]{93}(?:[1-9A-HJ-NP-Za-km-z]{11})?")


def base58check_ok(address: str) -> bool:
    """Whether a legacy bitcoin address decodes to 25 bytes whose last 4 are its double-SHA-256 checksum."""
    num = 0
    for ch in address:
        index = _B58.find(ch)
        if index < 0:
            return False
        num = num * 58 + index
    if num.bit_length() > 200:
        return False
    raw = num.to_bytes(25, "big")
    return hashlib.sha256(hashlib.sha256(raw[:21]).digest()).digest()[:4] == raw[21:]


def bech32_ok(address: str) -> bool:
    """Whether a `bc1…` address carries a valid bech32 or bech32m checksum (and is not mixed-case)."""
    if address != address.lower() and address != address.upper():
        return False
    address = address.lower()
    hrp, _, data = address.rpartition("1")
    if hrp != "bc" or len(data) < 6 or any(c not in _BECH32 for c in data):
        return False
    values = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + [_BECH32.index(c) for c in data]
    chk = 1
    gens = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gens[i] if (top >> i) & 1 else 0
    return chk in (1, 0x2BC830A3)  # bech32, bech32m


def currency_of(text: str) -> Currency | None:
    """The currency whose address `text` is (whole text, no spaces), or None."""
    if ETH_RE.fullmatch(text):
        return Currency.ETH
    if BTC_BECH32_RE.fullmatch(text):
        return Currency.BTC if bech32_ok(text) else None
    if BTC_LEGACY_RE.fullmatch(text):
        return Currency.BTC if base58check_ok(text) else None
    if XMR_RE.fullmatch(text):
        return Currency.XMR
    return None


def normalise(currency: Currency, address: str) -> str:
    """The address as keyed: Ethereum and bech32 lower-case; base58 (case-significant) unchanged."""
    if currency is Currency.ETH or address[:3].lower() == "bc1":
        return address.lower()
    return address
