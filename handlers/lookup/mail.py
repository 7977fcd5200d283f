"""/email: syntax and normalisation, mail DNS (MX/SPF/DMARC), disposable check, Gravatar, HIBP breaches."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.command import CommandError
from bot.reply import Button, Reply, code, link
from handlers.lookup import dns, gravatar, hibp
from handlers.lookup.defang import refang
from handlers.lookup.detect import normalise_domain
from handlers.lookup.disposable import is_disposable
from handlers.lookup.provider import LookupEnv, run_providers
from handlers.lookup.report import failures, heading, listing

LOCAL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+$")
DOTLESS_PROVIDERS = frozenset({"gmail.com", "googlemail.com"})


@dataclass(frozen=True)
class Address:
    """An email address split and normalised; `canonical` folds provider aliases (+tags, Gmail dots)."""

    local: str
    domain: str

    @property
    def normalised(self) -> str:
        return f"{self.local}@{self.domain}"

    @property
    def canonical(self) -> str:
        local = self.local.split("+", 1)[0] or self.local
        domain = "gmail.com" if self.domain in DOTLESS_PROVIDERS else self.domain
        if domain == "gmail.com":
            local = local.replace(".", "")
        return f"{local.lower()}@{domain}"


def parse_address(text: str) -> Address:
    """Validate syntax (RFC 5321 lengths, dot-atom local part) and normalise; CommandError if invalid."""
    text = refang(text).strip().removeprefix("mailto:")
    local, at, domain_part = text.rpartition("@")
    if not at or not local:
        raise CommandError(f"{text!r} is not an email address (no local part or no @).")
    if len(local) > 64 or len(text) > 254:
        raise CommandError("That address is too long to be valid (local part ≤ 64, whole ≤ 254 characters).")
    if not LOCAL_RE.match(local) or local.startswith(".") or local.endswith(".") or ".." in local:
        raise CommandError(f"The local part {local!r} is not valid address syntax.")
    domain = normalise_domain(domain_part)
    if not domain:
        raise CommandError(f"{domain_part!r} is not a valid mail domain.")
    return Address(local, domain)


def mx_summary(mx: list[str]) -> str:
    """MX hosts, or what their absence means."""
    if not mx:
        return "none (mail would go to the domain's A record, if any)"
    if mx == ["0 ."]:
        return "null MX: this domain accepts no mail"
    return listing(mx)


async def lookup_email(env: LookupEnv, text: str) -> Reply:
    """The full /email answer."""
    address = parse_address(text)
    resolver = dns.make_resolver(env.settings)

    async def policy() -> dict[str, object]:
        return await env.cached("dns", f"mail:{address.domain}",
                                lambda: dns.mail_policy(resolver, address.domain),
                                ttl_s=env.settings.dns_cache_ttl_s)

    outcomes = await run_providers({
        "DNS": policy(),
        "Gravatar": gravatar.profile(env, address.normalised),
        "Have I Been Pwned": hibp.breaches(env, address.normalised),
    })
    reply = heading("Email", address.normalised)
    facts: list[tuple[str, object]] = [("syntax", "valid"), ("domain", address.domain)]
    if address.canonical != address.normalised.lower():
        facts.append(("canonical", code(address.canonical)))
    facts.append(("disposable provider", "yes" if is_disposable(address.domain) else "not on our list"))
    reply.kv(facts)  # type: ignore[arg-type]
    mail = outcomes["DNS"]
    if mail.ok:
        reply.kv([
            ("MX", mx_summary(mail.value["mx"])),
            ("SPF", mail.value["spf"] or "none"),
            ("DMARC", mail.value["dmarc"] or "none"),
        ], title="Mail DNS")
    grav = outcomes["Gravatar"]
    if grav.ok:
        if grav.value is None:
            reply.para("Gravatar: no public profile.")
        else:
            profile = grav.value
            items: list[tuple[str, object]] = [("name", profile["display_name"] or "—")]
            if profile["profile_url"]:
                items.append(("profile", link(profile["profile_url"], profile["profile_url"])))
            if profile["location"]:
                items.append(("location", profile["location"]))
            if profile["accounts"]:
                items.append(("verified accounts", listing(f"{a['service']}: {a['url']}" for a in profile["accounts"])))
            reply.kv(items, title="Gravatar")  # type: ignore[arg-type]
    pwned = outcomes["Have I Been Pwned"]
    if pwned.ok:
        reply.kv([("breaches", listing(pwned.value, limit=30) if pwned.value else "none found")],
                 title="Have I Been Pwned")
    failures(reply, outcomes)
    return reply.buttons([Button(f"/user {address.local}", f"/user {address.local.split('+', 1)[0]}"),
                          Button(f"/domain {address.domain}", f"/domain {address.domain}")],
                         [Button("Add to case", f"/case pivot {address.normalised}")])
