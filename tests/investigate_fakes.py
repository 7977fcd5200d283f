"""Fakes for the investigation tests: the lookup providers, DNS, the sweep farm and a monitored source, wired up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import select

from handlers.fetch import PoliteFetcher
from handlers.investigate import commands as investigate_commands
from handlers.investigate.runner import Picture
from handlers.lookup.ssrf import SsrfGuard
from handlers.lookup.url import GUARD
from handlers.monitor.post import Author, Post
from handlers.monitor.sources.base import Page, Profile
from handlers.monitor.sources.registry import SOURCES
from storage import cases as case_store
from storage.models import Investigation
from tests.harness import BotHarness
from tests.lookup_fakes import FakeDNS, FakeProviders, no_sleep
from tests.sweep_farm import Farm, running_farm

FIXTURES = Path(__file__).parent / "fixtures" / "investigate"
KEYS = {"hibp": "hibp-test-key", "abuseipdb": "abuse-test-key"}
FAST_SITES = ["status", "message", "redirect"]
ZONE = {
    "example.com.": {"A": ["1.1.1.1"], "MX": ["10 mail.example.com."], "NS": ["a.iana-servers.net."],
                     "TXT": ['"v=spf1 -all"']},
    "_dmarc.example.com.": {"TXT": ['"v=DMARC1;p=reject"']},
    "1.1.1.1.in-addr.arpa.": {"PTR": ["one.one.one.one."]},
    "1.1.1.1.origin.asn.cymru.com.": {"TXT": ['"13335 | 1.1.1.0/24 | AU | apnic | 2011-08-11"']},
    "as13335.asn.cymru.com.": {"TXT": ['"13335 | US | arin | 2010-07-14 | CLOUDFLARENET, US"']},
}


async def no_resolution(host: str, port: int) -> list[str]:
    """The SSRF guard's resolver in tests: no name resolves, so no test asks the real DNS."""
    return []


class FakeGitHub:
    """A monitored source answering for one account; counts its calls."""

    name = "github"
    title = "GitHub"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def configured(self) -> bool:
        return True

    async def profile(self, handle: str) -> Profile:
        self.calls.append(("profile", handle))
        return Profile("github", Author("1", handle, "Jane Doe"), bio="Researcher in Lisbon",
                       links=["https://janedoe.example/blog"], created_at=datetime(2015, 3, 1, tzinfo=UTC))

    async def account_feed(self, handle: str, cursor: str | None) -> Page:
        self.calls.append(("feed", handle))
        posts = [Post("github", str(i), f"pushed to repo {i}", datetime(2026, 11, i + 1, tzinfo=UTC),
                      Author("1", handle), url=f"https://github.com/{handle}/repo{i}") for i in range(3)]
        return Page(posts)


@dataclass
class World:
    """A started bot and every fake it talks to."""

    bot: BotHarness
    http: FakeProviders
    dns: FakeDNS
    farm: Farm
    github: FakeGitHub

    async def investigation(self, inv_id: int | None = None) -> Investigation:
        def load(session: Any) -> Investigation:
            query = select(Investigation).order_by(Investigation.id.desc())  # type: ignore[union-attr]
            rows = list(session.exec(query))
            return next(r for r in rows if inv_id is None or r.id == inv_id)

        return await self.bot.services.db.run(load)

    async def picture(self) -> Picture:
        return Picture.from_json((await self.investigation()).result)

    async def open_case(self, chat_id: int = -5001, platform: str = "telegram") -> int:
        def create(session: Any) -> int:
            now = self.bot.services.now()
            case = case_store.create(session, platform=platform, chat_id=chat_id, title="test case", by="test", now=now)
            return case.id

        return await self.bot.services.db.run(create)


@asynccontextmanager
async def world(tmp_path: Path, *, users: set[str] | None = None, slow_s: float = 5.0,
                sites: list[str] | None = None, keys: dict[str, str] | None = None,
                **settings: Any) -> AsyncIterator[World]:
    """Everything an investigation talks to, faked on 127.0.0.1, around a started bot."""
    async with AsyncExitStack() as stack:
        farm = await stack.enter_async_context(running_farm(users or {"alice", "jane.doe", "janedoe"}, slow_s))
        http = await FakeProviders().start()
        stack.push_async_callback(http.stop)
        fake_dns = FakeDNS(ZONE)
        lookups = http.settings(KEYS if keys is None else keys)
        lookups["dns_resolver"] = await fake_dns.start()
        stack.callback(fake_dns.stop)
        lookups["dns_timeout_s"] = 1.0
        lookups["sweep"] = {"sites_file": str(farm.wmn_list(tmp_path / "sites.json", sites or FAST_SITES)),
                            "site_timeout_s": 0.5, "deadline_s": 10}
        bot = BotHarness(tmp_path, sets=[investigate_commands.commands], lookups=lookups, **settings)
        await bot.start()
        stack.push_async_callback(bot.stop)
        bot.services.fetcher = PoliteFetcher(bot.services.http, sleep=no_sleep)
        bot.services.shared.put(GUARD, SsrfGuard(resolver=no_resolution))
        github = FakeGitHub()
        bot.services.shared.put(SOURCES, {"github": github})
        yield World(bot, http, fake_dns, farm, github)
