"""Secrets masked in any text: configured secret values, credentials inside URLs and Bot API tokens.

Logs, `/status`, the recent-errors list, audit entries, `socmint config check` and data exports all
pass text through a SecretMasker, so a secret that reaches an error message (an upstream echoing the
request path, a driver quoting its connection URL) is masked before anyone can read or store it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

MASK = "***"
MIN_SECRET = 4  # shorter configured values would mask ordinary words
# Bot API URLs carry the token: /bot<id>:<secret>/method. Masked even before settings load.
BOT_TOKEN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")
# scheme://user:password@host or scheme://token@host: the password (or the lone token) goes.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^\s/?#@:]*)(:[^\s/?#@]*)?@")
# ?token=…, &api_key=…, &password=…: credentials passed as query parameters.
_QUERY_SECRET = re.compile(
    r"(?i)([?&;](?:access_?token|api_?key|apikey|auth|client_secret|key|pass(?:word|wd)?|secret|sig(?:nature)?"
    r"|token)=)[^&;#\s]+")


def _userinfo(m: re.Match[str]) -> str:
    scheme, user, password = m.group(1), m.group(2), m.group(3)
    if password is not None:
        return f"{scheme}{user}:{MASK}@"
    return f"{scheme}{MASK}@" if user else m.group(0)


def url_password(url: str) -> str | None:
    """The password (or lone token) in a URL's userinfo, if it has one."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.password:
        return parts.password
    return parts.username if parts.username and "@" in parts.netloc and ":" not in parts.netloc.split("@")[0] \
        else None


class SecretMasker:
    """Replaces every known secret value and every credential-shaped part of a URL with ***."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        text = _USERINFO.sub(_userinfo, text)
        text = _QUERY_SECRET.sub(lambda m: m.group(1) + MASK, text)
        return BOT_TOKEN.sub(MASK, text)
