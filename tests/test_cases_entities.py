"""Entity normalisation, the public add-to-case hook, and the STIX mapping of actors and indicators."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import stix2

from bot.command import ChatKind, ChatRef
from handlers.cases import entities as ent
from handlers.cases.bundle import load
from handlers.cases.entities import EntityError, EntityKind
from handlers.cases.export_stix import build, render
from handlers.cases.findings import add_to_current_case
from handlers.cases.links import Link, LinkKind, parse_kind
from storage import cases as store
from tests.harness import BotHarness

CHAT = ChatRef("telegram", -5001, ChatKind.GROUP)


@pytest.mark.parametrize(("text", "kind", "key"), [
    ("Evil[.]com", "domain", "evil.com"),
    ("evil(dot)com.", "domain", "evil.com"),
    ("BÜCHER.de", "domain", "xn--bcher-kva.de"),
    ("hxxp://Evil[.]com:80/", "url", "http://evil.com"),
    ("url:evil.com/a?x=1#top", "url", "http://evil.com/a?x=1"),
    ("http://[2001:DB8::1]:8080/x", "url", "http://[2001:db8::1]:8080/x"),
    ("10.0.0[.]1", "ip", "10.0.0.1"),
    ("2001:DB8:0::1", "ip", "2001:db8::1"),
    ("Jane.Doe[at]Example[.]COM", "email", "jane.doe@example.com"),
    ("+1 (202) 555-0143", "phone", "+12025550143"),
    ("44D88612FEA8A8F36DE82E1278ABB02F", "hash", "44d88612fea8a8f36de82e1278abb02f"),
    ("cve-2021-44228", "cve", "CVE-2021-44228"),
    ("@Alice_99", "username", "alice_99"),
    ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "wallet", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"),
    ("BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ", "wallet", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"),
    ("0x52908400098527886E0F7030069857D2E4169EE7", "wallet", "0x52908400098527886e0f7030069857d2e4169ee7"),
    ("btc:3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "wallet", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"),
    ("account:Bluesky:@Alice.BSKY.social", "account", "bluesky:alice.bsky.social"),
    ("org:Acme, Inc.", "organisation", "acme inc"),
    ("person:  José   ÁLVAREZ ", "person", "josé álvarez"),
])
def test_parse_normalises_to_one_key(text: str, kind: str, key: str) -> None:
    entity = ent.parse(text, default_region="US")
    assert (entity.kind.value, entity.key) == (kind, key)


@pytest.mark.parametrize("text", ["???", "account:bluesky", "phone:12", "hash:xyz", "url:ftp//", "person:!!!",
                                  "btc:1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", "wallet:alice"])
def test_parse_rejects_what_is_not_an_entity(text: str) -> None:
    with pytest.raises(EntityError):
        ent.parse(text)


def test_indicators_are_shown_defanged() -> None:
    assert ent.defanged(ent.parse("https://evil.com/x")) == "hxxps://evil[.]com/x"
    assert ent.defanged(ent.parse("a@evil.com")) == "a[@]evil[.]com"
    assert parse_kind("Same_As") is LinkKind.SAME_AS
    with pytest.raises(ValueError, match="not a link kind"):
        parse_kind("befriends")


async def test_add_to_current_case_and_stix_actor_mapping(bot: BotHarness) -> None:
    actor = ent.name_entity(EntityKind.ORGANISATION, "Fancy Crab")
    domain = ent.parse("crab-login[.]com")
    assert await add_to_current_case(bot.services, CHAT, [domain], [], by="playbook") is None

    await bot.run("/case new Crab")
    case = await add_to_current_case(bot.services, CHAT, [domain, actor],
                                     [Link(domain, LinkKind.RELATED_TO, actor)], by="playbook")
    assert case is not None and case.id == 1
    again = await add_to_current_case(bot.services, CHAT, [ent.parse("CRAB-LOGIN.com")], [], by="playbook")
    assert again is not None
    assert "tagged: actor" in await bot.text('/case tag "org:fancy crab" actor')
    assert "tagged: malicious" in await bot.text("/case tag crab-login.com malicious")

    now = datetime(2026, 11, 28, tzinfo=UTC)
    bundle = await bot.services.db.run(lambda s: load(s, store.in_chat(s, "telegram", -5001, 1), now))
    assert len(bundle.entities) == 2 and bundle.entities[0].sources == ["analyst"]
    objects = {o.type: o for o in build(bundle).objects}
    assert objects["threat-actor"].name == "Fancy Crab"
    assert objects["indicator"].pattern == "[domain-name:value = 'crab-login.com']"
    parsed = stix2.parse(render(bundle).decode(), allow_custom=False)
    kinds = {o.relationship_type for o in parsed.objects if o.type == "relationship"}
    assert {"indicates", "related-to"} <= kinds
    rebuilt = {o.type: o for o in build(bundle).objects}
    assert rebuilt["indicator"].id == objects["indicator"].id  # a re-export updates the same objects


def test_wallets_carry_their_currency_and_a_bad_checksum_stays_a_username() -> None:
    xmr = "496aKKdqF1xQSSEzw7wNrkZkDUsCD5cSmNCfVhVgEps52WERBcLDGzdF5UugmFoHMm9xRJdewvK2TFfAJNwEV25rTcVF5Vp"
    assert ent.parse(xmr).attrs == {"currency": "xmr", "chain": "monero"}
    assert ent.parse("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq").attrs["chain"] == "bitcoin"
    assert ent.parse("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb").kind is EntityKind.USERNAME  # checksum fails


async def test_stix_indicators_only_for_what_an_analyst_marked_malicious(bot: BotHarness) -> None:
    await bot.run("/case new Ransom")
    for item in ("ops@evil.com", "45.9.148.12", "44d88612fea8a8f36de82e1278abb02f", "2001:db8::7",
                 "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "0x52908400098527886E0F7030069857D2E4169EE7"):
        assert "Added to case" in await bot.text(f"/case add {item}")
    await bot.run("/case tag 45.9.148.12 malicious")
    await bot.run("/case tag bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq malicious")
    await bot.run("/case tag 44d88612fea8a8f36de82e1278abb02f malicious")
    assert "is tagged: no tags" in await bot.text("/case untag 44d88612fea8a8f36de82e1278abb02f malicious")
    assert "was not tagged malicious" in await bot.text("/case untag ops@evil.com malicious")

    now = datetime(2026, 11, 28, tzinfo=UTC)
    bundle = await bot.services.db.run(lambda s: load(s, store.in_chat(s, "telegram", -5001, 1), now))
    assert {e.kind for e in bundle.entities} == {"email", "ip", "hash", "wallet"}
    parsed = stix2.parse(render(bundle).decode(), allow_custom=False)
    indicators = {o.pattern: o for o in parsed.objects if o.type == "indicator"}
    assert set(indicators) == {"[ipv4-addr:value = '45.9.148.12']",
                               "[x-cryptocurrency-wallet:value = 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq']"}
    assert all(i.indicator_types == ["malicious-activity"] for i in indicators.values())
    scos = {o.id: o for o in parsed.objects if o.type in ("email-addr", "ipv4-addr", "ipv6-addr", "file")}
    observed = {ref for o in parsed.objects if o.type == "observed-data" for ref in o.object_refs}
    assert len(scos) == 4 and set(scos) <= observed  # everything seen is observed data, judged or not
    based_on = [o for o in parsed.objects if o.type == "relationship" and o.relationship_type == "based-on"]
    assert [r.source_ref for r in based_on] == [indicators["[ipv4-addr:value = '45.9.148.12']"].id]
    report = next(o for o in parsed.objects if o.type == "report")
    assert "1 wallet" in report.description  # the unmarked Ethereum address has no STIX object


def test_a_post_files_crypto_addresses_as_wallets_not_usernames() -> None:
    from handlers.cases.findings import from_post
    from storage.models import StoredPost

    row = StoredPost(id=7, source="telegram", source_id="9", created_at=datetime(2026, 1, 2, tzinfo=UTC),
                     content_hash="h", text="pay 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa or "
                                          "0x52908400098527886E0F7030069857D2E4169EE7, c2 2001:db8::7")
    found = {(lk.dst.kind, lk.dst.key) for lk in from_post(row).links}
    assert (EntityKind.WALLET, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa") in found
    assert (EntityKind.WALLET, "0x52908400098527886e0f7030069857d2e4169ee7") in found
    assert (EntityKind.IP, "2001:db8::7") in found
    assert not any(kind is EntityKind.USERNAME for kind, _ in found)
