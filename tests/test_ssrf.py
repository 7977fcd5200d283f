"""The SSRF guard: private, loopback, link-local, reserved and disguised addresses are never contacted."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from aiohttp import web

from handlers.fetch import FetchError
from handlers.lookup.ssrf import Blocked, SsrfGuard


def fake_resolver(table: dict[str, list[str]]):
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return list(table.get(host, []))

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


def recording_client(handler) -> tuple[httpx.AsyncClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    return httpx.AsyncClient(transport=httpx.MockTransport(record)), seen


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://10.0.0.1/admin", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::1]:8080/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[::ffff:a00:1]/", "private"),
        ("http://2130706433/", "loopback"),
        ("http://0177.0.0.1/", "loopback"),
        ("http://0x7f.1/", "loopback"),
        ("http://127.1/", "loopback"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[fc00::1]/", "private"),
        ("http://224.0.0.1/", "multicast"),
        ("http://100.64.1.1/", "reserved"),
        ("http://[2002:7f00:1::]/", "loopback"),
        ("http://240.0.0.1/", "reserved"),
    ],
)
async def test_refuses_internal_literals(url: str, reason: str) -> None:
    resolver = fake_resolver({})
    guard = SsrfGuard(resolver)
    client, seen = recording_client(lambda r: httpx.Response(200))
    with pytest.raises(Blocked) as info:
        await guard.fetch(client, url)
    assert reason in info.value.reason
    assert seen == []
    assert resolver.calls == []  # literals are never looked up


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://example.com/", "ftp://example.com/", "example.com"])
async def test_refuses_other_schemes(url: str) -> None:
    with pytest.raises(Blocked, match="only http and https"):
        await SsrfGuard(fake_resolver({})).check(url)


async def test_hostname_resolving_to_private_address_is_refused() -> None:
    guard = SsrfGuard(fake_resolver({"intranet.example.com": ["192.168.1.10"]}))
    with pytest.raises(Blocked, match=r"intranet\.example\.com → 192\.168\.1\.10 is a private"):
        await guard.check("https://intranet.example.com/")


async def test_any_private_answer_among_many_is_refused() -> None:
    guard = SsrfGuard(fake_resolver({"mixed.example.com": ["93.184.215.14", "127.0.0.1"]}))
    with pytest.raises(Blocked, match="loopback"):
        await guard.check("http://mixed.example.com/")


async def test_public_redirecting_to_private_is_refused_before_the_second_request() -> None:
    resolver = fake_resolver({"public.example.com": ["93.184.215.14"], "sneaky.example.com": ["10.1.2.3"]})

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "http://sneaky.example.com/internal"})

    client, seen = recording_client(handler)
    with pytest.raises(Blocked, match="private") as info:
        await SsrfGuard(resolver).fetch(client, "http://public.example.com/go")
    assert len(seen) == 1
    assert [h.status for h in info.value.hops] == [302]


async def test_redirect_to_metadata_literal_is_refused() -> None:
    client, seen = recording_client(
        lambda r: httpx.Response(301, headers={"Location": "http://169.254.169.254/latest/"})
    )
    guard = SsrfGuard(fake_resolver({"a.example": ["8.8.8.8"]}))
    with pytest.raises(Blocked, match="link-local"):
        await guard.fetch(client, "https://a.example/")
    assert len(seen) == 1


async def test_connects_to_the_checked_address_with_host_header_and_sni() -> None:
    """A DNS answer that changes after the check cannot redirect the connection."""
    answers = iter([["93.184.215.14"], ["127.0.0.1"]])
    looked_up: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        looked_up.append(host)
        return next(answers)

    client, seen = recording_client(lambda r: httpx.Response(200, text="hello"))
    response = await SsrfGuard(rebinding).fetch(client, "https://rebind.example.com/x?y=1")
    assert response.body == b"hello"
    assert looked_up == ["rebind.example.com"]  # resolved once, never again by the client
    request = seen[0]
    assert request.url.host == "93.184.215.14"
    assert request.url.path == "/x" and request.url.query == b"y=1"
    assert request.headers["Host"] == "rebind.example.com"
    assert request.extensions["sni_hostname"] == "rebind.example.com"


async def test_follows_public_chain_and_records_hops() -> None:
    resolver = fake_resolver({"t.co": ["104.244.42.1"], "example.com": ["93.184.215.14"]})

    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers["Host"] == "t.co":
            return httpx.Response(301, headers={"Location": "https://example.com/page"})
        return httpx.Response(200, text="final")

    client, _ = recording_client(handler)
    response = await SsrfGuard(resolver).fetch(client, "https://t.co/abc")
    assert response.url == "https://example.com/page"
    assert [(h.url, h.status) for h in response.hops] == [
        ("https://t.co/abc", 301),
        ("https://example.com/page", 200),
    ]


async def test_hop_cap() -> None:
    resolver = fake_resolver({"loop.example": ["93.184.215.14"]})
    counter = iter(range(100))
    client, seen = recording_client(
        lambda r: httpx.Response(302, headers={"Location": f"/n{next(counter)}"})
    )
    response = await SsrfGuard(resolver, max_hops=3).fetch(client, "http://loop.example/")
    assert response.stopped == "stopped after 3 redirects"
    assert len(seen) == 4


async def test_size_cap_truncates_body() -> None:
    client, _ = recording_client(lambda r: httpx.Response(200, content=b"x" * 5000))
    response = await SsrfGuard(fake_resolver({"big.example": ["8.8.4.4"]}), max_bytes=1000).fetch(
        client, "http://big.example/"
    )
    assert response.truncated and len(response.body) == 1000


async def test_unresolvable_host_is_refused() -> None:
    with pytest.raises(Blocked, match="no addresses"):
        await SsrfGuard(fake_resolver({})).check("http://nothing.example/")


async def test_time_cap_against_a_slow_local_server() -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1)
        return web.Response(text="late")

    app = web.Application()
    app.router.add_get("/", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        guard = SsrfGuard(allow_networks_for_tests=["127.0.0.0/8"], timeout_s=0.2)
        async with httpx.AsyncClient() as client:
            with pytest.raises(FetchError, match="gave up"):
                await guard.fetch(client, f"http://127.0.0.1:{port}/")
        # without the test allow-list the same server is refused outright
        with pytest.raises(Blocked, match="loopback"):
            await SsrfGuard().check(f"http://127.0.0.1:{port}/")
    finally:
        await runner.cleanup()


async def test_localhost_name_is_refused_by_the_system_resolver() -> None:
    with pytest.raises(Blocked, match="loopback"):
        await SsrfGuard().check("http://localhost/")
