"""The WhatsMyName list format (our native one): `{"license", "authors", "categories", "sites": [...]}`."""

from __future__ import annotations

from typing import Any

from handlers.lookup.sweep.site import FormatError, Rule, Site


def is_wmn(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("sites"), list)


def parse_wmn(data: dict[str, Any]) -> list[Site]:
    """Every site of a WhatsMyName list (sites marked `valid: false` kept, but disabled)."""
    sites = []
    for index, entry in enumerate(data["sites"]):
        if not isinstance(entry, dict):
            raise FormatError(f"sites[{index}] is not an object")
        try:
            sites.append(wmn_site(entry))
        except (KeyError, TypeError, ValueError) as exc:
            raise FormatError(f"sites[{index}] ({entry.get('name', '?')}): bad or missing field {exc}") from None
    return sites


def wmn_site(entry: dict[str, Any]) -> Site:
    """One WhatsMyName entry: found = e_code and e_string; missing = m_code and m_string; no redirects followed."""
    e_string, m_string = str(entry["e_string"]), str(entry["m_string"])
    return Site(
        name=str(entry["name"]),
        check_url=str(entry["uri_check"]),
        profile_url=str(entry.get("uri_pretty") or entry["uri_check"]),
        category=str(entry.get("cat") or "misc"),
        found=Rule(frozenset({int(entry["e_code"])}), (e_string,) if e_string else ()),
        missing=(Rule(frozenset({int(entry["m_code"])}), (m_string,) if m_string else ()),),
        known=tuple(str(k) for k in entry.get("known", ())),
        method="POST" if entry.get("post_body") else "GET",
        body=entry.get("post_body") or None,
        headers=tuple((str(k), str(v)) for k, v in (entry.get("headers") or {}).items()),
        strip_chars=str(entry.get("strip_bad_char") or ""),
        disabled=entry.get("valid") is False,
    )
