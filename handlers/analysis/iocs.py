"""Indicators of compromise in post text: URLs, domains, IPs, hashes, CVEs, e-mails and crypto addresses.

Defanged forms (`hxxp://`, `[.]`, `(dot)`, `[at]`, `[:]`) are refanged before matching.
False-positive controls:
- IPv4: four octets 0–255, not part of a longer dotted number, not preceded by a version word
  (`v`, `ver`, `version`, `build`, `release`) — so `v1.2.3.4` and `10.0.19041.1` are not IPs.
- Domains: the last label must be a known TLD; TLDs that are also common file extensions
  (`.zip`, `.py`, `.sh`, `.md`, …) count only when the name was defanged or sits in a URL, so
  `setup.py` and `invoice.zip` are file names, `evil[.]zip` is a domain; well-known product names that
  look like domains (`ASP.NET`, `VB.NET`) are skipped unless defanged.
- Hashes: exact hex lengths 32/40/64 bounded by non-word characters, with both letters and digits
  required for MD5 (a 32-digit decimal is an id, not a hash) and no single repeated character.
- Bitcoin: base58check (legacy) and bech32 checksums verified; Ethereum `0x` + 40 hex.
Each span of text is claimed once, by the most specific kind (an Ethereum address is not a SHA-1).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit


class IOCKind(StrEnum):
    """What an indicator is."""

    URL = "url"
    DOMAIN = "domain"
    IPV4 = "ipv4"
    EMAIL = "email"
    MD5 = "md5"
    SHA1 = "sha1"
    SHA256 = "sha256"
    CVE = "cve"
    BTC = "btc"
    ETH = "eth"


@dataclass(frozen=True, slots=True, order=True)
class IOC:
    """One indicator, in its refanged, normalised form."""

    kind: IOCKind
    value: str


_TLD_WORDS = """
    com net org edu gov mil int info biz name pro io co me tv cc ai app dev xyz top online site tech store
    shop club live news blog cloud link click space fun icu vip win bid work life world today email host
    page one support services solutions agency digital network systems center company group global media
    onion bit ru su ua by kz cn hk tw jp kr in ir iq sy il tr sa ae qa pk bd vn th my sg id ph au nz uk
    de fr it es pt nl be ch at se no fi dk pl cz sk hu ro bg gr rs hr si ba lt lv ee is ie lu li mt cy
    us ca mx br ar cl pe ve uy ec bo za ng ke eg ma tn dz gh et tz ug zw eu asia to ws su gg je im io
    ly mn am ge az md al mk ms nu cx tk ml ga cf gq pw la cm sc vc ag lc gd
    zip mov py sh md pl rs ps so cs pm sx mo
