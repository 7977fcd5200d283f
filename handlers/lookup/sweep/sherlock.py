"""Import Sherlock's site list (`data.json`: name → {url, errorType, errorMsg, errorCode, …})."""

from __future__ import annotations

import json
from typing import Any

from handlers.lookup.sweep.site import FAILURE, NSFW, SUCCESS, FormatError, Rule, Site

_SHERLOCK_KEYS = {"url", "errorType"}


def is_sherlock(data: Any) -> bool:
    if not isinstance(data, dict):
        return False
    entries = [v for k, v in data.items() if not k.startswith("$")]
    return bool(entries) and all(isinstance(v, dict) and v.keys() >= _SHERLOCK_KEYS for v in entries)


def parse_sherlock(data: dict[str, Any]) -> list[Site]:
    """Every site of a Sherlock manifest, as our model."""
    sites = []
    for name, entry in data.items():
        if name.startswith("$"):
            continue
        try:
            sites.append(sherlock_site(name, entry))
        except (KeyError, TypeError, ValueError) as exc:
            raise FormatError(f"{name}: bad or missing field {exc}") from None
    return sites


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def sherlock_site(name: str, entry: dict[str, Any]) -> Site:
    """Sherlock's error types (any one signals missing), with an explicit found rule.

    Sherlock calls anything that is not an error "claimed"; here *found* must be a 2xx answer without
    the error text, so an odd status is "unknown" instead of a false hit.
    """
    kinds = set(_as_list(entry["errorType"]))
    messages = tuple(str(m) for m in _as_list(entry.get("errorMsg")))
    codes = frozenset(int(c) for c in _as_list(entry.get("errorCode")))
    found = Rule(SUCCESS - codes, absent=messages if "message" in kinds else ())
    missing = []
    if "message" in kinds:
        missing.append(Rule(texts=messages))
    if "status_code" in kinds:
        missing.append(Rule(codes | FAILURE))
    if "response_url" in kinds:
        missing.append(Rule(FAILURE))
    tags = {str(t) for t in _as_list(entry.get("tags"))}
    category = NSFW if entry.get("isNSFW") or "adult" in tags else ("gaming" if "gaming" in tags else "misc")
    payload = entry.get("request_payload")
    method = str(entry.get("request_method") or ("POST" if payload else "GET")).upper()
    return Site(
        name=name,
        check_url=_template(str(entry.get("urlProbe") or entry["url"])),
        profile_url=_template(str(entry["url"])),
        category=category,
        found=found,
        missing=tuple(missing),
        known=(str(entry["username_claimed"]),) if entry.get("username_claimed") else (),
        method=method,
        body=_template(json.dumps(payload)) if payload is not None else None,
        headers=tuple((str(k), str(v)) for k, v in (entry.get("headers") or {}).items())
        + ((("Content-Type", "application/json"),) if payload is not None else ()),
        username_pattern=entry.get("regexCheck"),
        follow_redirects="response_url" not in kinds,
    )


def _template(text: str) -> str:
    return text.replace("{?}", "{account}").replace("{}", "{account}")
