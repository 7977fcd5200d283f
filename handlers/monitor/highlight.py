"""Where matched terms sit in a post's original text, for highlighting alert snippets."""

from __future__ import annotations

import unicodedata

from handlers.monitor.normalise import fold, token_spans, tokens
from handlers.monitor.query import compiled_regex

_MARKS = {"Mn", "Mc", "Me"}

_Word = tuple[str, int, int]  # folded token, start and end in the original text


def highlight_spans(text: str, terms: tuple[str, ...] | list[str]) -> list[tuple[int, int]]:
    """(start, end) character spans in `text` of matched terms (`Match.terms` labels), sorted and merged."""
    words = _words(text)
    spans: list[tuple[int, int]] = []
    for label in terms:
        if len(label) > 2 and label.startswith("/") and label.endswith("/"):
            spans.extend(m.span() for m in compiled_regex(label[1:-1]).finditer(text) if m.end() > m.start())
        elif label.startswith(("#", "@")):
            spans.extend(_prefixed(text, words, label[0], fold(label[1:])))
        elif label.startswith("domain:"):
            spans.extend(_sequence(words, tokens(label.removeprefix("domain:"))))
        elif ":" not in label:
            spans.extend(_sequence(words, tokens(label)))
    return _merge(spans)


def _words(text: str) -> list[_Word]:
    """The folded tokens of `text` with their spans in the original text."""
    folded: list[str] = []
    origin: list[tuple[int, int]] = []  # for each folded character, the original cluster it came from
    start = 0
    for end in range(1, len(text) + 1):
        if end < len(text) and unicodedata.category(text[end]) in _MARKS:
            continue  # keep a base character and its combining marks together
        piece = fold(text[start:end])
        folded.append(piece)
        origin.extend([(start, end)] * len(piece))
        start = end
    return [(word, origin[s][0], origin[e - 1][1]) for word, s, e in token_spans("".join(folded))]


def _sequence(words: list[_Word], wanted: list[str]) -> list[tuple[int, int]]:
    """Spans where the token sequence `wanted` occurs."""
    n = len(wanted)
    if not n:
        return []
    return [
        (words[i][1], words[i + n - 1][2])
        for i in range(len(words) - n + 1)
        if all(words[i + k][0] == wanted[k] for k in range(n))
    ]


def _prefixed(text: str, words: list[_Word], mark: str, value: str) -> list[tuple[int, int]]:
    """Spans of `#value` / `@value` written in the text."""
    return [(start - 1, end) for word, start, end in words if word == value and start and text[start - 1] == mark]


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sort spans and merge the overlapping ones."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
