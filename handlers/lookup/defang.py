"""Defanging and refanging indicators: `https://evil.com` ⇄ `hxxps://evil[.]com`."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# Order matters: longer bracketed forms first.
_REFANG_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(h[x*]{2}p)(s?)(\[://\]|\[?:\]?//)", re.IGNORECASE), r"http\2://"),
    (re.compile(r"\b(f[x*]p)(\[://\]|\[?:\]?//)", re.IGNORECASE), "ftp://"),
    (re.compile(r"\b(https?|ftp)\[:\]//", re.IGNORECASE), r"\1://"),
    (re.compile(r"\[://\]"), "://"),
    (re.compile(r"\s*[\[\(\{]\s*(?:\.|dot)\s*[\]\)\}]\s*", re.IGNORECASE), "."),
    (re.compile(r"\\\."), "."),
    (re.compile(r"\s*[\[\(\{]\s*(?:@|at)\s*[\]\)\}]\s*", re.IGNORECASE), "@"),
    (re.compile(r"\[:\]"), ":"),
    (re.compile(r"\[/\]"), "/"),
)


def refang(text: str) -> str:
    """Undo the usual defanging (`hxxp`, `[.]`, `(dot)`, `[@]`, `[:]`, `\\.`) so the text can be parsed."""
    text = text.strip()
    for pattern, replacement in _REFANG_RULES:
        text = pattern.sub(replacement, text)
    return text


def is_defanged(text: str) -> bool:
    """Whether refanging changes the text (it was written defanged)."""
    return refang(text) != text.strip()


def defang_host(host: str) -> str:
    """`evil.com` → `evil[.]com`, `1.2.3.4` → `1.2.3[.]4`-style: every dot bracketed."""
    return host.replace(".", "[.]")


def defang_url(url: str) -> str:
    """`https://evil.com/a.php` → `hxxps://evil[.]com/a.php`: scheme and host neutralised, path kept."""
    url = refang(url)
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return defang_host(url)
    scheme = {"http": "hxxp", "https": "hxxps", "ftp": "fxp"}.get(parts.scheme.lower(), parts.scheme)
    rest = url[len(parts.scheme) + 3 + len(parts.netloc):]
    return f"{scheme}://{defang_host(parts.netloc)}{rest}"


def defang_email(address: str) -> str:
    """`a@evil.com` → `a[@]evil[.]com`."""
    local, _, domain = refang(address).rpartition("@")
    return f"{local}[@]{defang_host(domain)}"
