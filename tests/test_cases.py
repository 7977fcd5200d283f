"""Cases end to end through the harness: a scripted investigation, pivots on fake providers, every export."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
import stix2
from sqlmodel import select

from bot.render.text import render_text
from bot.reply import Reply
from handlers.cases.commands import commands as case_commands
from handlers.lookup.commands import commands as lookup_commands
from handlers.monitor.post import Author, Post
from storage.models import CaseEntity, CaseEvent, Role
from tests.harness import BotHarness
from tests.lookup_fakes import FakeDNS, FakeProviders

HOSTILE = '<script>alert(1)</script><img src="https://tracker.example/x.png"> ![x](https://tracker.example/y.png)'
ANALYST, VIEWER, OTHER_CHAT = 2001, 2002, -7777


class Env:
    def __init__(self, bot: BotHarness, http: FakeProviders) -> None:
        self.bot, self.http = bot, http

    async def run(self, line: str, **kwargs: Any) -> list[Reply]:
        kwargs.setdefault("role", Role.ANALYST)
        kwargs.setdefault("user_id", ANALYST)
        return await self.bot.run(line, **kwargs)

    async def text(self, line: str, **kwargs: Any) -> str:
        return "\n\n".join(render_text(r) for r in await self.run(line, **kwargs))

    async def attachment(self, line: str, **kwargs: Any) -> tuple[str, bytes]:
        files = [a for r in await self.run(line, **kwargs) for a in r.attachments]
        assert len(files) == 1, f"{line}: {files}"
        return files[0].filename, files[0].data

    async def entities(self) -> list[CaseEntity]:
        return await self.bot.services.db.run(lambda s: list(s.exec(select(CaseEntity)).all()))

    async def store_post(self, post: Post) -> int:
        def insert(session) -> int:  # type: ignore[no-untyped-def]
            row = post.to_row()
            session.add(row)
            session.flush()
            return row.id

        return await self.bot.services.db.run(insert)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    providers = await FakeProviders().start()
    fake_dns = FakeDNS({
        "example.com.": {"A": ["93.184.215.14"], "MX": ["10 mail.example.com."], "NS": ["a.iana-servers.net."]},
    })
    lookups = providers.settings({"hibp": "hibp-test-key"})
    lookups["dns_resolver"] = await fake_dns.start()
    lookups["dns_timeout_s"] = 1.0
    lookups["default_region"] = "GB"
    clock = lambda: datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # noqa: E731
    bot = BotHarness(tmp_path, sets=[case_commands, lookup_commands], lookups=lookups, clock=clock)
    await bot.start()
    yield Env(bot, providers)
    await bot.stop()
    await providers.stop()
    fake_dns.stop()


def alert_post() -> Post:
    return Post(
        source="mastodon", source_id="109", created_at=datetime(2026, 11, 27, 9, 30, tzinfo=UTC),
        text=f"New phishing kit on hxxps://login.Evil[.]com/verify hash "
             f"44d88612fea8a8f36de82e1278abb02f see CVE-2021-44228 {HOSTILE} cc @bob",
        author=Author("1", "mallory@infosec.example", "Mallory <b>M</b>"),
        url="https://infosec.example/@mallory/109", mentions=["bob"],
    )


class AssetScanner(HTMLParser):
    """Collects every URL an HTML page would load by itself (not links a reader may click)."""

    LOADING = {("img", "src"), ("script", "src"), ("link", "href"), ("iframe", "src"), ("source", "src"),
               ("video", "src"), ("audio", "src"), ("embed", "src"), ("object", "data"), ("image", "href")}

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []
        self.tags: list[str] = []
        self.anchors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if (tag, name) in self.LOADING and value:
                self.loads.append(value)
            if tag == "a" and name == "href" and value:
                self.anchors.append(value)
            if name == "style" and value and "url(" in value:
                self.loads.append(value)


async def test_scripted_investigation_exports_every_format(env: Env) -> None:
    assert "opened" in await env.text("/case new Phishing wave <against> Example")
    post_id = await env.store_post(alert_post())

    # the alert's "Add to case" button runs this line
    text = await env.text(f"/case add post:{post_id}")
    assert "Added to case" in text
    kinds = {(e.kind, e.key) for e in await env.entities()}
    assert ("post", "mastodon:109") in kinds
    assert ("account", "mastodon:mallory@infosec.example") in kinds and ("account", "mastodon:bob") in kinds
    assert ("domain", "login.evil.com") in kinds and ("url", "https://login.evil.com/verify") in kinds
    assert ("hash", "44d88612fea8a8f36de82e1278abb02f") in kinds and ("cve", "CVE-2021-44228") in kinds

    # an indicator typed defanged and a lookup whose results join the graph
    await env.run("/case add Example[.]COM")
    text = await env.text("/case pivot example.com")
    assert "resolves-to" in text and "registered-with" in text and "subdomain-of" in text
    keys = {(e.kind, e.key): e for e in await env.entities()}
    assert ("ip", "93.184.215.14") in keys and ("domain", "www.example.com") in keys
    assert ("domain", "mail.example.com") in keys
    assert ("organisation", "reserved internet assigned numbers authority") in keys
    assert "RDAP" in keys[("organisation", "reserved internet assigned numbers authority")].sources
    await env.run("/case pivot CVE-2021-44228")
    cve = (await env.entities())
    assert any(e.kind == "cve" and e.attrs.get("known_exploited") is True for e in cve)

    await env.run("/case tag account:mastodon:mallory@infosec.example actor")
    assert "makes it an Indicator" in await env.text("/case tag login.evil.com malicious")
    await env.run("/case tag 44d88612fea8a8f36de82e1278abb02f malicious")
    await env.run("/case link account:mastodon:mallory@infosec.example related-to login.evil.com")
    await env.run(f"/case note Kit reuses {HOSTILE}")
    await env.run("/case note Registrar notified")

    show = await env.text("/case show", role=Role.VIEWER, user_id=VIEWER)
    assert "Phishing wave <against> Example" in show and "login[.]evil[.]com" in show

    exports = {fmt: await env.attachment(f"/case export {fmt}", role=Role.VIEWER, user_id=VIEWER)
               for fmt in ("html", "md", "json", "csv", "stix", "gexf")}
    assert exports["html"][0].startswith("case-1-phishing-wave-against-example")

    html = exports["html"][1].decode()
    scanner = AssetScanner()
    scanner.feed(html)
    assert all(src.startswith("data:image/png;base64,") for src in scanner.loads), scanner.loads
    assert len(scanner.loads) == 2  # graph and timeline, inline
    assert "script" not in scanner.tags
    assert all(a.startswith("https://infosec.example/") for a in scanner.anchors)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Content-Security-Policy" in html
    for section in ("Executive summary", "Case details", "Timeline", "Graph", "Entities", "Relationships",
                    "Key posts", "Analyst notes", "Sources and attributions", "Appendix: change log"):
        assert f"<h2>{section}</h2>" in html
    assert "Registrar notified" in html and "crt.sh" in html and "mastodon" in html.lower()
    assert "NVD API but is not endorsed" in html

    md = exports["md"][1].decode()
    assert "![x](https://" not in md and "<script>" not in md and "Registrar notified" in md

    data = json.loads(exports["json"][1])
    assert data["schema"] == "socmint.case" and data["schema_version"] == 1
    assert {"created", "added", "pivot", "tagged", "linked", "note"} <= {e["action"] for e in data["events"]}
    assert all(e["by"] == f"user{ANALYST} (telegram:{ANALYST})" for e in data["events"])
    assert len(data["notes"]) == 2 and data["case"]["chat"] == "telegram:-5001"

    with zipfile.ZipFile(io.BytesIO(exports["csv"][1])) as archive:
        names = {Path(n).name for n in archive.namelist()}
        assert {"entities.csv", "links.csv", "posts.csv"} <= names
        posts_csv = archive.read("case-1/posts.csv").decode("utf-8-sig")
        assert "mastodon" in posts_csv and "infosec.example/@mallory/109" in posts_csv

    bundle = stix2.parse(exports["stix"][1].decode(), allow_custom=False)
    types = {o.type for o in bundle.objects}
    assert {"indicator", "observed-data", "threat-actor", "relationship", "vulnerability", "report",
            "note"} <= types
    patterns = {o.pattern for o in bundle.objects if o.type == "indicator"}
    assert "[domain-name:value = 'login.evil.com']" in patterns
    assert "[file:hashes.'MD5' = '44d88612fea8a8f36de82e1278abb02f']" in patterns
    assert not any("93.184.215.14" in p for p in patterns)  # found by a pivot: observed, not an indicator
    assert not any("login.evil.com/verify" in p for p in patterns)  # from the post but not marked malicious
    observed = {ref for o in bundle.objects if o.type == "observed-data" for ref in o.object_refs}
    url_ids = {o.id for o in bundle.objects if o.type == "url" and o.value == "https://login.evil.com/verify"}
    assert url_ids and url_ids <= observed
    assert any(o.type == "relationship" and o.relationship_type == "indicates" for o in bundle.objects)

    graph = nx.read_gexf(io.BytesIO(exports["gexf"][1]))
    assert graph.number_of_nodes() == len(await env.entities())
    labels = {d["label"] for _, d in graph.nodes(data=True)}
    assert "login.evil.com" in labels and "93.184.215.14" in labels


async def test_deduplication_merges_defanged_idn_and_phone_forms(env: Env) -> None:
    await env.run("/case new Dedupe")
    for line in ("/case add Evil[.]com", "/case add evil.com", "/case add EVIL.COM.", "/case add bücher.de",
                 "/case add xn--bcher-kva.de", "/case add hxxps://Evil[.]com:443/a#frag",
                 "/case add https://evil.com/a", "/case add phone:+44 20 7946 0958",
                 "/case add phone:020 7946 0958", "/case add org:ACME, Inc.", "/case add org:acme inc"):
        assert "Added to case" in await env.text(line), line
    found = sorted((e.kind, e.key) for e in await env.entities())
    assert found == [
        ("domain", "evil.com"), ("domain", "xn--bcher-kva.de"), ("organisation", "acme inc"),
        ("phone", "+442079460958"), ("url", "https://evil.com/a"),
    ]
    text = await env.text("/case add evil.com")
    assert "+0 entities (1 already in the case)" in text


async def test_roles_chats_and_closed_cases(env: Env) -> None:
    assert "needs the analyst role" in await env.text("/case new Nope", role=Role.VIEWER, user_id=VIEWER)
    assert "no current case" in await env.text("/case add evil.com")
    await env.run("/case new Team A case")
    assert "no case 1 in this chat" in await env.text("/case show 1", chat_id=OTHER_CHAT)
    assert "No cases in this chat" in await env.text("/case list", chat_id=OTHER_CHAT)
    assert "needs the analyst role" in await env.text("/case note hi", role=Role.VIEWER, user_id=VIEWER)
    await env.run("/case close")
    assert "is closed" in await env.text("/case add evil.com")
    assert "is closed" in await env.text("/case note too late")
    await env.run("/case reopen 1")
    assert "Added to case" in await env.text("/case add evil.com")
    events = await env.bot.services.db.run(lambda s: [e.action for e in s.exec(select(CaseEvent)).all()])
    assert events == ["created", "closed", "reopened", "added"]
    listing = await env.text("/case list", role=Role.VIEWER, user_id=VIEWER)
    assert "Team A case" in listing and "1 *" in listing


async def test_pictures_and_bad_input(env: Env) -> None:
    await env.run("/case new Pictures")
    assert "no entities to draw" in await env.text("/case graph")
    await env.run("/case add 1.2.3[.]4")
    await env.run("/case add hxxp://1.2.3[.]4/payload.exe")
    for line in ("/case graph", "/case timeline"):
        name, data = await env.attachment(line, role=Role.VIEWER, user_id=VIEWER)
        assert name.endswith(".png") and data.startswith(b"\x89PNG")
    assert "Could not tell what" in await env.text("/case add ???")
    assert "no stored post 999" in await env.text("/case add post:999")
    assert "no lookup to pivot on from a person" in await env.text("/case pivot person:Jane Doe")
    assert "not a link kind" in await env.text("/case link #1 befriends #2")
    assert "not looked up anywhere" in await env.text("/case pivot 10.0.0.1")
