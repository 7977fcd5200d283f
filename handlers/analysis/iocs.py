"""Indicators of compromise in post text: URLs, domains, IPs, hashes, CVEs, e-mails and crypto addresses.

The text is refanged first (`handlers.lookup.defang`, the one refang every feature uses). Then each
span of text is claimed once, by the most specific kind, in this order: URLs, e-mails, Ethereum
addresses, hashes, CVEs, IPv6, IPv4, bitcoin and monero addresses, domains.

- URLs: `http(s)`, `ftp(s)`, `sftp`, `tcp`, `udp`, `ws(s)` with a host that is a real domain or an IP;
  also a domain or IP directly followed by a path (`evil[.]com/gate.php` → `http://evil.com/gate.php`).
  A URL ends at white space, `<>"\\` and Unicode quotes or brackets (`“”‘’«»「」【】（）＜＞`…); at a
  quote matching the one just before it (`('https://a/x')`); at a `]` after the host that closes no `[`
  of its own (so the target of a Markdown `[https://a](https://b)` is read too). Trailing `.,;:!?*'"`
  and unbalanced closing `)]}` are dropped, so `(see https://a.com/x_(y))` keeps its balanced pair.
  Scheme and host are lower-cased. The host is reported too, and the percent-decoded path and query
  are read again for what they carry (a hash in a VirusTotal link, a redirect target in `?url=`); a
  name in the last path segment is a file, not a domain.
- Domains: the last label must be a top-level domain of the Public Suffix List (`handlers.lookup.tlds`).
  TLDs that are also file extensions (`.zip`, `.py`, `.md`, …) count only when the name was defanged,
  sits in a URL or e-mail, or follows a word such as "domain", "C2", "host" or "server" — so `setup.py` is
  a file and `evil[.]zip` a domain. Also skipped unless defanged: product names (`ASP.NET`), method calls
  (`self.name`, `foo.bar(`), handles (`@alice.bsky.social`) and a missing space after a full stop
  (`it.Now`, a title-case TLD).
- E-mail addresses, their domain reported as a domain too; an IP literal (`a@[10.0.0.1]`) gives the IP
  (unbracketed, `root@10.0.0.5` is a login: only the IP is reported).
  `@user@instance.social` is a fediverse handle, not an e-mail.
- IPv4: four octets 0–255 (leading zeros dropped, at most three digits), not inside a longer dotted
  number, not after a version word (`v`, `version`, `build`, `release`); a CIDR range (`10.0.0.0/8`) is
  a range, not an address. IPv6: any form `ipaddress` accepts, with at least one digit, bounded by
  neither a word character nor a colon (`11:04:10` and MAC addresses are not IPv6), in compressed form.
- Hashes: 32/40/64/128 hex digits bounded by non-alphanumerics, with both letters and digits
  (a 32-digit number is an id; `aaaa…` a placeholder).
- CVE ids from 1999 on, with `-`, `_`, a space or a Unicode hyphen after `CVE`.
- Crypto addresses: `handlers.lookup.wallets` (bitcoin checksums, Ethereum, monero formats).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import unquote, urlsplit

from handlers.lookup.defang import refang_marked
from handlers.lookup.tlds import FILE_EXTENSION_TLDS, is_tld
from handlers.lookup.wallets import BTC_BECH32_RE, BTC_LEGACY_RE, ETH_RE, XMR_RE, base58check_ok, bech32_ok


class IOCKind(StrEnum):
    """What an indicator is."""

    URL = "url"
    DOMAIN = "domain"
    IPV4 = "ipv4"
    IPV6 = "ipv6"
    EMAIL = "email"
    MD5 = "md5"
    SHA1 = "sha1"
    SHA256 = "sha256"
    SHA512 = "sha512"
    CVE = "cve"
    BTC = "btc"
    ETH = "eth"
    XMR = "xmr"


HASH_KINDS = {32: IOCKind.MD5, 40: IOCKind.SHA1, 64: IOCKind.SHA256, 128: IOCKind.SHA512}


@dataclass(frozen=True, slots=True, order=True)
class IOC:
    """One indicator, in its refanged, normalised form."""

    kind: IOCKind
    value: str


_STOP = r"\s<>\"`\\{}|^“”„‘’‚«»‹›「」『』【】〔〕〈〉《》（）［］｛｝＜＞、。，；！？"
_URL = re.compile(rf"\b(?:https?|ftps?|sftp|tcp|udp|wss?)://[^{_STOP}]+", re.IGNORECASE)
_PATH = re.compile(rf"(?::\d{{1,5}})?/[^{_STOP}]*")
_TRAILING = ".,;:!?*'\"…"
_PAIRS = {")": "(", "]": "[", "}": "{"}
_EMAIL = re.compile(
    r"(?<![\w.%+-])([\w.%+-]+)@((?:[\w-]+\.)+[\w-]+|\[(?:IPv6:[0-9A-Fa-f:.]+|\d{1,3}(?:\.\d{1,3}){3})\])",
    re.IGNORECASE,
)
_HEX = re.compile(r"(?<![A-Za-z0-9])(?:[A-Fa-f0-9]{128}|[A-Fa-f0-9]{64}|[A-Fa-f0-9]{40}|[A-Fa-f0-9]{32})"
                  r"(?![A-Za-z0-9])")
_CVE = re.compile(r"\bCVE[-_ \u2010\u2011\u2013]?(1999|20\d{2})[-_\u2010\u2011\u2013](\d{4,7})\b", re.IGNORECASE)
_IPV6 = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?::\d{1,3}(?:\.\d{1,3}){3})?(?![\w:]|\.\d)")
_IPV4 = re.compile(r"(?<!\w)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?!\w|\.\w)")
_CIDR = re.compile(r"/(\d{1,2})(?![\w/.])")
_VERSION_WORD = re.compile(r"(?:\bv|\bver\.?|\bversion|\bbuild|\brelease)\s*$", re.IGNORECASE)
_DOMAIN = re.compile(
    r"(?<![\w.-])((?:\w(?:[\w-]{0,61}\w)?\.)+([^\W\d_]{2,63}|xn--[A-Za-z0-9-]{1,59}))(?![\w-]|\.\w)"
)
_HOST_CONTEXT = re.compile(
    r"\b(?:domains?|c2|c&c|cnc|hosts?|hostnames?|servers?|dns|resolv\w*|registered|websites?|sites?|beacon\w*)"
    r"\W{1,3}(?:\w+\W{1,3})?$",
    re.IGNORECASE,
)
_LABEL = re.compile(r"\w(?:[\w-]{0,61}\w)?")
_REGISTRABLE_LABEL = re.compile(r"[^\W_](?:[^\W_]|-){0,62}(?<!-)")
_PRODUCT_NAMES = frozenset({"asp.net", "vb.net", "ado.net", "f.net", "j.net"})
_CODE_RECEIVERS = frozenset(
    {"self", "this", "cls", "os", "sys", "np", "pd", "plt", "tf", "req", "res", "request", "response", "ctx", "args",
     "kwargs", "opts", "options", "config", "settings", "window", "document", "console", "math", "json", "obj",
     "err", "event", "props", "state", "params", "module", "exports", "process"}
)
_MAX_DEPTH = 2
_OPENERS = frozenset(" \t\r\n([{'\"")


def valid_domain(name: str) -> bool:
    """Whether `name` is a host name under a real top-level domain.

    Labels are letters, digits, hyphens and underscores (`_dmarc`, `o_o` occur in host names), but the
    one under the top-level domain is registered, so it has no underscore.
    """
    labels = name.rstrip(".").split(".")
    if len(labels) < 2 or len(name) > 253:
        return False
    if not is_tld(labels[-1]) or not _REGISTRABLE_LABEL.fullmatch(labels[-2]):
        return False
    return all(_LABEL.fullmatch(label) for label in labels[:-2])


def _ipv4(text: str) -> str | None:
    """`text` as a dotted-quad IPv4 address (leading zeros dropped), or None."""
    parts = text.split(".")
    if len(parts) != 4 or not all(p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts):
        return None
    return ".".join(str(int(p)) for p in parts)


def _ipv6(text: str) -> str | None:
    if not any(c.isdigit() for c in text):
        return None
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        return None
    return f"::ffff:{address.ipv4_mapped}" if address.ipv4_mapped else str(address)


def host_ioc(host: str) -> IOC | None:
    """The IP or domain a URL's host names, or None if it names neither (`localhost`, `intranet`)."""
    host = host.lower().rstrip(".")
    if address := _ipv4(host):
        return IOC(IOCKind.IPV4, address)
    if ":" in host:
        return IOC(IOCKind.IPV6, v6) if (v6 := _ipv6(host)) else None
    return IOC(IOCKind.DOMAIN, host) if valid_domain(host) else None


