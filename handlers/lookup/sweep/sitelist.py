"""Which sites a sweep asks: the cached WhatsMyName list, a configured file, or the built-in list."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from config.settings import Settings
from handlers.lookup.sweep.maigret import is_maigret, parse_maigret
from handlers.lookup.sweep.sherlock import is_sherlock, parse_sherlock
from handlers.lookup.sweep.site import NSFW, FormatError, Site
from handlers.lookup.sweep.wmn import is_wmn, parse_wmn
from storage.private import PRIVATE_DIR, write_private

BUILTIN_PATH = Path(__file__).with_name("builtin_sites.json")
WMN_CREDIT = "WhatsMyName (github.com/WebBreacher/WhatsMyName), CC BY-SA 4.0"


@dataclass(frozen=True)
class SiteList:
    """Sites plus where they came from and whom to credit."""

    sites: list[Site]
    origin: str
    credit: str | None = None


def parse_sites(data: Any) -> tuple[list[Site], str]:
    """Sites from a decoded list in any supported format, and the format's name."""
    if is_wmn(data):
        return parse_wmn(data), "WhatsMyName"
    if is_maigret(data):
        return parse_maigret(data), "Maigret"
    if is_sherlock(data):
        return parse_sherlock(data), "Sherlock"
    raise FormatError("not a WhatsMyName, Sherlock or Maigret site list")


def _credit(data: Any) -> str | None:
    lines = data.get("license") if isinstance(data, dict) else None
    if isinstance(lines, list) and "Attribution-ShareAlike" in " ".join(map(str, lines)):
        return f"{WMN_CREDIT}; {lines[0]}"
    return None


def read_site_file(path: Path, origin: str | None = None) -> SiteList:
    """Load a site list file; FormatError names the file and what is wrong."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FormatError(f"{path}: cannot read ({exc.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FormatError(f"{path}: not valid JSON ({exc})") from None
    try:
        sites, kind = parse_sites(data)
    except FormatError as exc:
        raise FormatError(f"{path}: {exc}") from None
    return SiteList(sites, origin or f"{kind} list {path.name}", _credit(data))


def wmn_cache_path(settings: Settings) -> Path:
    return settings.data_dir / "sites" / "wmn-data.json"


def builtin_sites() -> SiteList:
    return read_site_file(BUILTIN_PATH, "built-in list")


def default_sites(settings: Settings) -> SiteList:
    """The configured file, else the cached WhatsMyName list, else the built-in list."""
    configured = settings.lookups.sweep.sites_file
    if configured:
        return read_site_file(Path(configured))
    cached = wmn_cache_path(settings)
    if cached.exists():
        return read_site_file(cached, "WhatsMyName (cached by `socmint sites update`)")
    return builtin_sites()


async def update_wmn(settings: Settings, client: httpx.AsyncClient) -> SiteList:
    """Download the WhatsMyName list, check it parses, and replace the cached copy atomically."""
    response = await client.get(settings.lookups.sweep.wmn_url, follow_redirects=True)
    response.raise_for_status()
    try:
        data = response.json()
    except ValueError:
        raise FormatError("the downloaded list is not JSON") from None
    if not is_wmn(data):
        raise FormatError("the downloaded list is not in the WhatsMyName format")
    sites = parse_wmn(data)
    path = wmn_cache_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    tmp = path.with_suffix(".tmp")
    write_private(tmp, response.content)
    os.replace(tmp, path)
    return SiteList(sites, f"WhatsMyName ({path})", _credit(data))


def select(sites: Iterable[Site], *, category: str | None = None, only: Sequence[str] = ()) -> list[Site]:
    """The enabled sites to ask: by category and/or names; adult sites only when asked for by either."""
    wanted = {n.strip().lower() for n in only if n.strip()}
    cat = category.strip().lower() if category else None
    chosen = []
    for site in sites:
        if site.disabled:
            continue
        if wanted and site.name.lower() not in wanted:
            continue
        if cat and site.category.lower() != cat:
            continue
        if site.category == NSFW and not (wanted or cat):
            continue
        chosen.append(site)
    return chosen


def not_asked(sites: Sequence[Site], *, category: str | None = None, only: Sequence[str] = ()) -> list[str]:
    """Why sites of the list are left out of a sweep (`select`'s rules), with counts, for the reply."""
    wanted = {n.strip().lower() for n in only if n.strip()}
    reasons = []
    if disabled := sum(1 for s in sites if s.disabled):
        reasons.append(f"{disabled} disabled in the site list")
    if not (wanted or category) and (adult := sum(1 for s in sites if s.category == NSFW and not s.disabled)):
        reasons.append(f"{adult} adult sites (ask with --category '{NSFW}')")
    if missing := sorted(wanted - {s.name.lower() for s in sites}):
        reasons.append("not in the site list: " + ", ".join(missing))
    return reasons


def categories(sites: Iterable[Site]) -> list[str]:
    return sorted({s.category for s in sites})
