"""/url: defanged and refanged forms, the redirect chain (through the SSRF guard), Wayback captures."""

from __future__ import annotations

from urllib.parse import urlsplit

from bot.command import CommandError
from bot.reply import Button, Reply, bold, code
from bot.services import Services
from bot.shared import Slot
from handlers.fetch import FetchError
from handlers.lookup import wayback
from handlers.lookup.defang import defang_url, refang
from handlers.lookup.detect import parse_ip
from handlers.lookup.domain import wayback_section
from handlers.lookup.provider import LookupEnv, ProviderError, run_providers
from handlers.lookup.report import failures, heading
from handlers.lookup.ssrf import Blocked, GuardedResponse, SsrfGuard

GUARD: Slot[SsrfGuard] = Slot("ssrf_guard")
EXPAND_MAX_BYTES = 64_000
HOP_RATE_PER_S = 4.0  # per host: redirect chains often bounce within one host


def guard_for(services: Services) -> SsrfGuard:
    """The app's SSRF guard (tests put one with a fake resolver here), created on first use."""
    return services.shared.setdefault(GUARD, lambda: SsrfGuard(max_bytes=EXPAND_MAX_BYTES))


def parse_url_arg(text: str) -> str:
    """A refanged http(s) URL from user input (a scheme-less one gets http://)."""
    url = refang(text).strip().strip("<>")
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise CommandError(f"{text!r} is not an http(s) URL.")
    return url


async def expand(env: LookupEnv, url: str) -> GuardedResponse:
    """Follow the redirect chain through the SSRF guard; refusals become a provider failure."""
    guard = guard_for(env.services)
    try:
        return await guard.fetch(env.fetcher, url, rate_per_s=HOP_RATE_PER_S)
    except Blocked as exc:
        chain = " → ".join(f"{h.url} ({h.status})" for h in exc.hops)
        raise ProviderError(f"refused: {exc.reason}" + (f" after {chain}" if chain else "")) from None
    except FetchError as exc:
        raise ProviderError(exc.reason) from None


async def lookup_url(env: LookupEnv, text: str) -> Reply:
    """The full /url answer."""
    url = parse_url_arg(text)
    outcomes = await run_providers({"Redirects": expand(env, url), "Wayback": wayback.captures(env, url)})
    reply = heading("URL", defang_url(url))
    reply.kv([("defanged", code(defang_url(url))), ("refanged", code(url))])
    chain = outcomes["Redirects"]
    final_url = url
    if chain.ok:
        response: GuardedResponse = chain.value
        final_url = response.url
        reply.para(bold("Redirect chain"), f" ({len(response.hops)} request(s), defanged)")
        for i, hop in enumerate(response.hops, 1):
            reply.para(f"{i}. {hop.status} ", code(defang_url(hop.url)), f" ({hop.ip})")
        if response.stopped:
            reply.para(f"Chain {response.stopped}; not followed further.")
    wayback_section(reply, outcomes["Wayback"], "this URL")
    failures(reply, outcomes)
    pivots = []
    for target in (url, final_url):
        host = urlsplit(target).hostname or ""
        pivots.append(f"/ip {host}" if parse_ip(host) else f"/domain {host}")
    return reply.buttons([Button(p, p) for p in dict.fromkeys(pivots)], [Button("Add to case", f"/case add {url}")])
