"""The watch query language: syntax, semantics, word boundaries, scripts, errors, and parser robustness."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.monitor.post import Author, Post
from handlers.monitor.query import (
    MAX_DEPTH,
    MAX_REGEX_LENGTH,
    All,
    Any,
    Leaf,
    Not,
    QueryError,
    Term,
    TermKind,
    parse_query,
)


def post(text: str, **kw: object) -> Post:
    return Post(source=str(kw.pop("source", "hackernews")), source_id="1", text=text,
                created_at=datetime(2024, 5, 1, tzinfo=UTC), **kw)  # type: ignore[arg-type]


def matches(query: str, text: str, **kw: object) -> bool:
    return parse_query(query).evaluate(post(text, **kw))


# ---- syntax ----------------------------------------------------------------------------------------


def test_implicit_and_or_not_and_parentheses_build_the_expected_tree() -> None:
    q = parse_query('(lockbit OR "Lock Bit") leak -test NOT demo')
    lock, phrase = Leaf(Term(TermKind.TEXT, "lockbit")), Leaf(Term(TermKind.TEXT, "lock bit"))
    assert q.root == All((
        Any((lock, phrase)),
        Leaf(Term(TermKind.TEXT, "leak")),
        Not(Leaf(Term(TermKind.TEXT, "test"))),
        Not(Leaf(Term(TermKind.TEXT, "demo"))),
    ))
    assert [str(t) for t in q.terms] == ["lockbit", "lock bit", "leak", "test", "demo"]
    assert [str(t) for t in q.positive] == ["lockbit", "lock bit", "leak"]


def test_or_binds_looser_than_implicit_and() -> None:
    q = parse_query("a b OR c")
    assert isinstance(q.root, Any)
    assert str(q) == "a b OR c"
    assert str(parse_query("a (b OR c)")) == "a (b OR c)"


def test_field_terms_are_normalised() -> None:
    q = parse_query("#LockBit @Alice from:Bob source:HackerNews lang:pt_BR domain:WWW.Example.COM cve:2024-3400")
    assert [(t.kind, t.value) for t in q.terms] == [
        (TermKind.TAG, "lockbit"),
        (TermKind.AUTHOR, "alice"),
        (TermKind.AUTHOR, "bob"),
        (TermKind.SOURCE, "hackernews"),
        (TermKind.LANG, "pt-br"),
        (TermKind.DOMAIN, "example.com"),
        (TermKind.TEXT, "cve 2024 3400"),
    ]


def test_lowercase_or_is_a_word_and_duplicates_are_one_term() -> None:
    q = parse_query("cats or dogs cats")
    assert [t.value for t in q.terms] == ["cats", "or", "dogs"]


# ---- semantics -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("lockbit", "New LockBit sample", True),
        ("lockbit", "blockbits everywhere", False),
        ("lockbit", "lockbits", False),
        ("lockbit", "(lockbit)", True),
        ('"lock bit"', "Lock-Bit, the group", True),
        ('"lock bit"', "lock the bit", False),
        ("lockbit ransomware", "ransomware by lockbit", True),
        ("lockbit ransomware", "lockbit only", False),
        ("lockbit OR blackcat", "blackcat strikes", True),
        ("lockbit -test", "lockbit test post", False),
        ("lockbit NOT test", "lockbit for real", True),
        ("(a OR b) -(c d)", "a c", True),
        ("(a OR b) -(c d)", "b c d", False),
        ("cve:CVE-2024-3400", "Exploiting cve-2024-3400 now", True),
        ("cve:2024-3400", "CVE-2024-34001 is different", False),
        ("straße", "STRASSE news", True),
        ("ﬁnance", "finance", True),
        ("/lock\\s?bit \\d/", "LockBit 3 builder", True),
        ("/lock\\s?bit \\d/", "lockbit builder", False),
    ],
)
def test_text_semantics(query: str, text: str, expected: bool) -> None:
    assert matches(query, text) is expected


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("атака", "Новая Атака на банк", True),
        ("атака", "контратака", False),
        ("λύκος", "Ο ΛΎΚΟΣ ήρθε", True),
        ("勒索", "新的勒索软件攻击", True),  # no spaces in CJK: substring
        ("勒索软件", "勒索病毒", False),
        ("ランサムウェア", "新しいランサムウェア攻撃", True),
        ("فدية", "برامج فدية جديدة", True),
        ("हिन्दी", "हिन्दी समाचार", True),
        ("हिन", "हिन्दी समाचार", False),  # combining marks stay inside the word
    ],
)
def test_non_latin_scripts(query: str, text: str, expected: bool) -> None:
    assert matches(query, text) is expected


def test_hashtags_authors_sources_languages_domains() -> None:
    p = dict(author=Author(handle="Alice@infosec.exchange"), lang="en-GB", hashtags=["Ransomware"],
             urls=["https://cdn.evil.example.com/payload"], source="mastodon")
    assert matches("#ransomware", "body", **p)
    assert matches("#leak", "see #LEAK here", **p)
    assert not matches("#leak", "see leak here", **p)
    assert matches("ransomware", "see #Ransomware here", **p)  # a tag written in text is also a word
    assert matches("@alice", "x", **p)
    assert matches("from:alice@infosec.exchange", "x", **p)
    assert not matches("@bob", "x", **p)
    assert matches("source:mastodon lang:en", "x", **p)
    assert matches("lang:en-gb x", "x", **p)
    assert not matches("lang:de x", "x", **p)
    assert matches("domain:example.com", "x", **p)
    assert matches("domain:evil.example.com", "x", **p)
    assert not matches("domain:ample.com", "x", **p)
    assert matches("domain:other.org", "go to https://www.Other.org/x now", **p)
    assert matches("domain:b.org", "see HTTP://b.org, now", **p)
    assert not matches("domain:c.net", "not a link: xhttp://c.net", **p)
    assert not matches("#b", "a#b and &#b;", **p)
    assert matches("#勒索软件 #हिन्दी", "(#勒索软件) #हिन्दी.", **p)


def test_unspaced_scripts_display_without_the_token_spaces() -> None:
    q = parse_query('勒索 OR "勒索 软件"')
    assert [str(t) for t in q.terms] == ["勒索", "勒索软件"]
    assert q.terms[0].value == "勒 索"


def test_matched_terms_are_the_positive_terms_found() -> None:
    q = parse_query('(lockbit OR blackcat) leak -test')
    assert q.matched_terms(post("LockBit leak BlackCat")) == ("lockbit", "blackcat", "leak")
    assert q.matched_terms(post("lockbit leak test")) == ()


# ---- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "position", "fragment"),
    [
        ("lockbit OR (a b))", 16, "unexpected ')'"),
        ("lockbit (a b", 8, "unclosed '('"),
        ('lockbit "lock bit', 8, "unclosed quote"),
        ("lockbit OR", 8, "OR needs a term after it"),
        ("OR lockbit", 0, "OR needs a term before it"),
        ("a ()", 2, "empty parentheses"),
        ("lockbit -", 8, "'-' must be followed"),
        ("lockbit NOT", 8, "'NOT' must be followed"),
        ("lockbit /(a/", 8, "invalid regular expression"),
        ("lockbit /a*/", 8, "matches empty text"),
        ("lockbit /abc", 8, "unclosed regular expression"),
        ("lockbit /(a)\\1/", 8, "invalid regular expression"),
        ("x lang:english", 2, "not a language code"),
        ("x domain:localhost", 2, "not a domain name"),
        ("x cve:2024", 2, "not a CVE id"),
        ("x from:", 2, "needs a value"),
        ("x sorce:hn", 2, "unknown field 'sorce:'"),
        ("x #", 2, "not a valid tag name"),
        ("x !!!", 2, "no letters or digits"),
        ('x ""', 2, "empty quotes"),
        ("-lockbit", 0, "at least one term that must appear"),
        ("lockbit OR -test", 0, "at least one term that must appear"),
        ("", 0, "empty query"),
    ],
)
def test_errors_point_at_the_problem(query: str, position: int, fragment: str) -> None:
    with pytest.raises(QueryError) as info:
        parse_query(query)
    assert info.value.position == position
    assert fragment in info.value.message
    assert f"at position {position} — e.g. " in str(info.value)
    parse_query(info.value.example)  # the example shown is itself valid


def test_error_message_reads_well() -> None:
    with pytest.raises(QueryError) as info:
        parse_query("lockbit OR a)")
    assert str(info.value) == "unexpected ')' at position 12 — e.g. lockbit OR \"lock bit\" -#test"


def test_guards_against_oversized_queries() -> None:
    with pytest.raises(QueryError, match="regular expression longer"):
        parse_query("/" + "a" * (MAX_REGEX_LENGTH + 1) + "/")
    with pytest.raises(QueryError, match="nested deeper"):
        parse_query("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1))
    with pytest.raises(QueryError, match="longer than"):
        parse_query("a " * 600)
    with pytest.raises(QueryError, match="more than"):
        parse_query(" OR ".join(f"w{i}" for i in range(100)))
    with pytest.raises(QueryError, match="invalid regular expression"):
        parse_query("/((((a{1000}){1000}){1000}){1000})/")


def test_regex_runs_in_linear_time_on_a_classic_redos_pattern() -> None:
    q = parse_query("/(a+)+$/")
    assert not q.evaluate(post("a" * 5000 + "!"))


# ---- robustness ------------------------------------------------------------------------------------

_ALPHABET = st.sampled_from(
    [*'ab c()"-#@:/\\ ORANDNOT\t.*+?[]{}x1é中ـ', "OR", "AND", "NOT", "from:", "lang:", "domain:", "cve:", "source:"]
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=60), st.lists(_ALPHABET, max_size=25).map("".join)))
def test_no_input_crashes_the_parser(text: str) -> None:
    try:
        q = parse_query(text)
    except QueryError as exc:
        assert 0 <= exc.position <= len(text)
        assert exc.message
        return
    assert q.terms
    assert q.evaluate(post("", source="zzz9")) is False  # a valid query never matches an empty post
    parse_query(str(q))  # the canonical form is itself valid