def _trim(url: str) -> str:
    """The URL without trailing punctuation or closing brackets it does not open itself."""
    while url:
        last = url[-1]
        if last in _TRAILING or (last in _PAIRS and url.count(_PAIRS[last]) < url.count(last)):
            url = url[:-1]
            continue
        return url
    return url


def _cut_at_stray_bracket(url: str) -> str:
    """The URL up to a `]` after its host that closes no `[` of its own (`…/a]b`, a Markdown `](`)."""
    start = url.find("/", url.find("://") + 3)
    depth = 0
    for i in range(max(start, 0), len(url)):
        if url[i] == "[":
            depth += 1
        elif url[i] == "]":
            if depth == 0:
                return url[:i]
            depth -= 1
    return url


def _url_pieces(tail: str) -> Iterator[tuple[str, bool]]:
    """Percent-decoded parts of a URL's path, query and fragment, and whether bare domains count in each."""
    rest, _, fragment = tail.partition("#")
    path, _, query = rest.partition("?")
    segments = path.split("/")
    for i, segment in enumerate(segments):
        if segment:
            yield unquote(segment), i < len(segments) - 1
    for pair in query.split("&"):
        value = pair.partition("=")[2] or pair
        if value:
            yield unquote(value.replace("+", " ")), True
    if fragment:
        yield unquote(fragment), False


