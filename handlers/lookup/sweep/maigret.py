"""Import Maigret's site database (`{"sites": {name: {...}}, "engines": {...}, "tags": [...]}`)."""

from __future__ import annotations

import json
from typing import Any

from handlers.lookup.sweep.site import FAILURE, NSFW, SUCCESS, FormatError, Rule, Site


def is_maigret(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("sites"), dict)


def parse_maigret(data: dict[str, Any]) -> list[Site]:
    """Every username site of a Maigret database, engines merged in (other identifier types skipped)."""
    engines = {name: e.get("site", {}) for name, e in (data.get("engines") or {}).items() if isinstance(e, dict)}
    sites = []
    for name, entry in data["sites"].items():
        if not isinstance(entry, dict):
            raise FormatError(f"{name}: not an object")
        merged = {**engines.get(entry.get("engine", ""), {}), **entry}
        if merged.get("type", "username") != "username":
            continue
        try:
            site = maigret_site(name, merged)
        except (KeyError, TypeError, ValueError) as exc:
            raise FormatError(f"{name}: bad or missing field {exc}") from None
        if site.check_url.startswith(("http://", "https://")):
            sites.append(site)
    return sites


def _category(tags: list[str], nsfw: bool) -> str:
    if nsfw:
        return NSFW
    topical = [t for t in tags if len(t) > 2]  # two-letter tags are countries
    return topical[0] if topical else "misc"


def maigret_site(name: str, entry: dict[str, Any]) -> Site:
    """Maigret's check types with both sides explicit; 403 is a refusal (unknown) unless `ignore403`."""
    check = entry.get("checkType", "status_code")
    presence = tuple(str(s) for s in entry.get("presenseStrs") or entry.get("presenceStrs") or ())
    absence = tuple(str(s) for s in entry.get("absenceStrs") or ())
    refusals = frozenset() if entry.get("ignore403") else frozenset({403})
    if check == "message":
        found = Rule(frozenset() if presence else SUCCESS, texts=presence, absent=absence)
        missing = (Rule(texts=absence),) if absence else ()
    elif check in ("status_code", "response_url"):
        found = Rule(SUCCESS, texts=presence)
        missing = (Rule(FAILURE - refusals),)
    else:
        raise ValueError(f"checkType {check!r}")
    url_main = str(entry.get("urlMain", "")).rstrip("/")
    fill = {"{urlMain}": url_main, "{urlSubpath}": str(entry.get("urlSubpath", "")), "{username}": "{account}"}
    payload = entry.get("requestPayload")
    tags = [str(t) for t in entry.get("tags") or ()]
    return Site(
        name=name,
        check_url=_fill(str(entry.get("urlProbe") or entry["url"]), fill),
        profile_url=_fill(str(entry["url"]), fill),
        category=_category(tags, "porn" in tags or "adult" in tags),
        found=found,
        missing=missing,
        known=(str(entry["usernameClaimed"]),) if entry.get("usernameClaimed") else (),
        method=str(entry.get("requestMethod") or ("POST" if payload else "GET")).upper(),
        body=_fill(json.dumps(payload), fill) if payload is not None else None,
        headers=tuple((str(k), str(v)) for k, v in (entry.get("headers") or {}).items())
        + ((("Content-Type", "application/json"),) if payload is not None else ()),
        username_pattern=entry.get("regexCheck"),
        follow_redirects=check != "response_url",
        block_markers=tuple((str(k), str(v)) for k, v in (entry.get("errors") or {}).items()),
        disabled=bool(entry.get("disabled")),
    )


def _fill(template: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        template = template.replace(key, value)
    return template
