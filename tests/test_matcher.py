"""The matcher: same results as evaluating each query on its own, changes effective at once, highlighting."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.monitor import normalise, tokenindex
from handlers.monitor.matcher import Match, Matcher, highlight_spans
from handlers.monitor.normalise import NormalisedPost
from handlers.monitor.post import Author, Post
from handlers.monitor.query import Query, QueryError, parse_query
from handlers.monitor.scan import fold, scan_python

WORDS = ["lockbit", "lock", "bit", "ransomware", "leak", "атака", "勒索", "软件", "فدية", "test", "cve"]
FIELDS = ["#leak", "#apt", "@alice", "from:bob", "source:mastodon", "lang:en", "domain:example.com",
          "/lock.?bit/", '"lock bit"', '"ransomware leak"', "cve:2024-3400"]


def post(text: str, **kw: object) -> Post:
    return Post(source=str(kw.pop("source", "hackernews")), source_id="1", text=text,
                created_at=datetime(2024, 5, 1, tzinfo=UTC), **kw)  # type: ignore[arg-type]


def naive(watches: dict[int, Query], p: Post) -> list[Match]:
    """The reference: every query evaluated term by term."""
    normalised = NormalisedPost.of(p)
    return [Match(wid, q.matched_terms(normalised)) for wid, q in sorted(watches.items()) if q.evaluate(normalised)]


_atoms = st.sampled_from(WORDS + FIELDS)


@st.composite
def queries(draw: st.DrawFn) -> str:
    """Random query text mixing AND, OR, negation and parentheses."""
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        atom = draw(_atoms)
        shape = draw(st.sampled_from(["plain", "neg", "or", "group"]))
        if shape == "neg":
            atom = f"-{atom}"
        elif shape == "or":
            atom = f"{atom} OR {draw(_atoms)}"
        elif shape == "group":
            atom = f"({atom} OR {draw(_atoms)}) -{draw(_atoms)}"
        parts.append(atom)
    return " ".join(parts)


@st.composite
def posts(draw: st.DrawFn) -> Post:
    words = draw(st.lists(st.sampled_from([*WORDS, "blockbits", "Lock-Bit", "LOCKBIT!", "#leak", "#APT", "x",
                                           "https://a.example.com/x", "CVE-2024-3400", "勒索软件"]), max_size=12))
    return post(
        " ".join(words),
        source=draw(st.sampled_from(["hackernews", "mastodon"])),
        lang=draw(st.sampled_from([None, "en", "ru", "en-US"])),
        author=Author(handle=draw(st.sampled_from([None, "alice", "Bob@infosec.exchange", "carol"]))),
        hashtags=draw(st.lists(st.sampled_from(["apt", "Leak", "misc"]), max_size=2)),
    )


def _valid(texts: list[str]) -> dict[int, Query]:
    watches = {}
    for i, text in enumerate(texts, 1):
        try:
            watches[i] = parse_query(text)
        except QueryError:
            continue
    return watches


@pytest.fixture(params=["c", "python"])
def scan_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The matcher with the C scan (when compiled) and as it runs without it."""
    if request.param == "python":
        monkeypatch.setattr(normalise, "scan", lambda text: scan_python(text if text.isascii() else fold(text)))
        monkeypatch.setattr(tokenindex, "tokens_in", None)
        monkeypatch.setattr(tokenindex, "token_set", None)
    return str(request.param)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(queries(), min_size=1, max_size=30), st.lists(posts(), min_size=1, max_size=8))
def test_matcher_agrees_with_naive_evaluation(scan_mode: str, texts: list[str], sample: list[Post]) -> None:
    watches = _valid(texts)
    matcher = Matcher()
    matcher.add_many((wid, q, None) for wid, q in watches.items())
    for p in sample:
        assert matcher.match(p) == naive(watches, p)


@settings(max_examples=40, deadline=None)
@given(st.lists(queries(), min_size=2, max_size=40), st.lists(posts(), min_size=1, max_size=4), st.data())
def test_incremental_changes_agree_with_naive_evaluation(
    texts: list[str], sample: list[Post], data: st.DataObject
) -> None:
    matcher = Matcher()
    live: dict[int, Query] = {}
    for wid, q in _valid(texts).items():
        matcher.add(wid, q)
        live[wid] = q
        if data.draw(st.integers(0, 9)) == 0:  # anchors chosen afresh over all watches
            matcher.rebuild()
        if data.draw(st.booleans()):
            victim = data.draw(st.sampled_from(sorted(live)))
            matcher.remove(victim)
            del live[victim]
        if data.draw(st.booleans()) and live:  # replace a watch's query under the same id
            target = data.draw(st.sampled_from(sorted(live)))
            live[target] = parse_query(data.draw(st.sampled_from(WORDS)))
            matcher.add(target, live[target])
        for p in sample:
            assert matcher.match(p) == naive(live, p)
    assert len(matcher) == len(live)


