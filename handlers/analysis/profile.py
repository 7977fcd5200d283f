"""Who an account is and how it behaves, from its posts and (when a source has one) its profile."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import numpy as np

from handlers.analysis import activity, sentiment
from handlers.analysis.charts import Picture
from handlers.analysis.iocs import IOC, IOCKind, extract_iocs
from handlers.analysis.timezone_estimate import TimezoneEstimate, estimate_timezone
from handlers.monitor.post import Post
from handlers.monitor.sources.base import Profile

_HANDLE = re.compile(r"(?<![\w@])@([A-Za-z0-9_][A-Za-z0-9_.-]{1,63}(?:@[A-Za-z0-9.-]+\.[a-z]{2,})?)")
TOP = 5


@dataclass(frozen=True)
class ProfileReport:
    """Everything /profile says about an account."""

    label: str
    posts: int
    names: list[str]
    bio: str
    links: list[str]
    created_at: datetime | None
    counts: dict[str, int]
    other_handles: list[str]
    activity: activity.ActivitySummary
    matrix: np.ndarray
    timezone: TimezoneEstimate
    hashtags: list[tuple[str, int]]
    mentions: list[tuple[str, int]]
    domains: list[tuple[str, int]]
    languages: list[tuple[str, int]]
    mean_sentiment: float | None
    sentiment_unscored: str  # e.g. "3 not scored (ru 2, zh 1)": posts in languages VADER does not read
    iocs: list[tuple[IOC, int]]

    @property
    def cves(self) -> list[tuple[IOC, int]]:
        return [(i, n) for i, n in self.iocs if i.kind is IOCKind.CVE]

    @property
    def other_iocs(self) -> list[tuple[IOC, int]]:
        return [(i, n) for i, n in self.iocs if i.kind is not IOCKind.CVE]

    def heatmap(self) -> Picture:
        return activity.heatmap_picture(self.matrix, self.label, self.activity)


def _domain(url: str) -> str | None:
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return None
    return host.removeprefix("www.") or None


def build(label: str, posts: Sequence[Post], profile: Profile | None = None) -> ProfileReport:
    """Analyse an account's posts (and its source profile, if any)."""
    times = [p.created_at for p in posts]
    matrix = activity.activity_matrix(times)
    texts = [p.full_text for p in posts]
    own = {(p.author.handle or "").lower() for p in posts} | (
        {(profile.author.handle or "").lower()} if profile else set()
    )
    hashtags = Counter(f"#{h.lstrip('#').lower()}" for p in posts for h in set(p.hashtags))
    mentions = Counter(m.lstrip("@").lower() for p in posts for m in set(p.mentions))
    domains = Counter(d for p in posts for d in {_domain(u) for u in p.urls} if d)
    languages = Counter(p.lang for p in posts if p.lang)
    ioc_counts: Counter[IOC] = Counter()
    for t in texts:
        ioc_counts.update(extract_iocs(t))
    bio = profile.bio if profile else ""
    handles = Counter(h.lower() for h in _HANDLE.findall(bio))
    handles.update(mentions)
    other = [h for h, _ in handles.most_common() if h not in own][:10]
    names = {p.author.name for p in posts if p.author.name}
    links: list[str] = []
    if profile:
        names |= {profile.author.name} if profile.author.name else set()
        links = list(dict.fromkeys([*profile.links, *([profile.url] if profile.url else [])]))
    scores = sentiment.scored(texts)
    scored_values = scores.values[scores.scored]
    return ProfileReport(
        label=label,
        posts=len(posts),
        names=sorted(names),
        bio=bio,
        links=links,
        created_at=profile.created_at if profile else None,
        counts=dict(profile.counts) if profile else {},
        other_handles=other,
        activity=activity.summarise(times, matrix),
        matrix=matrix,
        timezone=estimate_timezone(times),
        hashtags=hashtags.most_common(TOP),
        mentions=[(m, n) for m, n in mentions.most_common(TOP + 1) if m not in own][:TOP],
        domains=domains.most_common(TOP),
        languages=languages.most_common(TOP),
        mean_sentiment=float(scored_values.mean()) if len(scored_values) else None,
        sentiment_unscored=scores.describe_unscored(),
        iocs=sorted(ioc_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:15],
    )


def counted(items: Sequence[tuple[object, int]]) -> str:
    """`a (3), b (2)` or a dash."""
    return ", ".join(f"{k} ({n})" for k, n in items) or "—"
