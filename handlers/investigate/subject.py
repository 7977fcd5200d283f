"""What an investigation is about: the identifier typed, as a case entity of one of the playbook kinds.

Besides what /lookup detects, an identifier can be a social account: a profile URL on a known
platform (`https://github.com/alice`), a fediverse handle (`@alice@mastodon.social`) or
`account:<platform>:<handle>`. Any kind can be forced with a `kind:` prefix (`username:status`).
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from handlers.cases import entities as ent
from handlers.cases.entities import Entity, EntityError, EntityKind
from handlers.lookup.defang import refang
from handlers.lookup.detect import Kind, detect

PLAYBOOK_KINDS = ("username", "email", "phone", "domain", "ip", "url", "cve", "account")
FEDIVERSE_RE = re.compile(r"^@?([\w.-]{1,64})@((?:[a-z0-9-]+\.)+[a-z]{2,63})$", re.IGNORECASE)
HANDLE_RE = re.compile(r"^[\w.-]{1,100}$")

# host → (platform, path prefix before the handle); a handle is the next path segment.
PROFILE_HOSTS: dict[str, tuple[str, str]] = {
    "github.com": ("github", "/"),
    "gitlab.com": ("gitlab", "/"),
    "reddit.com": ("reddit", "/user/"),
    "t.me": ("telegram", "/"),
    "bsky.app": ("bluesky", "/profile/"),
    "x.com": ("x", "/"),
    "twitter.com": ("x", "/"),
    "instagram.com": ("instagram", "/"),
    "tiktok.com": ("tiktok", "/@"),
    "youtube.com": ("youtube", "/@"),
    "linkedin.com": ("linkedin", "/in/"),
    "facebook.com": ("facebook", "/"),
    "keybase.io": ("keybase", "/"),
    "news.ycombinator.com": ("hackernews", "/user?id="),
}
PROFILE_URLS: dict[str, str] = {
    "github": "https://github.com/{handle}",
    "gitlab": "https://gitlab.com/{handle}",
    "reddit": "https://www.reddit.com/user/{handle}",
    "telegram": "https://t.me/{handle}",
    "bluesky": "https://bsky.app/profile/{handle}",
    "x": "https://x.com/{handle}",
    "instagram": "https://www.instagram.com/{handle}",
    "tiktok": "https://www.tiktok.com/@{handle}",
    "youtube": "https://www.youtube.com/@{handle}",
    "linkedin": "https://www.linkedin.com/in/{handle}",
    "facebook": "https://www.facebook.com/{handle}",
    "keybase": "https://keybase.io/{handle}",
    "hackernews": "https://news.ycombinator.com/user?id={handle}",
}
PLATFORMS = frozenset({*PROFILE_URLS, "mastodon", "lemmy"})
_DETECTED = {Kind.URL: "url", Kind.EMAIL: "email", Kind.IP: "ip", Kind.CVE: "cve", Kind.PHONE: "phone",
             Kind.DOMAIN: "domain", Kind.USERNAME: "username"}


class NotAnIdentifier(ValueError):
    """The text is not something a playbook can start from; the message says why."""


def account_from_url(url: str) -> Entity | None:
    """The account a profile URL points to on a known platform (or a Mastodon-style `/@user`), else None."""
    try:
        parts = urlsplit(url if "://" in url else f"https://{url}")
    except ValueError:
        return None
    host = (parts.hostname or "").lower().removeprefix("www.").removeprefix("m.").removeprefix("old.")
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if host in PROFILE_HOSTS:
        platform, prefix = PROFILE_HOSTS[host]
        if platform == "reddit" and path.startswith("/u/"):
            prefix = "/u/"
        if not path.startswith(prefix):
            return None
        handle = path[len(prefix):].split("/")[0].split("?")[0].split("&")[0]
        if not HANDLE_RE.match(handle):
            return None
        return ent.account_entity(platform, handle, url=profile_url(platform, handle))
    segments = [s for s in parts.path.split("/") if s]
    if host and len(segments) == 1 and segments[0].startswith("@") and HANDLE_RE.match(segments[0][1:]):
        return ent.account_entity("mastodon", f"{segments[0][1:]}@{host}", url=f"https://{host}/{segments[0]}")
    return None


def profile_url(platform: str, handle: str) -> str | None:
    """The public profile page of `handle` on `platform`, when we know how to build it."""
    if platform == "mastodon" and "@" in handle:
        user, _, host = handle.partition("@")
        return f"https://{host}/@{user}"
    template = PROFILE_URLS.get(platform)
    return template.format(handle=quote(handle, safe="")) if template else None


def account(text: str) -> Entity:
    """`platform:handle` or a fediverse `@user@host` as an account entity."""
    fedi = FEDIVERSE_RE.match(text.strip())
    if fedi:
        handle = f"{fedi.group(1)}@{fedi.group(2).lower()}"
        return ent.account_entity("mastodon", handle, url=profile_url("mastodon", handle))
    found = account_from_url(text) if "/" in text else None
    if found:
        return found
    platform, sep, handle = text.strip().partition(":")
    if not sep or not handle.strip():
        raise EntityError("write an account as <platform>:<handle> (github:alice), @user@instance, or a profile URL")
    platform = platform.strip().lower()
    return ent.account_entity(platform, handle, url=profile_url(platform, handle.strip().lstrip("@")))


def make(kind: str, text: str, default_region: str = "US") -> Entity:
    """The entity of playbook kind `kind` written as `text`; EntityError when it is not one."""
    if kind == "account":
        return account(text)
    return ent.make(EntityKind(kind), refang(text) if kind != "username" else text, default_region=default_region)


def identify(text: str, default_region: str = "US") -> Entity:
    """The entity an identifier stands for: a `kind:` prefix, an account, or what /lookup would detect."""
    text = text.strip()
    prefix, sep, rest = text.partition(":")
    if sep and prefix.lower() in PLAYBOOK_KINDS and not rest.startswith("//"):
        try:
            return make(prefix.lower(), rest.strip(), default_region)
        except EntityError as exc:
            raise NotAnIdentifier(str(exc)) from None
    if sep and prefix.lower() in PLATFORMS and HANDLE_RE.match(rest.strip().lstrip("@")):
        return account(text)
    if FEDIVERSE_RE.match(text) and text.startswith("@"):
        return account(text)
    found = detect(text)
    if found.kind is Kind.URL and (profile := account_from_url(found.value)):
        return profile
    kind = _DETECTED.get(found.kind)
    if kind is None:
        what = f"a {found.detail} hash" if found.kind is Kind.HASH else "something a playbook starts from"
        raise NotAnIdentifier(
            f"{text[:80]!r} is not {what}. Investigate a username, email, phone, domain, IP, URL, CVE or "
            "social account (github:alice, @alice@mastodon.social), or force a kind: username:alice.")
    try:
        return make(kind, found.value, default_region)
    except EntityError as exc:
        raise NotAnIdentifier(str(exc)) from None


def placeholders(entity: Entity) -> dict[str, str]:
    """The values a manual step's URL may use, each URL-encoded: {value} always, more per kind."""
    raw: dict[str, str] = {"value": entity.value}
    match entity.kind:
        case EntityKind.EMAIL:
            local, _, domain = entity.value.rpartition("@")
            raw |= {"local": local.split("+", 1)[0], "domain": domain}
        case EntityKind.URL:
            raw["host"] = urlsplit(entity.value).hostname or ""
        case EntityKind.PHONE:
            raw["digits"] = entity.value.lstrip("+")
        case EntityKind.ACCOUNT:
            raw |= {"platform": entity.attrs.get("source", ""), "handle": entity.attrs.get("handle", ""),
                    "profile_url": entity.attrs.get("url", "")}
    return {k: quote(v, safe="") for k, v in raw.items()}


PLACEHOLDERS: dict[str, frozenset[str]] = {
    "email": frozenset({"value", "local", "domain"}),
    "url": frozenset({"value", "host"}),
    "phone": frozenset({"value", "digits"}),
    "account": frozenset({"value", "platform", "handle", "profile_url"}),
}


def allowed_placeholders(kind: str) -> frozenset[str]:
    """The placeholders a playbook of `kind` may put in its manual steps' URLs."""
    return PLACEHOLDERS.get(kind, frozenset({"value"}))
