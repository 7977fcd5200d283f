"""Baselines for the matcher's term finding, plugged into the matcher itself so everything else is the same.

The matcher finds which anchor text terms a post holds with its token index (tokenindex.py), then evaluates
the watches anchored on them with their compiled boolean tests. A baseline here replaces only the first step,
on the same folded token text (" lock bit 3 0 "), so the same anchors, the same candidates and the same
evaluation follow:

- `AhoCorasickFinder`: pyahocorasick (a C automaton) over the padded terms (" lock bit "), every occurrence
  reported, overlapping ones included: exact.
- `RegexFinder`: one `re` alternation of the terms between spaces, longest first: the usual way to write a
  keyword matcher in Python. `finditer` reports one term per position, so a term inside a longer one found
  at the same position is missed (the benchmark prints both match counts).

    python -m bench.finders regex --watches FILE --posts FILE.jsonl   # `socmint match` with the regex finder
"""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING

from handlers.monitor.query import TermKind

if TYPE_CHECKING:
    from handlers.monitor.matcher import Matcher
    from handlers.monitor.normalise import NormalisedPost


def anchor_needles(matcher: Matcher) -> dict[str, int]:
    """The matcher's indexed text terms: padded token text → term id."""
    engine = matcher._engine
    return {term.needle: tid for watch in engine.watches.values() for tid, term in watch.terms
            if tid in engine.anchor_ids and term.kind is TermKind.TEXT}


class AhoCorasickFinder:
    """The anchor text terms a post holds, found by pyahocorasick."""

    def __init__(self, needles: dict[str, int]) -> None:
        import ahocorasick

        self.automaton = ahocorasick.Automaton()
        for needle, tid in needles.items():
            self.automaton.add_word(needle, tid)
        self.automaton.make_automaton()

    def found(self, post: NormalisedPost) -> set[int]:
        return {tid for _, tid in self.automaton.iter(post.text)}


class RegexFinder:
    """The anchor text terms a post holds, found by one `re` alternation."""

    def __init__(self, needles: dict[str, int]) -> None:
        self.ids = {needle.strip(): tid for needle, tid in needles.items()}
        words = sorted(self.ids, key=len, reverse=True)
        self.pattern = re.compile("(?<= )(?:" + "|".join(map(re.escape, words)) + ")(?= )")

    def found(self, post: NormalisedPost) -> set[int]:
        return {self.ids[m.group()] for m in self.pattern.finditer(post.text)}


FINDERS = {"ahocorasick": AhoCorasickFinder, "regex": RegexFinder}


def use_finder(matcher: Matcher, kind: str) -> Matcher:
    """The matcher with its token index replaced by a baseline finder (for matching only: no more changes)."""
    matcher._engine.texts = FINDERS[kind](anchor_needles(matcher))  # type: ignore[assignment]
    return matcher


def main(argv: list[str]) -> int:
    """`socmint match` (handlers/monitor/retrohunt.py) as shipped, but for the finder."""
    from handlers.monitor import retrohunt

    kind, rest = argv[0], argv[1:]
    load = retrohunt.load_watches

    def load_with_finder(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        matcher, ids, skipped = load(*args, **kwargs)  # type: ignore[arg-type]
        return use_finder(matcher, kind), ids, skipped

    retrohunt.load_watches = load_with_finder  # type: ignore[assignment]
    return retrohunt.main(rest)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
