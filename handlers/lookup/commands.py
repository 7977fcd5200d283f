"""The lookup commands: /email, /phone, /domain, /ip, /url, /cve and /lookup (detect and dispatch)."""

from __future__ import annotations

from bot.command import Arg, ArgKind, CommandSet, Context
from bot.reply import Button, Reply, code
from bot.services import Services
from handlers.analysis.ioc_index import posts_with
from handlers.analysis.iocs import IOCKind
from handlers.lookup.cve import lookup_cve
from handlers.lookup.detect import Kind, detect
from handlers.lookup.domain import lookup_domain
from handlers.lookup.ip import lookup_ip
from handlers.lookup.mail import lookup_email
from handlers.lookup.phone import lookup_phone
from handlers.lookup.provider import LookupEnv, providers_status
from handlers.lookup.url import lookup_url
from handlers.lookup.wallets import Currency
from handlers.lookup.wallets import normalise as normalise_wallet

commands = CommandSet()


def _query(name: str, help_text: str) -> list[Arg]:
    return [Arg(name, help_text, ArgKind.TEXT)]


def start(ctx: Context) -> LookupEnv:
    """The lookup environment (pacing per provider; per-user limits are the router's, on expensive commands)."""
    return LookupEnv(ctx.services)


@commands.command("email", "Check an email address: syntax, mail DNS, disposable, Gravatar, breaches",
                  example="/email someone@example.com", args=_query("address", "an email address"),
                  expensive=True, timeout=60)
async def email_cmd(ctx: Context, address: str) -> Reply:
    return await lookup_email(start(ctx), address)


@commands.command("phone", "Check a phone number: validity, formats, region, carrier, line type",
                  example="/phone +44 20 7946 0958", args=_query("number", "a phone number, + for international"),
                  expensive=True)
async def phone_cmd(ctx: Context, number: str) -> Reply:
    return lookup_phone(number, ctx.services.settings.lookups.default_region)


@commands.command("domain", "Look up a domain: registration, DNS, subdomains from certificates, archive",
                  example="/domain example.com", args=_query("name", "a domain name (defanged is fine)"),
                  expensive=True, timeout=90)
async def domain_cmd(ctx: Context, name: str) -> Reply:
    return await lookup_domain(start(ctx), name)


@commands.command("ip", "Look up an IP: network, ASN, reverse DNS, open ports, reputation",
                  example="/ip 1.1.1.1", args=_query("address", "an IPv4 or IPv6 address"),
                  expensive=True, timeout=60)
async def ip_cmd(ctx: Context, address: str) -> Reply:
    return await lookup_ip(start(ctx), address)


@commands.command("url", "Expand a URL safely: defang/refang, redirect chain, archive captures",
                  example="/url hxxps://bit[.]ly/example", args=_query("url", "a URL (defanged is fine)"),
                  expensive=True, timeout=60)
async def url_cmd(ctx: Context, url: str) -> Reply:
    return await lookup_url(start(ctx), url)


@commands.command("cve", "Look up a CVE: NVD, known exploitation (KEV), EPSS, mentions in posts",
                  example="/cve CVE-2021-44228", args=_query("id", "a CVE id"), expensive=True, timeout=60)
async def cve_cmd(ctx: Context, id: str) -> Reply:
    return await lookup_cve(start(ctx), id)


_HASH_KINDS = {"MD5": IOCKind.MD5, "SHA-1": IOCKind.SHA1, "SHA-256": IOCKind.SHA256, "SHA-512": IOCKind.SHA512}


_WALLET_KINDS = {"btc": IOCKind.BTC, "eth": IOCKind.ETH, "xmr": IOCKind.XMR}


async def _sightings(ctx: Context, kind: IOCKind | None, value: str, what: str, missing: str) -> Reply:
    """Where an indicator no keyless service can look up (a file hash, a wallet) was seen in collected posts."""
    reply = Reply.text(f"Detected: {what} ", code(value), ".")
    posts = await ctx.services.db.run(lambda s: posts_with(s, kind, value, limit=10)) if kind else []
    if posts:
        reply.table(["when (UTC)", "source", "author", "link"],
                    [(p.created_at.strftime("%Y-%m-%d %H:%M"), p.source, p.author_handle or "", p.url or "")
                     for p in posts], title=f"Seen in collected posts ({len(posts)} most recent)")
    else:
        reply.para("Not seen in any collected post.")
    reply.para(missing)
    return reply.buttons([Button(f"Watch this {what.split()[-1]}", f"/watch add {value}"),
                          Button("Add to case", f"/case add {value}")])


async def _hash_sightings(ctx: Context, value: str, algorithm: str) -> Reply:
    return await _sightings(ctx, _HASH_KINDS.get(algorithm), value, f"{algorithm} hash",
                            "Hash reputation (VirusTotal, MalwareBazaar) needs a key and is not built in; "
                            "the sightings above come from the bot's own posts.")


async def _wallet_sightings(ctx: Context, value: str, currency: str) -> Reply:
    chain = Currency(currency).title
    return await _sightings(ctx, _WALLET_KINDS[currency], value, f"{chain} address",
                            "Blockchain lookups (balance, transactions) are not built in; "
                            "the sightings above come from the bot's own posts.")


@commands.command("lookup", "Detect what something is (email, phone, domain, IP, URL, CVE, hash, wallet, username) "
                  "and look it up", example="/lookup hxxp://evil[.]com/login",
                  args=_query("query", "anything: an address, a name, a URL, a CVE…"), expensive=True, timeout=90)
async def lookup_cmd(ctx: Context, query: str) -> Reply:
    found = detect(query)
    if found.kind is Kind.USERNAME:
        return Reply.text("That looks like a username. Sweep it across sites with ", code(f"/user {found.value}"),
                          ".").buttons([Button(f"/user {found.value}", f"/user {found.value}")])
    if found.kind is Kind.HASH:
        return await _hash_sightings(ctx, found.value.lower(), found.detail)
    if found.kind is Kind.WALLET:
        return await _wallet_sightings(ctx, normalise_wallet(Currency(found.detail), found.value), found.detail)
    if found.kind is Kind.UNKNOWN:
        return Reply.error("Could not tell what that is. Try a specific command: /email, /phone, /domain, "
                           "/ip, /url, /cve or /user.", "/lookup example.com")
    if found.kind is Kind.PHONE:
        reply = lookup_phone(found.value, ctx.services.settings.lookups.default_region)
    else:
        env = start(ctx)
        run = {Kind.EMAIL: lookup_email, Kind.DOMAIN: lookup_domain, Kind.IP: lookup_ip,
               Kind.URL: lookup_url, Kind.CVE: lookup_cve}[found.kind]
        reply = await run(env, found.value)
    note = f"Detected: {found.kind.value}" + (" (refanged from defanged input)" if found.defanged else "") + "."
    return Reply.text(note).extend(reply)


@commands.on_start
async def register_status(services: Services) -> None:
    """Show the lookup providers in /status (admins)."""
    services.add_status(providers_status)