def test_add_and_remove_take_effect_at_once() -> None:
    matcher = Matcher()
    p = post("LockBit claims a new victim")
    assert matcher.match(p) == []
    matcher.add(7, parse_query("lockbit"))
    assert matcher.match(p) == [Match(7, ("lockbit",))]
    matcher.add(7, parse_query("blackcat"))  # replaced
    assert matcher.match(p) == []
    matcher.add(8, parse_query('"new victim" OR blackcat'))
    assert matcher.match(p) == [Match(8, ("new victim",))]
    matcher.remove(8)
    matcher.remove(99)  # absent: no error
    assert matcher.match(p) == [] and len(matcher) == 1 and 7 in matcher


def test_watch_sources_restrict_matching() -> None:
    matcher = Matcher()
    matcher.add(1, parse_query("lockbit"), frozenset({"Mastodon"}))
    assert matcher.match(post("lockbit", source="hackernews")) == []
    assert matcher.match(post("lockbit", source="mastodon")) == [Match(1, ("lockbit",))]


def test_watches_without_indexable_terms_still_match() -> None:
    matcher = Matcher()
    matcher.add(1, parse_query("/lock.?bit/ -test"))
    matcher.add(2, parse_query("source:mastodon lang:en"))
    assert matcher.match(post("Lock_Bit 3", source="mastodon", lang="en")) == [
        Match(1, ("/lock.?bit/",)), Match(2, ("source:mastodon", "lang:en"))]
    assert matcher.match(post("lockbit test")) == []


def test_changes_during_matching_never_expose_a_partial_engine() -> None:
    matcher = Matcher()
    matcher.add(0, parse_query("anchor"))
    p = post("anchor word0 word1 word2")
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                found = {m.watch_id for m in matcher.match(p)}
                assert 0 in found  # the untouched watch is always there
        except BaseException as exc:  # reported to the main thread
            errors.append(exc)

    def rebuilder() -> None:
        while not stop.is_set():
            matcher.rebuild()

    threads = [threading.Thread(target=reader), threading.Thread(target=rebuilder)]
    for thread in threads:
        thread.start()
    for i in range(1, 2000):
        matcher.add(i, parse_query(f"word{i % 3} OR #tag{i % 7} OR /re{i}x/"))
        if i % 5 == 0:
            matcher.remove(i - 1)
    stop.set()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(matcher) == 2000 - 399
    # whatever rebuilds ran meanwhile, the engine holds exactly the watches that are left
    expected = {0} | {i for i in range(1, 2000) if i % 3 == 0 and not (i % 5 == 4 and i < 1999)}
    assert {m.watch_id for m in matcher.match(post("anchor word0"))} == expected
    matcher.rebuild()
    assert {m.watch_id for m in matcher.match(post("anchor word0"))} == expected


def test_terms_written_with_symbols_are_terms_of_their_own() -> None:
    matcher = Matcher()
    for wid, text in enumerate(["C#", "C++", ".NET", "c", "net", "#section"], 1):
        matcher.add(wid, parse_query(text))
    found = {m.watch_id: m.terms for m in matcher.match(post("Hiring: C# and C++ devs, .NET shop (ASP.NET too)"))}
    assert found == {1: ("c#",), 2: ("c++",), 3: (".net",), 5: ("net",)}  # `net` from ASP.NET, not from .NET
    assert [m.watch_id for m in matcher.match(post("C is fine; so is the net"))] == [4, 5]
    # a URL's fragment is no hashtag, with or without a scheme
    for text in ("see https://x.example/page#section", "see https://x.example/#section", "x.example/#section"):
        assert matcher.match(post(text)) == [], text
    assert [m.watch_id for m in matcher.match(post("new #section here"))] == [6]


def test_highlight_spans_point_at_the_original_text() -> None:
    text = "Straße: LockBit's #Leak via Lock-Bit, see https://www.Example.com and 新的勒索软件 @Alice"
    spans = highlight_spans(text, ("strasse", "lockbit", "#leak", "lock bit", "domain:example.com", "勒索", "@alice",
                                   "lang:en"))
    assert [text[s:e] for s, e in spans] == ["Straße", "LockBit", "#Leak", "Lock-Bit", "Example.com", "勒索",
                                             "@Alice"]
    other = "Ünïcode first, then LOCKBIT 3.0 builder"
    assert [other[s:e] for s, e in highlight_spans(other, ("/lockbit \\d/",))] == ["LOCKBIT 3"]
    assert highlight_spans("blockbits", ("lockbit",)) == []
