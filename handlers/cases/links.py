"""The typed links between case entities, read as "<source> <verb> <target>"."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from handlers.cases.entities import Entity


class LinkKind(StrEnum):
    """How one entity relates to another; the value reads left to right (account `posted` post)."""

    POSTED = "posted"
    MENTIONS = "mentions"
    RESOLVES_TO = "resolves-to"
    REVERSE_DNS = "reverse-dns"
    REGISTERED_BY = "registered-by"
    REGISTERED_WITH = "registered-with"
    NAME_SERVER = "name-server"
    MAIL_SERVER = "mail-server"
    SUBDOMAIN_OF = "subdomain-of"
    HOSTED_ON = "hosted-on"
    REDIRECTS_TO = "redirects-to"
    BELONGS_TO = "belongs-to"
    ANNOUNCED_BY = "announced-by"
    HAS_VULNERABILITY = "has-vulnerability"
    USES_DOMAIN = "uses-domain"
    HAS_ACCOUNT = "has-account"
    HAS_NAME = "has-name"
    LOCATED_IN = "located-in"
    CARRIED_BY = "carried-by"
    EXPOSED_IN = "exposed-in"
    SAME_AS = "same-as"
    RELATED_TO = "related-to"


@dataclass(frozen=True)
class Link:
    """A link to add: `source` is where the fact came from (a post, a provider, an analyst)."""

    src: Entity
    kind: LinkKind
    dst: Entity
    source: str = ""


def parse_kind(text: str) -> LinkKind:
    """A link kind from what an analyst typed (`same-as`, `same_as`, `SAME AS`); ValueError if unknown."""
    wanted = "-".join(text.strip().lower().replace("_", "-").split())
    try:
        return LinkKind(wanted)
    except ValueError:
        raise ValueError(f"{text!r} is not a link kind; use one of: "
                         + ", ".join(k.value for k in LinkKind)) from None
