"""The one shared httpx client, identifying the bot in its User-Agent."""

from __future__ import annotations

import httpx

from config.settings import Settings


def user_agent(settings: Settings) -> str:
    """`socmint-bot/<version> (+<contact>)` — names the bot and, when set, its operator."""
    from bot import __version__

    contact = settings.http.contact.strip()
    return f"socmint-bot/{__version__}" + (f" (+{contact})" if contact else " (+https://github.com/socmint-bot)")


def make_client(settings: Settings, **kwargs: object) -> httpx.AsyncClient:
    """A client with timeouts, connection limits and the bot's User-Agent; close it once at exit."""
    limits = httpx.Limits(
        max_connections=settings.http.max_connections,
        max_keepalive_connections=min(50, settings.http.max_connections),
    )
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.http.timeout_s, connect=min(10.0, settings.http.timeout_s)),
        limits=limits,
        headers={"User-Agent": user_agent(settings)},
        follow_redirects=False,
        **kwargs,  # type: ignore[arg-type]
    )
