"""Fakes for lookup tests: one local HTTP server playing every provider, and a tiny UDP DNS server."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
from aiohttp import web

from config import lookups as lookup_settings

FIXTURES = Path(__file__).parent / "fixtures" / "lookup"
PROVIDERS = tuple(p.name for p in lookup_settings.PROVIDERS)  # every declared provider, served here
GRAVATAR_EMAIL = "jane.doe@example.com"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


class FakeDNS(asyncio.DatagramProtocol):
    """Answers from `zone` ({"name.": {"TXT": ['"v=spf1 -all"']}}); unknown names get NXDOMAIN."""

    def __init__(self, zone: dict[str, dict[str, list[str]]]) -> None:
        self.zone = {k.lower(): v for k, v in zone.items()}
        self.queries: list[tuple[str, str]] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text().lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, rdtype))
        records = self.zone.get(name)
        if records is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif records.get(rdtype):
            response.answer.append(dns.rrset.from_text_list(question.name, 300, "IN", rdtype, records[rdtype]))
        assert self.transport is not None
        self.transport.sendto(response.to_wire(), addr)

    async def start(self) -> str:
        """Listen on a free loopback port; returns `127.0.0.1:port` for settings.lookups.dns_resolver."""
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", 0))
        return f"127.0.0.1:{transport.get_extra_info('sockname')[1]}"

    def stop(self) -> None:
        if self.transport:
            self.transport.close()


DEFAULT_ZONE = {
    "example.com.": {
        "A": ["93.184.215.14"], "AAAA": ["2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
        "MX": ["10 mail.example.com."], "NS": ["a.iana-servers.net.", "b.iana-servers.net."],
        "TXT": ['"v=spf1 -all"', '"_k2n1y4vw3qtb4skdx9e7dxt97qrmmq9"'],
    },
    "nomail.example.": {"MX": ["0 ."], "TXT": []},
    "_dmarc.example.com.": {"TXT": ['"v=DMARC1;p=reject;sp=reject;adkim=s;aspf=s"']},
    "1.1.1.1.in-addr.arpa.": {"PTR": ["one.one.one.one."]},
    "1.1.1.1.origin.asn.cymru.com.": {"TXT": ['"13335 | 1.1.1.0/24 | AU | apnic | 2011-08-11"']},
    "as13335.asn.cymru.com.": {"TXT": ['"13335 | US | arin | 2010-07-14 | CLOUDFLARENET, US"']},
}


class FakeProviders:
    """Every lookup provider on one aiohttp app; `faults[provider]` = "slow" or an HTTP status."""

    def __init__(self) -> None:
        self.faults: dict[str, str | int] = {}
        self.requests: list[web.Request] = []
        self.raw_queries: dict[str, str] = {}
        self.runner: web.AppRunner | None = None
        self.base = ""

    async def _fault(self, provider: str) -> web.Response | None:
        fault = self.faults.get(provider)
        if fault == "slow":
            await asyncio.sleep(1)
        elif isinstance(fault, int):
            return web.Response(status=fault, text="upstream error")
        return None

    def app(self) -> web.Application:
        app = web.Application()
        routes = [
            ("/rdap/domain/{q}", self.rdap_bootstrap), ("/rdap/ip/{q}", self.rdap_bootstrap),
            ("/rdap-auth/{kind}/{q}", self.rdap_object), ("/crtsh/", self.crtsh),
            ("/wayback/cdx/search/cdx", self.wayback), ("/internetdb/{ip}", self.internetdb),
            ("/nvd", self.nvd), ("/kev", self.kev), ("/epss", self.epss),
            ("/gravatar/profiles/{hash}", self.gravatar), ("/hibp/breachedaccount/{email}", self.hibp),
            ("/greynoise/{ip}", self.greynoise), ("/abuseipdb/check", self.abuseipdb),
            ("/short/{code}", self.short), ("/landing", self.landing), ("/to-metadata", self.to_metadata),
        ]
        for path, handler in routes:
            app.router.add_get(path, handler)
        return app

    async def start(self) -> FakeProviders:
        self.runner = web.AppRunner(self.app())
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()

    def settings(self, keys: dict[str, str] | None = None, timeout_s: float = 2.0) -> dict[str, Any]:
        """`lookups` settings pointing every provider here, fast rates, optional keys."""
        lookups: dict[str, Any] = {}
        for name in PROVIDERS:
            lookups[name] = {"base_url": f"{self.base}/{name}", "rate_per_s": 1000, "timeout_s": timeout_s}
            if keys and name in keys:
                lookups[name]["key"] = keys[name]
        return lookups

    def count(self, prefix: str) -> int:
        return sum(1 for r in self.requests if r.path.startswith(prefix))

    # handlers ------------------------------------------------------------------
    async def rdap_bootstrap(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request)
        if fault := await self._fault("rdap"):
            return fault
        kind = request.path.split("/")[2]
        raise web.HTTPFound(f"/rdap-auth/{kind}/{request.match_info['q']}")

    async def rdap_object(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        files = {("domain", "example.com"): "rdap_domain_example.com.json", ("ip", "1.1.1.1"): "rdap_ip_1.1.1.1.json"}
        name = files.get((request.match_info["kind"], request.match_info["q"].lower()))
        if name is None:
            return web.json_response({"errorCode": 404, "title": "Not Found"}, status=404)
        return web.json_response(fixture(name), content_type="application/rdap+json")

    async def crtsh(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        self.raw_queries["crtsh"] = request.raw_path
        if fault := await self._fault("crtsh"):
            return fault
        if request.query.get("q") == "%.example.com" and request.query.get("output") == "json":
            return web.json_response(fixture("crtsh_example.com.json"))
        return web.json_response([])

    async def wayback(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        if fault := await self._fault("wayback"):
            return fault
        if request.query.get("url") == "example.com":
            return web.json_response(fixture("wayback_cdx_example.com.json"))
        return web.json_response([])

    async def internetdb(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        if fault := await self._fault("internetdb"):
            return fault
        if request.match_info["ip"] == "1.1.1.1":
            return web.json_response(fixture("internetdb_1.1.1.1.json"))
        return web.json_response({"detail": "No information available"}, status=404)

    async def nvd(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        if fault := await self._fault("nvd"):
            return fault
        if request.query.get("cveId") == "CVE-2021-44228":
            return web.json_response(fixture("nvd_CVE-2021-44228.json"))
        return web.json_response(fixture("nvd_empty.json"))

    async def kev(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        if fault := await self._fault("kev"):
            return fault
        return web.json_response(fixture("kev_catalogue.json"))

    async def epss(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        if fault := await self._fault("epss"):
            return fault
        if request.query.get("cve") == "CVE-2021-44228":
            return web.json_response(fixture("epss_CVE-2021-44228.json"))
        return web.json_response({"status": "OK", "status-code": 200, "total": 0, "data": []})

    async def gravatar(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        if request.match_info["hash"] == hashlib.sha256(GRAVATAR_EMAIL.encode()).hexdigest():
            return web.json_response(fixture("gravatar_profile.json"))
        return web.json_response({"error": "Profile not found"}, status=404)

    async def hibp(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        if request.headers.get("hibp-api-key") != "hibp-test-key":
            return web.json_response({"statusCode": 401}, status=401)
        if request.match_info["email"] == GRAVATAR_EMAIL:
            return web.json_response(fixture("hibp_breachedaccount_truncated.json"))
        return web.Response(status=404)

    async def greynoise(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        if request.match_info["ip"] == "1.1.1.1":
            return web.json_response(fixture("greynoise_1.1.1.1.json"))
        return web.json_response({"ip": request.match_info["ip"], "noise": False, "riot": False,
                                  "message": "IP not observed scanning the internet or contained in RIOT data set."},
                                 status=404)

    async def short(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        raise web.HTTPMovedPermanently(f"/landing?from={request.match_info['code']}")

    async def landing(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        return web.Response(text="<html><title>Landing</title></html>", content_type="text/html")

    async def to_metadata(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")

    async def abuseipdb(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        if request.headers.get("Key") != "abuse-test-key":
            return web.json_response({"errors": [{"detail": "Authentication failed"}]}, status=401)
        return web.json_response(fixture("abuseipdb_check_1.1.1.1.json"))


async def no_sleep(_seconds: float) -> None:
    """Retry backoff that does not wait (tests)."""


async def start_lookup_bot(tmp_path: Path, *, keys: dict[str, str] | None = None, timeout_s: float = 2.0,
                           zone: dict[str, dict[str, list[str]]] | None = None, **settings: Any):
    """A harness serving the lookup commands against FakeProviders and FakeDNS; returns (bot, http, dns)."""
    from handlers.fetch import PoliteFetcher
    from handlers.lookup.commands import commands
    from tests.harness import BotHarness

    providers = await FakeProviders().start()
    fake_dns = FakeDNS(DEFAULT_ZONE if zone is None else zone)
    lookups = providers.settings(keys, timeout_s)
    lookups["dns_resolver"] = await fake_dns.start()
    lookups["dns_timeout_s"] = 1.0
    lookups.update(settings.pop("lookups", {}))
    bot = BotHarness(tmp_path, sets=[commands], lookups=lookups, **settings)
    await bot.start()
    bot.services.fetcher = PoliteFetcher(bot.services.http, sleep=no_sleep)
    return bot, providers, fake_dns


async def stop_lookup_bot(bot: Any, providers: FakeProviders, fake_dns: FakeDNS) -> None:
    await bot.stop()
    await providers.stop()
    fake_dns.stop()
