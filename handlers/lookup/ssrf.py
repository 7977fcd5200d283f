"""The SSRF guard: fetch a user-supplied URL without ever reaching a private or internal address.

Every hop of a redirect chain is parsed, its host resolved, and *every* address checked; the
request then goes to the very address that was checked (the URL is pinned to the IP, with the
original Host header and TLS SNI), so a DNS answer that changes between check and connect
cannot redirect it. Only http/https; hop, size and time caps.

Usage (feeds, /url)::

    guard = SsrfGuard()
    response = await guard.fetch(fetcher, "https://example.com/feed.xml")
    response.body, response.hops, response.url
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx

from handlers.fetch import FetchError, PoliteFetcher

Resolver = Callable[[str, int], Awaitable[list[str]]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DEFAULT_PORTS = {"http": 80, "https": 443}
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)
# Ranges Python's ipaddress does not flag as non-global on every supported version.
_EXTRA_BLOCKED = tuple(
    ipaddress.ip_network(n)
    for n in ("0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "198.18.0.0/15", "240.0.0.0/4", "64:ff9b:1::/48")
)


class Blocked(Exception):
    """The URL (or a hop it redirected to) was refused; `hops` are the hops fetched before it."""

    def __init__(self, url: str, reason: str, hops: Sequence[Hop] = ()) -> None:
        super().__init__(f"refused {url}: {reason}")
        self.url = url
        self.reason = reason
        self.hops = list(hops)


@dataclass(frozen=True)
class Target:
    """A checked URL: where it will connect (`ip`) and how to address it there."""

    url: str
    scheme: str
    host: str  # IDNA-encoded host name, or the IP in canonical form
    port: int
    ip: str

    @property
    def pinned_url(self) -> httpx.URL:
        """The URL with its host replaced by the checked IP."""
        return httpx.URL(self.url).copy_with(host=self.ip)

    @property
    def host_header(self) -> str:
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == DEFAULT_PORTS[self.scheme] else f"{name}:{self.port}"


@dataclass(frozen=True)
class Hop:
    """One request in a redirect chain."""

    url: str
    ip: str
    status: int
    location: str | None = None


@dataclass
class GuardedResponse:
    """The last response of a chain: body capped at `max_bytes` (`truncated` says if cut)."""

    url: str
    status: int
    headers: httpx.Headers
    body: bytes
    truncated: bool
    hops: list[Hop] = field(default_factory=list)
    stopped: str | None = None  # why the chain ended early (too many redirects)

    @property
    def text(self) -> str:
        """The body decoded with the declared charset (UTF-8 when none), errors replaced."""
        charset = httpx.Response(200, headers=self.headers).charset_encoding or "utf-8"
        try:
            return self.body.decode(charset, errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with the operating system (getaddrinfo), every address family."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Blocked(host, f"does not resolve ({exc.strerror})") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, compatible, 6to4, Teredo, NAT64), if any."""
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    if ip in ipaddress.ip_network("64:ff9b::/96"):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if int(ip) >> 32 == 0 and int(ip) > 1:  # deprecated IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(int(ip))
    return None