class _Extraction:
    """One pass over one text: the refanged text, where it was defanged, what is claimed and found."""

    def __init__(self, text: str, depth: int, bare_domains: bool = True) -> None:
        self.text, self.marks = refang_marked(text)
        self.claimed = bytearray(len(self.text))
        self.found: set[IOC] = set()
        self.depth = depth
        self.bare_domains = bare_domains

    def free(self, start: int, end: int) -> bool:
        return not any(self.claimed[start:end])

    def claim(self, start: int, end: int) -> None:
        self.claimed[start:end] = b"\x01" * (end - start)

    def defanged(self, start: int, end: int) -> bool:
        return any(start <= m < end for m in self.marks)

    def run(self) -> set[IOC]:
        text = self.text
        if "://" in text:
            self.urls()
        if "@" in text:
            self.emails()
        self.hashes_and_wallets()
        self.cves()
        if text.count(":") >= 2:
            self.ipv6s()
        if "." in text:
            self.ipv4s()
        self.bitcoins_and_moneros()
        if "." in text:
            self.domains()
        return self.found

    # ------------------------------------------------------------------ URLs
    def urls(self) -> None:
        pos = 0
        while m := _URL.search(self.text, pos):
            start, raw = m.start(), m.group(0)
            quote = self.text[start - 1] if start and self.text[start - 1] in "'\"" else ""
            if quote:
                raw = raw.split(quote, 1)[0]
            url = _trim(_cut_at_stray_bracket(raw))
            pos = start + max(len(url), 1)
            if self.add_url(url):
                self.claim(start, start + len(url))

    def add_url(self, url: str) -> bool:
        """Record a URL, its host and what its path carries; False if it names no usable host."""
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
            _ = parts.port  # raises on a malformed port
        except ValueError:
            return False
        host_found = host_ioc(host)
        if host_found is None:
            return False
        scheme, rest = url.split("://", 1)
        userinfo, at, hostport = parts.netloc.rpartition("@")
        tail = rest[len(parts.netloc):]
        self.found.add(IOC(IOCKind.URL, f"{scheme.lower()}://{userinfo}{at}{hostport.lower()}{tail}"))
        self.found.add(host_found)
        if self.depth < _MAX_DEPTH:
            for piece, bare_domains in _url_pieces(tail):
                self.found |= _Extraction(piece, self.depth + 1, bare_domains).run()
        return True

    def schemeless_url(self, start: int, host_end: int) -> bool:
        """A host directly followed by a path (`evil.com/x`, `10.0.0.1:8080/x`): record it as an http URL."""
        m = _PATH.match(self.text, host_end)
        if not m:
            return False
        url = _trim(self.text[start : m.end()])
        if len(url) <= host_end - start or not self.add_url("http://" + url):
            return False
        self.claim(start, start + len(url))
        return True

    # ------------------------------------------------------------------ e-mail
    def emails(self) -> None:
        for m in _EMAIL.finditer(self.text):
            local, domain = m.group(1), m.group(2)
            stripped = local.lstrip(".-+%")
            start = m.start(1) + len(local) - len(stripped)
            if not stripped or not self.free(start, m.end()) or self._fediverse(m.start()):
                continue
            bracketed = domain.startswith("[")
            host = host_ioc(domain.strip("[]").removeprefix("IPv6:").removeprefix("ipv6:"))
            if host is None or (host.kind is not IOCKind.DOMAIN and not bracketed):
                continue  # `root@10.0.0.5` is a login, not a mailbox: the IP pass reports the address
            self.found.add(IOC(IOCKind.EMAIL, f"{stripped}@{domain}".lower()))
            self.found.add(host)
            self.claim(start, m.end())

    def _fediverse(self, start: int) -> bool:
        """Whether the address at `start` is the `user@instance` of a `@user@instance` handle."""
        return start > 0 and self.text[start - 1] == "@" and (start == 1 or self.text[start - 2] in _OPENERS)

    # ------------------------------------------------------------------ hashes, CVEs, wallets
    def hashes_and_wallets(self) -> None:
        for m in ETH_RE.finditer(self.text):
            if self._bounded(m.start(), m.end()) and self.free(m.start(), m.end()):
                self.found.add(IOC(IOCKind.ETH, m.group(0).lower()))
                self.claim(m.start(), m.end())
        for m in _HEX.finditer(self.text):
            value = m.group(0).lower()
            if not self.free(m.start(), m.end()) or value.isdigit() or not any(c.isdigit() for c in value):
                continue
            self.found.add(IOC(HASH_KINDS[len(value)], value))
            self.claim(m.start(), m.end())

    def _bounded(self, start: int, end: int) -> bool:
        text = self.text
        return (start == 0 or not text[start - 1].isalnum()) and (end == len(text) or not text[end].isalnum())

    def cves(self) -> None:
        for m in _CVE.finditer(self.text):
            self.found.add(IOC(IOCKind.CVE, f"CVE-{m.group(1)}-{m.group(2)}"))
            self.claim(m.start(), m.end())

    def bitcoins_and_moneros(self) -> None:
        checks = ((BTC_BECH32_RE, bech32_ok, IOCKind.BTC), (BTC_LEGACY_RE, base58check_ok, IOCKind.BTC),
                  (XMR_RE, lambda _: True, IOCKind.XMR))
        for pattern, valid, kind in checks:
            for m in pattern.finditer(self.text):
                start, end, value = m.start(), m.end(), m.group(0)
                if self._bounded(start, end) and self.free(start, end) and valid(value):
                    self.found.add(IOC(kind, value.lower() if value[:3].lower() == "bc1" else value))
                    self.claim(start, end)

    # ------------------------------------------------------------------ IPs
    def ipv6s(self) -> None:
        for m in _IPV6.finditer(self.text):
            if self.free(m.start(), m.end()) and (value := _ipv6(m.group(0))):
                self.found.add(IOC(IOCKind.IPV6, value))
                self.claim(m.start(), m.end())

    def _after_a_dotted_number(self, start: int) -> bool:
        """Whether `start` follows a dot that belongs to something before it (`x.1.2.3.4`, `.1.2.3.4`)."""
        text = self.text
        return start > 0 and text[start - 1] == "." and (start == 1 or text[start - 2].isalnum())

    def ipv4s(self) -> None:
        for m in _IPV4.finditer(self.text):
            start, end = m.start(), m.end()
            address = _ipv4(m.group(0))
            if address is None or not self.free(start, end) or self._after_a_dotted_number(start):
                continue
            if _VERSION_WORD.search(self.text[max(0, start - 12) : start]):
                continue
            cidr = _CIDR.match(self.text, end)
            if cidr and int(cidr.group(1)) <= 32:
                self.claim(start, cidr.end())
                continue
            if not self.schemeless_url(start, end):
                self.found.add(IOC(IOCKind.IPV4, address))
                self.claim(start, end)

    # ------------------------------------------------------------------ domains
    def domains(self) -> None:
        for m in _DOMAIN.finditer(self.text):
            start, end = m.start(), m.end()
            if not self.free(start, end) or not self._plausible_domain(m):
                continue
            if not self.schemeless_url(start, end):
                self.found.add(IOC(IOCKind.DOMAIN, m.group(1).lower()))
                self.claim(start, end)

    def _plausible_domain(self, m: re.Match[str]) -> bool:
        name, tld = m.group(1), m.group(2)
        if not valid_domain(name):
            return False
        if self.defanged(m.start(), m.end()):
            return True
        if not self.bare_domains or name.lower() in _PRODUCT_NAMES:
            return False
        text, start, end = self.text, m.start(), m.end()
        if start and text[start - 1] == "@":
            return False  # `@alice.bsky.social` is a handle
        labels = name.lower().split(".")
        if text[end : end + 1] == "(" or (len(labels) == 2 and labels[0] in _CODE_RECEIVERS):
            return False
        if tld[0].isupper() and tld[1:].islower() and name[-len(tld) - 2].islower():
            return False
        if tld.lower() in FILE_EXTENSION_TLDS:
            return bool(_HOST_CONTEXT.search(text[max(0, start - 40) : start]))
        return True


def extract_iocs(text: str) -> list[IOC]:
    """Every distinct indicator in `text`, sorted by kind then value."""
    if not text:
        return []
    return sorted(_Extraction(text, depth=0).run())
