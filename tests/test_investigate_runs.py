"""Each shipped playbook run end to end against fake providers: steps and order, budgets, dedup, the case."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from bot.render.text import render_text
from config.investigate import InvestigateSettings
from handlers.investigate import commands as inv
from handlers.investigate.runner import StepStatus
from handlers.lookup.ssrf import SsrfGuard
from handlers.lookup.url import GUARD
from storage import cases as case_store
from storage.models import AuditEntry
from tests.investigate_fakes import FIXTURES, world

DOMAIN_STEPS = ["domain.rdap", "domain.dns", "domain.subdomains", "domain.wayback"]
IP_STEPS = ["ip.rdap", "ip.asn", "ip.reverse", "ip.internetdb", "ip.greynoise", "ip.abuseipdb"]


def order(picture) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(s.action, picture.entities[s.subject].value) for s in picture.steps]


async def test_domain_playbook_pivots_to_ips_and_subdomains(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        replies = await w.bot.run("/investigate example[.]com")
        picture = await w.picture()
        audited = await w.bot.services.db.run(lambda s: list(s.exec(
            select(AuditEntry).where(AuditEntry.command.startswith("investigate:")))))  # type: ignore[attr-defined]
    expected = [(a, "example.com") for a in DOMAIN_STEPS] + [(a, "1.1.1.1") for a in IP_STEPS]
    expected += [(a, sub) for sub in ("mail.example.com", "mx.example.com", "www.example.com") for a in DOMAIN_STEPS]
    assert order(picture) == expected
    # one.one.one.one came from reverse DNS and from InternetDB: one entity, two links, not followed (depth 1)
    assert sum(1 for e in picture.entities.values() if e.value == "one.one.one.one") == 1
    kinds = {k for (s, k, d) in picture.links if "one.one.one.one" in (s + d)}
    assert kinds == {"reverse-dns", "resolves-to"}
    assert picture.not_followed["domain:one.one.one.one"] == "depth limit (1)"
    assert "cve:CVE-2023-44487" in picture.entities
    # every automated step is audited like a hand-typed lookup
    assert len(audited) == len(picture.steps)
    assert audited[0].command == "investigate:domain.rdap" and audited[0].args == "example.com"
    final = replies[-1]
    text = render_text(final)
    assert "Investigation #1" in text and "done" in text
    assert "1[.]1[.]1[.]1" in text and "CLOUDFLARENET" in text
    assert "Nothing found" in text and "no registration record" in text  # the subdomains have no RDAP
    assert final.attachments[0].data.startswith(b"\x89PNG") and "Pivot graph" in final.attachments[0].caption
    assert any(b.command == "/investigate tick 1 site" for row in final.button_rows for b in row)
    assert "no current case" in text


async def test_email_playbook_everything_lands_in_the_case(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        case_id = await w.open_case()
        replies = await w.bot.run("/investigate jane.doe@example.com")
        picture = await w.picture()
        entities, links = await w.bot.services.db.run(
            lambda s: (case_store.entities(s, case_id), case_store.links(s, case_id)))
    steps = order(picture)
    assert steps[:4] == [("email.split", "jane.doe@example.com"), ("email.mail_dns", "jane.doe@example.com"),
                         ("email.gravatar", "jane.doe@example.com"), ("email.breaches", "jane.doe@example.com")]
    # then breadth first: the domain, the local part, the verified GitHub account
    assert [s for s in steps[4:] if s[0] in ("domain.rdap", "username.sweep", "account.handle")][:3] == [
        ("domain.rdap", "example.com"), ("username.sweep", "jane.doe"), ("account.handle", "github:janedoe")]
    assert ("ip.rdap", "1.1.1.1") in steps  # email → domain → IP (depth 2)
    assert ("account.posts", "github:janedoe") in steps and ("feed", "janedoe") in w.github.calls
    refs = {f"{e.kind}:{e.key}" for e in entities}
    assert {"email:jane.doe@example.com", "domain:example.com", "username:jane.doe", "account:github:janedoe",
            "person:jane doe", "organisation:adobe", "ip:1.1.1.1"} <= refs
    assert refs == set(picture.entities)  # every finding, once
    assert len(links) == len(picture.links)
    text = render_text(replies[-1])
    assert f"added to case #{case_id}" in text and "Adobe" in text


async def test_username_playbook_sweeps_then_reads_profiles(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        await w.bot.run("/investigate alice")
        picture = await w.picture()
    steps = order(picture)
    assert steps[0] == ("username.sweep", "alice")
    accounts = sorted(e.value for e in picture.entities.values() if e.kind.value == "account")
    assert accounts == ["message:alice", "redirect:alice", "status:alice"]
    # each profile found runs the account playbook; these sites are not monitored sources
    assert [s[0] for s in steps[1:4]] == ["account.handle", "account.profile", "account.posts"]
    skipped = [s for s in picture.steps if s.action == "account.posts"]
    assert skipped and all(s.status is StepStatus.SKIPPED and "not one of the monitored sources" in s.detail
                           for s in skipped)
    assert w.farm.hits  # the sweep really asked the farm


async def test_account_playbook_reads_the_monitored_source(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        text = await w.bot.text("/investigate https://github.com/janedoe")
        picture = await w.picture()
    assert order(picture)[:4] == [("account.handle", "github:janedoe"), ("account.profile", "github:janedoe"),
                                  ("account.posts", "github:janedoe"), ("username.sweep", "janedoe")]
    assert "url:https://janedoe.example/blog" in picture.entities
    assert "Researcher in Lisbon" in text and "recent posts" in text


async def test_ip_playbook_with_and_without_keys(tmp_path: Path) -> None:
    async with world(tmp_path, keys={}) as w:
        text = await w.bot.text("/investigate 1.1.1.1")
        picture = await w.picture()
    assert [a for a, _ in order(picture)][:6] == IP_STEPS
    assert "Needs a key" in text and "Abuse reports (AbuseIPDB) on 1[.]1[.]1[.]1" in text
    assert "APNIC" in text and "53, 80, 443" in text


async def test_private_ip_is_never_sent_anywhere(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        text = await w.bot.text("/investigate 10.1.2.3")
        picture = await w.picture()
        assert w.http.requests == [] and w.dns.queries == []
    assert all(s.status is StepStatus.SKIPPED for s in picture.steps if s.action != "ip.abuseipdb")
    assert "private address: not sent to any provider" in text


async def test_url_playbook_follows_redirects_through_the_guard(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        w.bot.services.shared.put(GUARD, SsrfGuard(allow_networks_for_tests=["127.0.0.0/8"]))
        await w.bot.run(f"/investigate {w.http.base}/short/abc")
        picture = await w.picture()
    steps = order(picture)
    assert steps[:3] == [("url.host", f"{w.http.base}/short/abc"), ("url.expand", f"{w.http.base}/short/abc"),
                         ("url.wayback", f"{w.http.base}/short/abc")]
    assert ("url.host", f"{w.http.base}/landing?from=abc") in steps  # the final URL, followed
    assert ("ip.rdap", "127.0.0.1") in steps
    assert next(s for s in picture.steps if s.action == "ip.rdap").status is StepStatus.SKIPPED


async def test_url_to_loopback_is_refused_by_the_default_guard(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        text = await w.bot.text(f"/investigate {w.http.base}/landing")
    assert "No answer" in text and "refused" in text


async def test_cve_and_phone_playbooks(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        cve = await w.bot.text("/investigate CVE-2021-44228")
        cve_steps = order(await w.picture())
        requests_before = len(w.http.requests)
        phone = await w.bot.text("/investigate +44 20 7946 0958")
        phone_picture = await w.picture()
        assert len(w.http.requests) == requests_before  # the phone playbook is offline
    assert [a for a, _ in cve_steps] == ["cve.nvd", "cve.kev", "cve.epss", "cve.mentions"]
    assert "known exploited" in cve and "yes, since" in cve and "organisation (1)" in cve and "Apache" in cve
    assert [a for a, _ in order(phone_picture)] == ["phone.parse"]
    assert "location:london" in phone_picture.entities and "+442079460958" in phone


async def test_request_budget_and_depth_are_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inv, "settings_for", lambda _s: InvestigateSettings(playbooks_dir=FIXTURES / "team"))
    async with world(tmp_path) as w:
        text = await w.bot.text("/investigate example.com")
        picture = await w.picture()
        investigation = await w.investigation()
        made = len(w.http.requests) + len(w.dns.queries)
        deep = await w.bot.text("/investigate example.com --playbook domain-deep")
        deep_picture = await w.picture()
    # team domain playbook: DNS (5 queries) then the IP's steps, within 8 requests
    assert investigation.requests_max == 8 and investigation.requests_used <= 8 and made <= 8
    assert [a for a, _ in order(picture)] == ["domain.dns", *IP_STEPS]
    statuses = {s.action: s.status for s in picture.steps}
    assert statuses["domain.dns"] is StepStatus.FOUND and StepStatus.BUDGET in statuses.values()
    assert "Not run (request budget spent)" in text and "Search the intranet wiki" in text
    # max_depth 0: subdomains are found but none is investigated
    assert [a for a, _ in order(deep_picture)] == ["domain.rdap", "domain.subdomains"]
    assert deep_picture.not_followed["domain:www.example.com"] == "depth limit (0)"
    assert "Found but not investigated further: 3 (depth limit (0))" in deep
