"""IOC extraction scored on the reference set (tests/fixtures/iocs/reference_cases.toml): cases from the
published test suites of ioc-finder and iocextract, written again with our expectations.

Precision and recall are counted per kind over (case, indicator) pairs, and each must reach 0.95.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from handlers.analysis.iocs import IOC, IOCKind, extract_iocs

FIXTURE = Path(__file__).parent / "fixtures" / "iocs" / "reference_cases.toml"
CASES = tomllib.loads(FIXTURE.read_text(encoding="utf-8"))["case"]
FLOOR = 0.95


def expected(case: dict[str, object]) -> set[IOC]:
    pairs = (str(item).split(" ", 1) for item in case["iocs"])  # type: ignore[attr-defined]
    return {IOC(IOCKind(kind), value) for kind, value in pairs}


def score(extract: Callable[[str], Iterable[IOC]]) -> dict[str, tuple[int, int, int, list[str]]]:
    """Per kind: true positives, false positives, false negatives, and the first mistakes (for messages)."""
    counts: Counter[tuple[str, str]] = Counter()
    mistakes: dict[str, list[str]] = {}
    for i, case in enumerate(CASES):
        want, got = expected(case), set(extract(case["text"]))
        for ioc in want | got:
            outcome = "tp" if ioc in want and ioc in got else "fp" if ioc in got else "fn"
            counts[(ioc.kind.value, outcome)] += 1
            if outcome != "tp":
                mistakes.setdefault(ioc.kind.value, []).append(f"{outcome} {ioc.value!r} in case {i} {case['text']!r}")
    kinds = {k for k, _ in counts}
    return {k: (counts[(k, "tp")], counts[(k, "fp")], counts[(k, "fn")], mistakes.get(k, [])[:5]) for k in kinds}


def test_the_set_is_well_formed_and_covers_every_kind() -> None:
    assert len(CASES) >= 300
    kinds = {ioc.kind for case in CASES for ioc in expected(case)}
    assert kinds == set(IOCKind)
    assert all(case["ref"] for case in CASES)
    assert sum(1 for case in CASES if not case["iocs"]) >= 50, "negative cases keep precision honest"


@pytest.mark.parametrize("kind", [k.value for k in IOCKind])
def test_precision_and_recall_per_kind_reach_the_floor(kind: str) -> None:
    tp, fp, fn, mistakes = score(extract_iocs)[kind]
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    assert precision >= FLOOR and recall >= FLOOR, (f"{kind}: precision {precision:.3f}, recall {recall:.3f}", mistakes)
