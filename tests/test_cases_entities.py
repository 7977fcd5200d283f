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
    ("account:Bluesky:@Alice.BSKY.social", "account", "bluesky:alice.bsky.social"),
    ("org:Acme, Inc.", "organisation", "acme inc"),
    ("person:  José   ÁLVAREZ ", "person", "josé álvarez"),
])
def test_parse_normalises_to_one_key(text: str, kind: str, key: str) -> None:
    entity = ent.parse(text, default_region="US")
    assert (entity.kind.value, entity.key) == (kind, key)


@pytest.mark.parametrize("text", ["???", "account:bluesky", "phone:12", "hash:xyz", "url:ftp//", "person:!!!"])
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
