"""A finished sweep written out: every site's outcome as JSON or CSV, found profiles by category."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from bot.csvfile import csv_text
from handlers.lookup.sweep.engine import SiteResult
from handlers.lookup.sweep.verdict import Status

FIELDS = ("site", "category", "url", "status", "http_status", "elapsed_ms", "reason")
_DETAIL = re.compile(r"\s*\([^)]*\)")


def to_json(results: Iterable[SiteResult]) -> str:
    """One object per site: site, category, url, status, http_status, elapsed_ms, reason."""
    return json.dumps([r.to_dict() for r in results], ensure_ascii=False, indent=1)


def to_csv(results: Iterable[SiteResult]) -> str:
    """One row per site (FIELDS); site lists are third-party data, so every cell is made safe."""
    return csv_text(FIELDS, ([r.to_dict()[f] for f in FIELDS] for r in results))


def ordered(results: Iterable[SiteResult]) -> list[SiteResult]:
    """Found first, then unknown, then not found; by site name within each."""
    rank = {Status.FOUND: 0, Status.UNKNOWN: 1, Status.NOT_FOUND: 2}
    return sorted(results, key=lambda r: (rank[r.status], r.site.name.lower()))


def found_by_category(results: Iterable[SiteResult]) -> dict[str, list[SiteResult]]:
    groups: defaultdict[str, list[SiteResult]] = defaultdict(list)
    for r in results:
        if r.status is Status.FOUND:
            groups[r.site.category].append(r)
    return {cat: sorted(groups[cat], key=lambda r: r.site.name.lower()) for cat in sorted(groups)}


def unknown_reasons(results: Sequence[SiteResult]) -> list[tuple[str, int]]:
    """Why sites stayed unknown, most common first (details such as status codes folded together)."""
    counts = Counter(_DETAIL.sub("", r.reason) for r in results if r.status is Status.UNKNOWN)
    return counts.most_common()


def counts(results: Iterable[SiteResult]) -> Counter[Status]:
    return Counter(r.status for r in results)
