"""The lookup commands end to end: harness → router → providers on a local fake server and fake DNS."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.render.text import render_text
from handlers.lookup.ssrf import SsrfGuard
from handlers.lookup.url import GUARD
from storage.models import AuditEntry, Role, StoredPost
from tests.lookup_fakes import FakeDNS, FakeProviders, start_lookup_bot, stop_lookup_bot


def has(text: str, key: str, value: str) -> bool:
    """Whether a key-value line `key … value` is in the rendered text."""
    return re.search(rf"^\s*{re.escape(key)}\s+{re.escape(value)}\s*$", text, re.MULTILINE) is not None


KEYS = {"hibp": "hibp-test-key", "abuseipdb": "abuse-test-key"}


class Env:
    def __init__(self, bot: Any, http: FakeProviders, dns: FakeDNS) -> None:
        self.bot, self.http, self.dns = bot, http, dns

    async def text(self, line: str, **kwargs: Any) -> str:
        return await self.bot.text(line, **kwargs)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    bot, http, dns = await start_lookup_bot(tmp_path, keys=KEYS)
    yield Env(bot, http, dns)
    await stop_lookup_bot(bot, http, dns)


@pytest.fixture
async def keyless(tmp_path: Path) -> AsyncIterator[Env]:
    bot, http, dns = await start_lookup_bot(tmp_path)
    yield Env(bot, http, dns)
    await stop_lookup_bot(bot, http, dns)


# /domain -----------------------------------------------------------------------
async def test_domain_answers_from_every_provider(env: Env) -> None:
    replies = await env.bot.run("/domain example[.]com")
    text = render_text(replies[-1])
    assert "RESERVED-Internet Assigned Numbers Authority" in text  # registrar, via the rdap.org redirect
    assert "1995-08-14" in text and "2026-08-13" in text
    assert "a.iana-servers.net" in text
    assert "93.184.215.14" in text and "10 mail.example.com" in text and "v=spf1 -all" in text
    assert "mail.example.com" in text and "www.example.com" in text and "mx.example.com" in text
    assert "evil-example.com" not in text  # crt.sh names outside the domain are dropped
    assert "2002-01-20" in text and "2026-11-01" in text  # Wayback first and last capture
    assert "%25.example.com" in env.http.raw_queries["crtsh"]
    assert "⚠️" not in text
    commands = [b.command for row in replies[-1].button_rows for b in row]
    assert "/ip 93.184.215.14" in commands


async def test_domain_degrades_per_provider(tmp_path: Path) -> None:
    bot, http, dns = await start_lookup_bot(tmp_path, timeout_s=0.3)
    try:
        http.faults.update({"rdap": "slow", "crtsh": 502})
        text = await bot.text("/domain example.com")
        assert "RDAP: timed out" in text
        assert "crt.sh: HTTP 502" in text
        assert "93.184.215.14" in text  # DNS still answered
        assert "2002-01-20" in text  # and Wayback
    finally:
        await stop_lookup_bot(bot, http, dns)


async def test_a_provider_turned_off_is_never_asked(env: Env) -> None:
    env.bot.services.settings.lookups.crtsh.enabled = False
    text = await env.text("/domain example.com")
    assert "crt.sh: turned off (lookups.crtsh.enabled = false)" in text
    assert env.http.count("/crtsh/") == 0
    assert "RESERVED-Internet Assigned Numbers Authority" in text  # the other providers still answer


async def test_domain_unknown_to_dns_and_rdap(env: Env) -> None:
    text = await env.text("/domain nothing-here.example")
    assert "DNS: nothing-here.example does not exist (NXDOMAIN)" in text
    assert "RDAP: no registration record" in text
    assert "no captures" in text


async def test_domain_rejects_non_domains(env: Env) -> None:
    assert "not a domain name" in await env.text("/domain not a domain")


async def test_lookups_are_cached_until_the_ttl(tmp_path: Path) -> None:
    now = [datetime(2026, 11, 28, 12, 0, tzinfo=UTC)]
    bot, http, dns = await start_lookup_bot(tmp_path, clock=lambda: now[0])
    try:
        await bot.text("/domain example.com")
        first = len(http.requests), len(dns.queries)
        again = await bot.text("/domain example.com")
        assert (len(http.requests), len(dns.queries)) == first
        assert "RESERVED-Internet Assigned Numbers Authority" in again
        now[0] += timedelta(days=2)  # past every provider's default one-day TTL
        await bot.text("/domain example.com")
        assert http.count("/rdap/") == 2 and http.count("/crtsh/") == 2
    finally:
        await stop_lookup_bot(bot, http, dns)


# /ip ---------------------------------------------------------------------------
async def test_ip_with_keys(env: Env) -> None:
    text = await env.text("/ip 1.1.1.1")
    assert "APNIC-LABS" in text and "1.1.1.0/24" in text and "APNIC Research and Development" in text
    assert "helpdesk@apnic.net" in text
    assert "AS13335" in text and "CLOUDFLARENET, US" in text
    assert "one.one.one.one" in text
    assert "53, 80, 443" in text and "CVE-2023-44487" in text and "cpe:/a:cloudflare:cloudflare" in text
    assert "benign" in text and "Cloudflare Public DNS" in text
    assert "142" in text  # AbuseIPDB reports
    assert "Needs a key" not in text


async def test_ip_without_keys_lists_needs_a_key_and_internetdb_404(keyless: Env) -> None:
    text = await keyless.text("/ip 8.8.4.4")
    assert "Needs a key: AbuseIPDB" in text
    assert "Shodan InternetDB: no data on this address." in text
    assert "GreyNoise: not seen" in text
    assert keyless.http.count("/abuseipdb") == 0


@pytest.mark.parametrize("address", ["10.0.0.1", "192.168.1.1", "127.0.0.1", "169.254.169.254", "::1", "fd00::1"])
async def test_private_ip_is_answered_locally(env: Env, address: str) -> None:
    text = await env.text(f"/ip {address}")
    assert "not publicly routable" in text
    assert env.http.requests == [] and env.dns.queries == []


# /email ------------------------------------------------------------------------
async def test_email_full(env: Env) -> None:
    replies = await env.bot.run("/email Jane.Doe+news@EXAMPLE.com")
    text = render_text(replies[-1])
    assert "Jane.Doe+news@example.com" in text
    assert "jane.doe@example.com" in text  # canonical (sub-address dropped)
    assert "10 mail.example.com" in text and "v=spf1 -all" in text and "v=DMARC1;p=reject" in text
    assert "not on our list" in text
    commands = [b.command for row in replies[-1].button_rows for b in row]
    assert commands == ["/user Jane.Doe", "/domain example.com", "/case pivot Jane.Doe+news@example.com"]


async def test_email_gravatar_and_breaches(env: Env) -> None:
    text = await env.text("/email jane.doe@example.com")
    assert "Jane Doe" in text and "Lisbon, Portugal" in text and "https://github.com/janedoe" in text
    assert "Adobe, Dropbox, LinkedIn" in text


async def test_email_without_hibp_key_and_disposable(keyless: Env) -> None:
    text = await keyless.text("/email someone@mailinator.com")
    assert "Needs a key: Have I Been Pwned" in text
    assert has(text, "disposable provider", "yes")
    assert "Gravatar: no public profile." in text
    assert "DNS: mailinator.com does not exist" in text  # our fake DNS knows nothing about it
    assert keyless.http.count("/hibp") == 0


async def test_email_null_mx(env: Env) -> None:
    assert "null MX" in await env.text("/email a@nomail.example")


async def test_email_syntax_errors(env: Env) -> None:
    assert "not valid address syntax" in await env.text("/email a..b@example.com")
    assert "not an email address" in await env.text("/email example.com")


# /phone ------------------------------------------------------------------------
async def test_phone(env: Env) -> None:
    text = await env.text("/phone +44 20 7946 0958")
    assert has(text, "valid", "yes")
    assert "+442079460958" in text and "020 7946 0958" in text
    assert "GB" in text and "fixed line" in text and "Europe/London" in text


async def test_phone_default_region(tmp_path: Path) -> None:
    bot, http, dns = await start_lookup_bot(tmp_path, lookups={"default_region": "DE"})
    try:
        text = await bot.text("/phone 030 901820")
        assert "+4930901820" in text and "region DE" in text
    finally:
        await stop_lookup_bot(bot, http, dns)


async def test_phone_garbage(env: Env) -> None:
    assert "Could not read" in await env.text("/phone hello")


# /cve --------------------------------------------------------------------------
def _post(source_id: str, text: str, created: datetime) -> StoredPost:
    return StoredPost(source="hackernews", source_id=source_id, text=text, created_at=created,
                      content_hash=source_id)


async def test_cve_full(env: Env) -> None:
    now = env.bot.services.now()

    def seed(session: Any) -> None:
        session.add(_post("1", "log4shell aka cve-2021-44228 again", now - timedelta(days=2)))
        session.add(_post("2", "CVE-2021-44228 patched?", now - timedelta(days=20)))
        session.add(_post("3", "CVE-2021-44228 old news", now - timedelta(days=60)))
        session.add(_post("4", "unrelated CVE-2021-4422", now - timedelta(days=1)))

    await env.bot.services.db.run(seed)
    replies = await env.bot.run("/cve cve-2021-44228")
    text = render_text(replies[-1])
    assert "Apache Log4j2 2.0-beta9" in text
    assert "10.0 CRITICAL (v3.1)" in text and "CWE-400, CWE-502, CWE-917" in text
    assert "https://logging.apache.org/log4j/2.x/security.html" in text
    assert has(text, "known exploited", "yes") and "2021-12-24" in text and has(text, "ransomware use", "Known")
    assert "94.41%" in text and "100.0%" in text
    assert has(text, "last 7 days", "1") and has(text, "last 30 days", "2")
    assert "This product uses data from the NVD API but is not endorsed or certified by the NVD." in text
    assert [b.command for row in replies[-1].button_rows for b in row] == [
        "/watch add cve:CVE-2021-44228", "/case pivot CVE-2021-44228"]


async def test_cve_degrades_and_caches_kev_catalogue(env: Env) -> None:
    env.http.faults["nvd"] = 503
    text = await env.text("/cve CVE-2025-48384")
    assert "NVD: HTTP 503" in text
    assert has(text, "known exploited", "yes") and "2025-09-15" in text
    assert "EPSS: no score" in text
    await env.text("/cve CVE-2021-44228")
    assert env.http.count("/kev") == 1  # the catalogue is fetched once and kept


async def test_cve_not_in_kev(env: Env) -> None:
    assert "not in the catalogue" in await env.text("/cve CVE-1999-0001")


# /url --------------------------------------------------------------------------
async def test_url_expands_redirects_through_the_guard(env: Env) -> None:
    env.bot.services.shared.put(GUARD, SsrfGuard(allow_networks_for_tests=["127.0.0.0/8"]))
    replies = await env.bot.run(f"/url {env.http.base}/short/abc".replace("http://", "hxxp://").replace(".", "[.]"))
    text = render_text(replies[-1])
    assert "hxxp://127[.]0[.]0[.]1" in text
    assert "301" in text and "200" in text and "/landing?from=abc" in text
    assert "Wayback Machine: no captures of this URL." in text


async def test_url_redirect_to_metadata_is_refused(env: Env) -> None:
    env.bot.services.shared.put(GUARD, SsrfGuard(allow_networks_for_tests=["127.0.0.0/8"]))
    text = await env.text(f"/url {env.http.base}/to-metadata")
    assert "Redirects: refused" in text and "169.254.169.254 is a link-local address" in text


async def test_url_to_loopback_is_refused_by_the_default_guard(env: Env) -> None:
    text = await env.text(f"/url {env.http.base}/landing")
    assert "is a loopback address" in text
    assert env.http.count("/landing") == 0


# /lookup -----------------------------------------------------------------------
async def test_lookup_dispatches_defanged_domain(env: Env) -> None:
    text = await env.text("/lookup example[.]com")
    assert "Detected: domain (refanged from defanged input)." in text
    assert "RESERVED-Internet Assigned Numbers Authority" in text


async def test_lookup_other_kinds(env: Env) -> None:
    assert "Detected: cve" in await env.text("/lookup CVE-2021-44228")
    assert "Detected: phone" in await env.text("/lookup +44 20 7946 0958")
    assert "not publicly routable" in await env.text("/lookup 10[.]0[.]0[.]1")
    replies = await env.bot.run("/lookup @someone")
    assert [b.command for row in replies[-1].button_rows for b in row] == ["/user someone"]
    assert "SHA-256 hash" in await env.text("/lookup " + "ab" * 32)


async def test_lookup_of_a_wallet_shows_where_it_was_seen(env: Env) -> None:
    from handlers.analysis.ioc_index import extract_and_store

    now = env.bot.services.now()

    def seed(session: Any) -> None:
        post = _post("w1", "send BTC to BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ now", now - timedelta(days=1))
        session.add(post)
        session.flush()
        extract_and_store(session, [post])

    await env.bot.services.db.run(seed)
    replies = await env.bot.run("/lookup bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq")
    text = render_text(replies[-1])
    assert "Detected: bitcoin address" in text and "Seen in collected posts (1 most recent)" in text
    assert "Blockchain lookups" in text and "username" not in text
    assert [b.command for row in replies[-1].button_rows for b in row][-1] == (
        "/case add bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq")
    assert "ethereum address" in await env.text("/lookup 0x52908400098527886E0F7030069857D2E4169EE7")


# limits and audit --------------------------------------------------------------
async def test_per_user_rate_limit(tmp_path: Path) -> None:
    """Lookups are expensive commands: the router's per-user limit applies to them."""
    bot, http, dns = await start_lookup_bot(tmp_path, governance={"rate_limits": {"per_user": 2}})
    try:
        await bot.text("/phone +44 20 7946 0958", role=Role.ANALYST)
        await bot.text("/phone +44 20 7946 0958", role=Role.ANALYST)
        assert "Try again in" in await bot.text("/phone +44 20 7946 0958", role=Role.ANALYST)
        assert has(await bot.text("/phone +44 20 7946 0958", role=Role.ANALYST, user_id=2002), "valid", "yes")
    finally:
        await stop_lookup_bot(bot, http, dns)


async def test_lookups_are_audited(env: Env) -> None:
    await env.text("/phone +44 20 7946 0958")
    rows = await env.bot.services.db.run(lambda s: s.exec(select(AuditEntry)).all())
    assert any(r.command == "phone" and "7946" in r.args for r in rows)
