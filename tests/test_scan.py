"""The text scan: the C version agrees with the Python reference on any text; the token index finds exactly
the patterns a post holds, with the C scan and without."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import timeit
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.monitor import normalise, tokenindex
from handlers.monitor.matcher import Matcher
from handlers.monitor.normalise import NormalisedPost
from handlers.monitor.post import Author, Post
from handlers.monitor.query import parse_query
from handlers.monitor.scan import NATIVE, TABLE_END, fold, scan, scan_folded, scan_python
from handlers.monitor.tokenindex import TokenIndex

# Characters that break naive folding: combining marks, Hangul jamo that compose, compatibility forms,
# case folds longer than one character, final sigma, dotted I, marks of Arabic and Devanagari, emoji.
_TRICKY = (
    "\u0301\u0308\u0327é\u00c5\u212bß\u1e9eﬁ\u0130ıΣσςＬｏｃｋ\u212a\u1100\u1161\u11a8가각\u3131"
    "勒索軟件\uf900ｶﾞ\u0627\u064e\u0644\u0915\u093f\u0928\u094d\u0926\u0940\U0001f600\U0001f1fa\U00020001"
    "\u00a0\u2028\u200d\u0f73\u0cca\u0cd5"
)
_ASCII = "abcXYZ019_ #&:/.@-[]%+"
texts = st.lists(
    st.one_of(st.sampled_from(_TRICKY), st.sampled_from(_ASCII),
              st.sampled_from(["http", "https://", "C#", "++", ".NET", "/#", "\n"]),
              st.characters(codec="utf-8")),
    max_size=40,
).map("".join)

NOW = datetime(2024, 5, 1, tzinfo=UTC)
native = pytest.mark.skipif(not NATIVE, reason="the C scan is not compiled")


def _post(text: str) -> NormalisedPost:
    return NormalisedPost.of(Post(source="rss", source_id="1", text=text, created_at=NOW, author=Author(handle="a")))


def _comparable(found: tuple[str, tuple[str, ...], tuple[str, ...], bytes]) -> tuple[object, ...]:
    """A scan without its hashes, hosts folded (the C scan gives hosts as written, the reference folded)."""
    text, tags, hosts, _ = found
    return text, tags, tuple(fold(h) for h in hosts)


def test_the_c_scan_is_compiled_by_the_install() -> None:
    assert NATIVE, "handlers/monitor/_scan.c was not compiled: install a C compiler, then `pip install -e .` again"


@native
@settings(max_examples=400)
@given(texts)
def test_c_scan_agrees_with_the_python_reference(text: str) -> None:
    assert _comparable(scan(text)) == _comparable(scan_python(fold(text)))


@native
@given(texts)
def test_one_hash_per_token_the_same_for_raw_and_folded_text(text: str) -> None:
    token_text, _, _, hashes = scan(text)
    words = token_text.split()
    assert len(hashes) == 8 * len(words)
    assert hashes == scan_folded(fold(text))[3]
    by_word = {}
    for i, word in enumerate(words):
        assert by_word.setdefault(word, hashes[8 * i : 8 * i + 8]) == hashes[8 * i : 8 * i + 8]


@native
def test_token_hashes_are_keyed_per_process() -> None:
    code = "from handlers.monitor.scan import scan; print(scan('lockbit')[3].hex())"
    runs = {
        seed: subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "2")
    }
    assert runs["1"] != runs["2"]
    assert len(runs["1"].strip()) == 16


@native
def test_every_character_folds_by_table_as_unicodedata_folds_it() -> None:
    for cp in range(TABLE_END):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        text = f"A{chr(cp)}b {chr(cp)}"
        assert _comparable(scan(text)) == _comparable(scan_python(fold(text))), hex(cp)


@pytest.mark.parametrize(
    ("text", "tokens", "tags", "hosts"),
    [
        ("", "  ", (), ()),
        ("LockBit 3.0", " lockbit 3 0 ", (), ()),
        ("ＬｏｃｋＢｉｔ Straße", " lockbit strasse ", (), ()),
        ("新的勒索软件 attack", " 新 的 勒 索 软 件 attack ", (), ()),
        ("#LockBit ##x a#b &#39; #", " lockbit x a b 39 ", ("lockbit", "x"), ()),
        ("see HTTPS://Example.COM:443/x and xhttp://no.example", None, (), ("example.com:443",)),
        ("http://a.http://b (https://[::1]:80/)", None, (), ("a.http:", "[::1]:80")),
        # a URL's fragment is no hashtag, with or without a scheme before it; a tag after the URL is one
        ("https://x.example/page#section x.example/#a ftp://h/x/#b\t#real", None, ("real",), ("x.example",)),
        # terms written with symbols keep them; versions, decimals and ellipses do not
        ("C# or F#, C++ and .NET (.onion)", " c# or f# c++ and .net .onion ", (), ()),
        ("LockBit 3.0, .5 ...net a++b c#d", " lockbit 3 0 5 net a b c d ", (), ()),
    ],
)
def test_scan_examples(text: str, tokens: str | None, tags: tuple[str, ...], hosts: tuple[str, ...]) -> None:
    for found in (scan(text), scan_python(fold(text))):
        if tokens is not None:
            assert found[0] == tokens
        assert found[1] == tags
        assert tuple(fold(h) for h in found[2]) == hosts


patterns = st.lists(
    st.lists(st.sampled_from(["lock", "bit", "勒", "ransomware", "cve", "2024", "3400", "Ａ", "x"]),
             min_size=1, max_size=3),
    min_size=1, max_size=8,
)


@pytest.mark.parametrize("native_keys", [True, False])
@given(patterns, st.data())
def test_the_token_index_finds_exactly_the_patterns_a_post_holds(
    native_keys: bool, chosen: list[list[str]], data: st.DataObject
) -> None:
    needles = list(dict.fromkeys(scan(" ".join(p))[0] for p in chosen))
    with _token_index_without_c(not native_keys or not NATIVE):
        index = TokenIndex((needle, i) for i, needle in enumerate(needles))
        words = data.draw(st.lists(st.sampled_from(["lock", "bit", "勒", "索", "ransomware", "CVE-2024-3400", "y"])))
        post = _post(" ".join(words))
        assert index.found(post) == {i for i, needle in enumerate(needles) if needle in post.text}


@contextlib.contextmanager
def _token_index_without_c(without: bool) -> Iterator[None]:
    """The token index as it is when the C scan is not compiled (token strings as keys)."""
    if not without:
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tokenindex, "tokens_in", None)
        patch.setattr(tokenindex, "token_set", None)
        yield


@native
def test_the_key_of_a_pattern_is_its_rarest_token() -> None:
    index = TokenIndex([(" lockbit ransomware ", 1), (" blackcat ransomware ", 2), (" cve 2024 3400 ", 3)])
    keys = set(index._by_key.values())
    assert keys == {((" lockbit ransomware ", 1),), ((" blackcat ransomware ", 2),), ((" cve 2024 3400 ", 3),)}
    assert index.found(_post("LockBit ransomware again, CVE-2024-3400")) == {1, 3}
    assert tokenindex.tokens_in(index._keys, _post("ransomware news from 2024, cve roundup").hashes) == ()


def test_without_the_c_scan_the_matcher_matches_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    queries = ['lockbit -test', '"black basta"', "#leak OR @alice", "勒索 domain:example.com", "/lock\\w+/"]
    posts = [
        Post(source="rss", source_id=str(i), text=text, created_at=NOW, author=Author(handle=handle),
             hashtags=tags, urls=urls)
        for i, (text, handle, tags, urls) in enumerate([
            ("LockBit is back", "bob", [], []),
            ("Black  Basta: new leak", "Alice@infosec.exchange", ["Leak"], []),
            ("新的勒索软件 https://a.example.com/x", "carol", [], []),
            ("lockbit test post", "dave", [], ["https://example.com"]),
            ("ＬＯＣＫＥＲ Straße", "eve", [], []),
        ])
    ]

    def matches() -> list[list[int]]:
        matcher = Matcher()
        matcher.add_many((i, parse_query(q), None) for i, q in enumerate(queries, 1))
        return [[m.watch_id for m in matcher.match(post)] for post in posts]

    with_c = matches()
    monkeypatch.setattr(normalise, "scan", lambda text: scan_python(text if text.isascii() else fold(text)))
    monkeypatch.setattr(tokenindex, "tokens_in", None)
    monkeypatch.setattr(tokenindex, "token_set", None)
    assert matches() == with_c == [[1, 5], [2, 3], [4], [5], [5]]



@native
@settings(max_examples=200)
@given(st.lists(st.tuples(st.booleans(), st.sampled_from(range(40))), max_size=200),
       st.lists(st.sampled_from(range(60)), max_size=80))
def test_the_token_set_changed_in_place_holds_exactly_what_was_added_and_not_removed(
    ops: list[tuple[bool, int]], probe: list[int]
) -> None:
    from handlers.monitor._scan import token_set, token_set_add, token_set_discard, tokens_in

    def h(k: int) -> int:  # clustered hashes make long probe runs: the backward shift is exercised
        return (k % 7) << 40 | k

    table = token_set(b"", 64)
    model: set[int] = set()
    for add, k in ops:
        if add:
            assert token_set_add(table, h(k)) == (h(k) not in model)
            model.add(h(k))
        else:
            assert token_set_discard(table, h(k)) == (h(k) in model)
            model.discard(h(k))
    hashes = b"".join(h(k).to_bytes(8, sys.byteorder) for k in probe)
    expected = tuple(dict.fromkeys(h(k) for k in probe if h(k) in model))
    assert tokens_in(table, hashes) == expected  # distinct, in order of first appearance


@native
def test_tokens_in_is_linear_in_the_tokens_of_a_post() -> None:
    """A post whose every token is indexed: 16 times the tokens must cost about 16 times as much, not 256
    (the quadratic repeat check took 146 ms for one post against 32k indexed tokens). Best of 5, so that a
    busy machine cannot make the larger case look slower than it is."""
    from handlers.monitor._scan import token_set, tokens_in

    def cost(n: int) -> float:
        hashes = b"".join((k * 0x9E3779B97F4A7C15 % 2**64 | 1).to_bytes(8, sys.byteorder) for k in range(n))
        table = token_set(hashes)
        assert len(tokens_in(table, hashes + hashes)) == n  # correct first: each once, repeats dropped
        return min(timeit.repeat(lambda: tokens_in(table, hashes), number=3, repeat=5))

    small, large = cost(4_000), cost(64_000)
    assert large / small < 64, f"4k tokens {small * 1e3:.2f} ms, 64k tokens {large * 1e3:.2f} ms"
