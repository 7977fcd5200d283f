"""A site to sweep: how to ask it about a username, and what its found and missing answers look like."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import re2

PLACEHOLDER = "{account}"
NSFW = "xx NSFW xx"

_USERNAME = re.compile(r"[\w.\-]{1,64}")
_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# Headers a site list may not set: we always identify ourselves, and never talk to another virtual host.
_FORBIDDEN_HEADERS = frozenset({"user-agent", "host", "content-length"})

SUCCESS = frozenset(range(200, 300))
# Every non-2xx answer a site can mean "no such user" with; 429 and 5xx are faults, never an answer.
FAILURE = frozenset(range(300, 500)) - {429}
MAX_PATTERN = 1000  # a site list's username pattern (regexCheck) longer than this is ignored
_PATTERN_MEMORY = 1 << 20


@functools.lru_cache(maxsize=4096)
def username_rule(pattern: str) -> re2._Regexp | None:
    """A site list's username pattern compiled with RE2 (linear time: a hostile `^(a+)+$` cannot stall the
    event loop); None when it is too long or not valid RE2 (then the site is asked whatever the name)."""
    if len(pattern) > MAX_PATTERN:
        return None
    options = re2.Options()
    options.log_errors = False
    options.max_mem = _PATTERN_MEMORY
    try:
        return re2.compile(pattern, options)
    except re2.error:
        return None


def normalise_username(raw: str) -> str:
    """The username to sweep (a leading @ dropped); ValueError when it has characters no username has."""
    name = raw.strip().removeprefix("@")
    if not _USERNAME.fullmatch(name):
        raise ValueError(
            "a username is 1–64 letters, digits, dots, dashes or underscores"
            + (f" ({raw.strip()[:40]!r} is not)" if raw.strip() else "")
        )
    return name


@dataclass(frozen=True, slots=True)
class Observed:
    """What a site answered, as far as the rules look at it."""

    status: int
    body: str
    location: str | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """What a response looks like when it means one outcome."""

    statuses: frozenset[int] = frozenset()  # empty: any status
    texts: tuple[str, ...] = ()  # at least one must be in the body (empty: no requirement)
    absent: tuple[str, ...] = ()  # none may be in the body

    def score(self, seen: Observed) -> int:
        """0 when the response does not match; otherwise how specific the match is (2 = text matched too)."""
        if self.statuses and seen.status not in self.statuses:
            return 0
        if self.texts and not any(t in seen.body for t in self.texts):
            return 0
        if any(t in seen.body for t in self.absent):
            return 0
        return 2 if self.texts else 1

    def describe(self) -> str:
        parts = []
        if self.statuses:
            codes = sorted(self.statuses)
            parts.append(f"HTTP {codes[0]}" if len(codes) == 1 else f"HTTP {codes[0]}–{codes[-1]}")
        if self.texts:
            parts.append("text " + " | ".join(repr(t[:40]) for t in self.texts))
        if self.absent:
            parts.append("without " + " | ".join(repr(t[:40]) for t in self.absent))
        return " + ".join(parts) or "any response"


class FormatError(ValueError):
    """A site list that is not in the format it claims to be."""


class NotApplicable(Exception):
    """This username cannot be asked of this site (the site's own format rules it out)."""


@dataclass(frozen=True, slots=True)
class Probe:
    """One concrete request for one username on one site."""

    method: str
    url: str
    profile_url: str
    headers: dict[str, str]
    body: str | None
    follow_redirects: bool


@dataclass(frozen=True, slots=True)
class Site:
    """A site in our internal model, whatever list format it came from."""

    name: str
    check_url: str  # template with {account}
    profile_url: str  # template with {account}, what a person opens
    category: str
    found: Rule
    missing: tuple[Rule, ...]  # any one of them means missing (a status, a message, a redirect)
    known: tuple[str, ...] = ()
    method: str = "GET"
    body: str | None = None  # template with {account}
    headers: tuple[tuple[str, str], ...] = ()
    strip_chars: str = ""
    username_pattern: str | None = None
    follow_redirects: bool = False
    block_markers: tuple[tuple[str, str], ...] = ()  # (text in the body, what it means)
    disabled: bool = False

    @property
    def host(self) -> str:
        """Where requests go (scheme://host:port with the placeholder left in), the per-host limit's key."""
        parts = urlsplit(self.check_url)
        return f"{parts.scheme}://{parts.netloc}".lower()

    @property
    def expected_statuses(self) -> frozenset[int]:
        """Statuses the site's rules name: a 5xx or 429 among them is an answer, not a fault."""
        return self.found.statuses.union(*(r.statuses for r in self.missing))

    def missing_score(self, seen: Observed) -> int:
        return max((r.score(seen) for r in self.missing), default=0)

    def probe(self, username: str) -> Probe:
        """The request for `username`; NotApplicable when the site cannot have such a name."""
        name = username.translate({ord(c): None for c in self.strip_chars})
        if not name:
            raise NotApplicable("the username is empty once this site's forbidden characters are removed")
        rule = username_rule(self.username_pattern) if self.username_pattern else None
        if rule is not None and rule.search(name) is None:  # a broken pattern is the list's problem, not the name's
            raise NotApplicable("this site does not accept usernames of this form")
        url = _fill_url(self.check_url, name)
        profile = _fill_url(self.profile_url, name)
        headers = {k: v for k, v in self.headers if k.lower() not in _FORBIDDEN_HEADERS}
        body = None
        if self.body is not None:
            is_json = "json" in headers.get("Content-Type", headers.get("content-type", ""))
            value = json.dumps(name)[1:-1] if is_json else quote(name, safe="")
            body = self.body.replace(PLACEHOLDER, value)
        return Probe(self.method, url, profile, headers, body, self.follow_redirects)


def _fill_url(template: str, name: str) -> str:
    """Put the name into a URL template: percent-encoded in the path, a valid label in the host."""
    if PLACEHOLDER not in template:
        return template
    netloc = urlsplit(template).netloc
    if PLACEHOLDER in netloc and not _HOST_LABEL.fullmatch(name):
        raise NotApplicable("the username cannot be part of this site's host name")
    return template.replace(PLACEHOLDER, quote(name, safe=""))