def why_blocked(ip: IPAddress) -> str | None:
    """Why an address must not be contacted, or None when it is a public unicast address."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None:
            reason = why_blocked(inner)
            return f"{reason} (inside {ip})" if reason else None
    checks = (
        ("loopback", ip.is_loopback),
        ("unspecified", ip.is_unspecified),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved or any(ip in net for net in _EXTRA_BLOCKED if net.version == ip.version)),
        ("private", ip.is_private),
        ("site-local", isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local),
        ("not globally routable", not ip.is_global),
    )
    return next((name for name, hit in checks if hit), None)


def parse_host(host: str) -> tuple[str, IPAddress | None]:
    """The host in canonical form and, when it is a literal address in any notation, the address.

    Numeric forms browsers and libc accept (`2130706433`, `0177.0.0.1`, `0x7f.1`, `127.1`) are
    read the same way here, so they cannot slip past the check as "names".
    """
    host = host.strip().rstrip(".").lower()
    if not host:
        raise ValueError("no host")
    if host.startswith("[") and host.endswith("]"):
        ip6 = ipaddress.IPv6Address(host[1:-1].split("%", 1)[0])
        return str(ip6), ip6
    try:
        ip = ipaddress.ip_address(host)
        return str(ip), ip
    except ValueError:
        pass
    if _NUMERIC_LABEL.match(host.rsplit(".", 1)[-1]):
        try:
            ip4 = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            raise ValueError(f"{host!r} is neither a host name nor an IPv4 address") from None
        return str(ip4), ip4
    try:
        return host.encode("idna").decode("ascii"), None
    except UnicodeError:
        raise ValueError(f"{host!r} is not a valid host name") from None


class SsrfGuard:
    """Checks and fetches user-supplied URLs; refuses anything that is not public http(s).

    `resolver` is injectable (tests use a fake one). `allow_networks_for_tests` lets tests reach
    a fake server on loopback; it exists for tests only and no setting turns it on.
    """

    def __init__(
        self,
        resolver: Resolver = system_resolver,
        *,
        allow_networks_for_tests: Iterable[str] = (),
        max_hops: int = 5,
        max_bytes: int = 2_000_000,
        timeout_s: float = 20.0,
    ) -> None:
        self.resolver = resolver
        self._allowed = tuple(ipaddress.ip_network(n) for n in allow_networks_for_tests)
        self.max_hops = max_hops
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    def refusal(self, ip: IPAddress) -> str | None:
        """Why `ip` is refused, honouring the test allow-list."""
        if any(ip.version == net.version and ip in net for net in self._allowed):
            return None
        return why_blocked(ip)

    async def check(self, url: str) -> Target:
        """Parse, resolve and vet `url`; return where to connect or raise Blocked."""
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise Blocked(url, f"only http and https URLs are fetched, not {scheme or 'a bare name'}")
        try:
            host, literal = parse_host(parts.hostname or "")
            port = parts.port or DEFAULT_PORTS[scheme]
        except ValueError as exc:
            raise Blocked(url, str(exc)) from None
        if literal is not None:
            addresses = [literal]
        else:
            answers = await self.resolver(host, port)
            if not answers:
                raise Blocked(url, f"{host} has no addresses")
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in answers]
        for ip in addresses:
            reason = self.refusal(ip)
            if reason:
                shown = host if literal is not None else f"{host} → {ip}"
                raise Blocked(url, f"{shown} is a {reason} address")
        return Target(url=url.strip(), scheme=scheme, host=host, port=port, ip=str(addresses[0]))

    async def fetch(
        self,
        via: PoliteFetcher | httpx.AsyncClient,
        url: str,
        *,
        method: str = "GET",
        headers: dict[str, str] | None = None,
        follow_redirects: bool = True,
        key: str | None = None,
        rate_per_s: float | None = None,
        content: str | bytes | None = None,
    ) -> GuardedResponse:
        """Fetch `url`, following redirects hop by hop through the guard.

        With a PoliteFetcher each hop is paced under `key` (the hop's host by default) at
        `rate_per_s`. `content` is the request body (kept across 307/308, dropped when a redirect
        turns the request into a GET). Raises Blocked for refused hops and FetchError (key "url"
        unless given) for network failures or the overall time cap.
        """
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self._chain(via, url, method, headers or {}, follow_redirects, key, rate_per_s,
                                         content)
        except TimeoutError:
            raise FetchError(key or "url", f"gave up after {self.timeout_s:.0f}s") from None

    async def _chain(
        self,
        via: PoliteFetcher | httpx.AsyncClient,
        url: str,
        method: str,
        headers: dict[str, str],
        follow: bool,
        key: str | None,
        rate_per_s: float | None,
        content: str | bytes | None = None,
    ) -> GuardedResponse:
        hops: list[Hop] = []
        while True:
            try:
                target = await self.check(url)
            except Blocked as exc:
                exc.hops = hops
                raise
            response, body, truncated = await self._send(via, target, method, headers, key, rate_per_s, content)
            location = response.headers.get("location") if response.status_code in REDIRECT_STATUSES else None
            next_url = urljoin(url, location) if location else None
            hops.append(Hop(url, target.ip, response.status_code, next_url))
            if not (follow and next_url):
                return GuardedResponse(url, response.status_code, response.headers, body, truncated, hops)
            if len(hops) > self.max_hops:
                return GuardedResponse(url, response.status_code, response.headers, body, truncated, hops,
                                       stopped=f"stopped after {self.max_hops} redirects")
            if response.status_code == 303 or (response.status_code in (301, 302) and method == "POST"):
                method, content = "GET", None
            url = next_url

    async def _send(
        self,
        via: PoliteFetcher | httpx.AsyncClient,
        target: Target,
        method: str,
        headers: dict[str, str],
        key: str | None,
        rate_per_s: float | None,
        content: str | bytes | None = None,
    ) -> tuple[httpx.Response, bytes, bool]:
        client = via.client if isinstance(via, PoliteFetcher) else via
        if isinstance(via, PoliteFetcher):
            await via.limiter.acquire(key or target.host, rate_per_s)
        request = client.build_request(
            method,
            target.pinned_url,
            headers={**headers, "Host": target.host_header, "Connection": "close"},
            content=content,
            extensions={"sni_hostname": target.host} if target.scheme == "https" else {},
        )
        try:
            response = await client.send(request, stream=True, follow_redirects=False)
        except httpx.TimeoutException:
            raise FetchError(key or "url", f"{target.host}: timed out") from None
        except httpx.TransportError as exc:
            raise FetchError(key or "url", f"{target.host}: connection failed ({type(exc).__name__})") from None
        try:
            if response.status_code in REDIRECT_STATUSES or method == "HEAD":
                return response, b"", False
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size > self.max_bytes:
                    return response, b"".join(chunks)[: self.max_bytes], True
            return response, b"".join(chunks), False
        except httpx.HTTPError as exc:
            raise FetchError(key or "url", f"{target.host}: read failed ({type(exc).__name__})") from None
        finally:
            await response.aclose()
