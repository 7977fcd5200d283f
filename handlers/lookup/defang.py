"""Defanging and refanging indicators: `https://evil.com` ⇄ `hxxps://evil[.]com`.

One refang serves every caller (lookups, case entities, IOC extraction), so a form understood in one
place is understood everywhere. Undone: `hxxp`/`hXXps`/`h**p`/`fxp`/`ftx` schemes with `://`, `[://]`,
`[:]//`, `:[//]`, `__` or `:\\\\` after them; dots written `[.]`, `(.)`, `{.}`, `[dot]`, `(dot)`
(spaces around and repeated brackets allowed), `\\.`, `x[.y`, `x(.y`, `x.]y` and `x.)y`; `[@]`, `[at]`, `(at)`;
`[:]`; `[/]`, `(/)` and `x[/y`.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_REFANG = re.compile(
    r"(?=[ \t\\\[({.hf:])"  # every form starts with one of these: lets the scan skip other characters fast
    r"(?:(?P<scheme>\b(?:h(?:xx|\*\*|tt)p(?P<s>s?)|f[xt]p(?P<fs>s?)|ftx))"
    r"(?P<sep>\[:\]//|\[://\]|\[:\]\[//\]|:\[//\]|://|:?__(?=\w)|:\\\\(?=\w))"
    r"|(?P<dot>[ \t]*\\*[\[({]+[ \t]*(?:\.|dot)[ \t]*\\*[\])}]+[ \t]*"
    r"|(?<=\w)[\[(]+\.(?=\w)|(?<=\w)\.[\])]+(?=\w)|\\+\.)"
    r"|(?P<at>[ \t]*[\[({]+[ \t]*(?:@|at)[ \t]*[\])}]+[ \t]*)"
    r"|(?P<sep_alone>\[://\])"
    r"|(?P<colon>\[:\])"
    r"|(?P<slash>\[/\]|\(/\)|(?<=\w)\[/(?=\w)))",
    re.IGNORECASE,
)
_SCHEMES = {"h": "http", "f": "ftp"}


def _replacement(m: re.Match[str]) -> str:
    if m.group("scheme"):
        scheme = m.group("scheme").lower()
        plain = scheme in ("http", "https", "ftp", "ftps") and m.group("sep") == "://"
        if plain:
            return m.group(0)
        secure = "s" if (m.group("s") or m.group("fs")) else ""
        return f"{_SCHEMES[scheme[0]]}{secure}://"
    if m.group("dot"):
        return "."
    if m.group("at"):
        return "@"
    if m.group("sep_alone"):
        return "://"
    if m.group("colon"):
        return ":"
    return "/"


def refang_marked(text: str) -> tuple[str, list[int]]:
    """The text with defanged notation undone, and the offsets (in the result) where that happened."""
    out: list[str] = []
    marks: list[int] = []
    pos = length = 0
    for m in _REFANG.finditer(text):
        repl = _replacement(m)
        if repl == m.group(0):
            continue
        out.append(text[pos : m.start()])
        length += m.start() - pos
        marks.append(length)
        out.append(repl)
        length += len(repl)
        pos = m.end()
    out.append(text[pos:])
    return "".join(out), marks


def refang(text: str) -> str:
    """Undo the usual defanging (`hxxp`, `[.]`, `(dot)`, `[@]`, `[:]`, `\\.`) so the text can be parsed."""
    return refang_marked(text)[0]


def is_defanged(text: str) -> bool:
    """Whether refanging changes the text (it was written defanged)."""
    return bool(refang_marked(text)[1])


def defang_host(host: str) -> str:
    """`evil.com` → `evil[.]com`, `1.2.3.4` → `1[.]2[.]3[.]4`: every dot bracketed."""
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