"""
_TLDS = frozenset(_TLD_WORDS.split())
_FILEISH_TLDS = frozenset({"zip", "mov", "py", "sh", "md", "pl", "rs", "ps", "so", "cs", "pm", "sx", "mo"})

_PRODUCT_NAMES = frozenset({"asp.net", "vb.net", "ado.net", "f.net", "j.net"})

_DEFANG = re.compile(
    r"(?P<scheme>\bh(?:xx|XX|\*\*|tt)p(?P<s>s?)(?:\[:\]|:)?(?=//))"
    r"|(?P<dot>\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)|\{dot\}|\s\[dot\]\s|\s\(dot\)\s)"
    r"|(?P<colon>\[:\])"
    r"|(?P<at>\[at\]|\(at\)|\[@\]|\s\[at\]\s|\s\(at\)\s)"
    r"|(?P<slash>\[/\])",
    re.IGNORECASE,
)

_URL = re.compile(r"\b(?:https?|ftp)://[^\s<>\"'`]+", re.IGNORECASE)
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,24}\b")
_ETH = re.compile(r"\b0x[a-fA-F0-9]{40}\b")
_HEX = re.compile(r"(?<![A-Za-z0-9_])(?:[a-fA-F0-9]{64}|[a-fA-F0-9]{40}|[a-fA-F0-9]{32})(?![A-Za-z0-9_])")
_CVE = re.compile(r"\bCVE-(?:19|20)\d{2}-\d{4,7}\b", re.IGNORECASE)
_IPV4 = re.compile(r"(?<![\w.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\w]|\.\d)")
_VERSION_WORD = re.compile(r"(?:\bv|\bver\.?|\bversion|\bbuild|\brelease)\s*$", re.IGNORECASE)
_DOMAIN = re.compile(
    r"(?<![\w@.-])((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,24}))(?![\w-]|\.[A-Za-z0-9])"
)
_BTC_LEGACY = re.compile(r"\b[13][a-km-zA-HJ-NP-Z1-9]{25,34}\b")
_BTC_BECH32 = re.compile(r"\bbc1[ac-hj-np-z02-9]{11,71}\b", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def refang(text: str) -> tuple[str, list[int]]:
    """The text with defanged notation undone, and the offsets (in the result) where that happened."""
    out: list[str] = []
    marks: list[int] = []
    pos = 0
    length = 0
    for m in _DEFANG.finditer(text):
        out.append(text[pos : m.start()])
        length += m.start() - pos
        if m.group("scheme"):
            repl = "https:" if m.group("s") else "http:"
        elif m.group("dot"):
            repl = "."
        elif m.group("colon"):
            repl = ":"
        elif m.group("at"):
            repl = "@"
        else:
            repl = "/"
        marks.append(length)
        out.append(repl)
        length += len(repl)
        pos = m.end()
    out.append(text[pos:])
    return "".join(out), marks


def _b58check(addr: str) -> bool:
    num = 0
    for ch in addr:
        num = num * 58 + _B58.index(ch)
    raw = num.to_bytes(25, "big") if num.bit_length() <= 200 else b""
    if len(raw) != 25:
        return False
    return hashlib.sha256(hashlib.sha256(raw[:21]).digest()).digest()[:4] == raw[21:]


def _bech32_ok(addr: str) -> bool:
    addr = addr.lower()
    hrp, _, data = addr.rpartition("1")
    if hrp != "bc" or len(data) < 6:
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


def _valid_domain(name: str, tld: str, defanged: bool, in_url: bool) -> bool:
    tld = tld.lower()
    if tld not in _TLDS or (name.lower() in _PRODUCT_NAMES and not defanged):
        return False
    return not (tld in _FILEISH_TLDS and not (defanged or in_url))


class _Claims:
    """Spans of the text already taken by a more specific indicator."""

    def __init__(self) -> None:
        self.spans: list[tuple[int, int]] = []

    def free(self, start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in self.spans)

    def take(self, start: int, end: int) -> None:
        self.spans.append((start, end))


def _host_iocs(host: str) -> Iterable[IOC]:
    host = host.lower().rstrip(".")
    if _IPV4.fullmatch(host) and all(int(p) <= 255 for p in host.split(".")):
        yield IOC(IOCKind.IPV4, host)
    elif "." in host and host.rsplit(".", 1)[1] in _TLDS:
        yield IOC(IOCKind.DOMAIN, host)


def extract_iocs(text: str) -> list[IOC]:
    """Every distinct indicator in `text`, sorted by kind then value."""
    if not text:
        return []
    clean, marks = refang(text)
    found: set[IOC] = set()
    claims = _Claims()

    def defanged(start: int, end: int) -> bool:
        return any(start <= m < end for m in marks)

    for m in _URL.finditer(clean):
        url = m.group(0).rstrip(_TRAILING)
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:
            continue
        if not host:
            continue
        found.add(IOC(IOCKind.URL, url))
        found.update(_host_iocs(host))
        claims.take(m.start(), m.start() + len(url))
    for m in _EMAIL.finditer(clean):
        domain = m.group(0).rsplit("@", 1)[1]
        if claims.free(m.start(), m.end()) and domain.rsplit(".", 1)[1].lower() in _TLDS:
            found.add(IOC(IOCKind.EMAIL, m.group(0).lower()))
            claims.take(m.start(), m.end())
    for m in _ETH.finditer(clean):
        if claims.free(m.start(), m.end()):
            found.add(IOC(IOCKind.ETH, m.group(0).lower()))
            claims.take(m.start(), m.end())
    for m in _HEX.finditer(clean):
        value = m.group(0).lower()
        if not claims.free(m.start(), m.end()) or len(set(value)) == 1:
            continue
        if len(value) == 32 and (value.isdigit() or value.isalpha()):
            continue
        kind = {32: IOCKind.MD5, 40: IOCKind.SHA1, 64: IOCKind.SHA256}[len(value)]
        found.add(IOC(kind, value))
        claims.take(m.start(), m.end())
    for m in _CVE.finditer(clean):
        found.add(IOC(IOCKind.CVE, m.group(0).upper()))
        claims.take(m.start(), m.end())
    for m in _IPV4.finditer(clean):
        if not claims.free(m.start(), m.end()) or any(int(g) > 255 for g in m.groups()):
            continue
        if _VERSION_WORD.search(clean[max(0, m.start() - 12) : m.start()]):
            continue
        found.add(IOC(IOCKind.IPV4, m.group(0)))
        claims.take(m.start(), m.end())
    for m in _BTC_BECH32.finditer(clean):
        if claims.free(m.start(), m.end()) and _bech32_ok(m.group(0)):
            found.add(IOC(IOCKind.BTC, m.group(0).lower()))
            claims.take(m.start(), m.end())
    for m in _BTC_LEGACY.finditer(clean):
        if claims.free(m.start(), m.end()) and _b58check(m.group(0)):
            found.add(IOC(IOCKind.BTC, m.group(0)))
            claims.take(m.start(), m.end())
    for m in _DOMAIN.finditer(clean):
        if not claims.free(m.start(), m.end()):
            continue
        if _valid_domain(m.group(1), m.group(2), defanged(m.start(), m.end()), in_url=False):
            found.add(IOC(IOCKind.DOMAIN, m.group(1).lower()))
    return sorted(found)
