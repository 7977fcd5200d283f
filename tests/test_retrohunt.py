"""The retro-hunt CLI engine: watch file and JSONL posts in, one JSON line per match out."""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path

import pytest

from handlers.monitor import retrohunt
from handlers.monitor.retrohunt import main, run

WATCHES = """\
# team watches
lockbit

#lockbit
x7\t"lock bit" OR blackcat
bad (query
5\t#leak
lockbit
"""

POSTS = [
    '{"id": 1, "text": "LockBit strikes again #leak"}',
    "not json",
    '{"id": "b", "text": "Lock-bit and BlackCat", "source": "hackernews", "created_at": 1700000000}',
    '{"text": "no id"}',
    "",
    '{"id": 3, "text": "blockbits only", "author": {"handle": "alice"}, "created_at": "2024-05-01T10:00:00Z"}',
    '{"id": 4, "text": "nothing", "created_at": "yesterday"}',
]


def _files(tmp_path: Path) -> tuple[Path, Path]:
    watches, posts = tmp_path / "watches.txt", tmp_path / "posts.jsonl"
    watches.write_text(WATCHES, encoding="utf-8")
    posts.write_text("\n".join(POSTS) + "\n", encoding="utf-8")
    return watches, posts


def test_matches_are_streamed_as_json_lines_with_ids_from_the_file(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert run(*_files(tmp_path), out, err) == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines == [
        {"watch": 2, "post": 1, "terms": ["lockbit"]},
        {"watch": 5, "post": 1, "terms": ["#leak"]},
        {"watch": 8, "post": 1, "terms": ["lockbit"]},
        {"watch": "x7", "post": "b", "terms": ["lock bit", "blackcat"]},
    ]


def test_bad_lines_are_reported_with_line_numbers_and_skipped(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    run(*_files(tmp_path), out, err)
    report = err.getvalue()
    assert "watches:4: skipped as a comment" in report
    assert "watches:6: unclosed '(' at position 4" in report
    assert "posts:2: invalid JSON" in report
    assert "posts:4: id: missing or empty" in report
    assert "posts:7: created_at:" in report
    assert "4 watches (1 skipped), 3 posts (3 skipped), 4 matches in 2 posts" in report


def test_duplicate_ids_are_rejected(tmp_path: Path) -> None:
    watches, posts = _files(tmp_path)
    watches.write_text("a\t lockbit\na\tblackcat\n2\tleak\n", encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert run(watches, posts, out, err) == 0
    assert "watches:2: id a already used on line 1" in err.getvalue()
    assert "watches:3: id 2 already used" not in err.getvalue()


def test_unusable_input_exits_2(tmp_path: Path) -> None:
    watches, posts = _files(tmp_path)
    err = io.StringIO()
    assert run(tmp_path / "missing.txt", posts, io.StringIO(), err) == 2
    assert "cannot read watches file" in err.getvalue()
    watches.write_text("# only comments\n\n-lonely\n", encoding="utf-8")
    err = io.StringIO()
    assert run(watches, posts, io.StringIO(), err) == 2
    assert "no valid watch queries" in err.getvalue()
    err = io.StringIO()
    watches.write_text("lockbit\n", encoding="utf-8")
    assert run(watches, tmp_path / "missing.jsonl", io.StringIO(), err) == 2
    assert "cannot read posts file" in err.getvalue()


def test_main_parses_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    watches, posts = _files(tmp_path)
    assert main(["--watches", str(watches), "--posts", str(posts)]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 4
    assert "matches in 2 posts" in captured.err
    with pytest.raises(SystemExit):
        main(["--posts", str(posts)])


def test_rows_orjson_refuses_are_read_as_the_import_reads_them(tmp_path: Path) -> None:
    watches, posts = _files(tmp_path)
    posts.write_text('{"id": 1, "text": "lockbit", "score": NaN}\n'
                     '{"id": 123456789012345678901234567890, "text": "lockbit"}\n'
                     '{"id": 3, "text": "lockbit \\ud800"}\n', encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    run(watches, posts, out, err)
    matched = {json.loads(line)["post"] for line in out.getvalue().splitlines()}
    assert matched == {1, 123456789012345678901234567890, 3}  # the big id exact, not a float
    assert "posts:" not in err.getvalue()


def test_processes_give_the_same_output_in_the_same_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    watches, posts = _files(tmp_path)
    rows = [line for _ in range(300) for line in POSTS]
    posts.write_text("\n".join(rows) + "\n", encoding="utf-8")
    single_out, single_err = io.StringIO(), io.StringIO()
    assert run(watches, posts, single_out, single_err, jobs=1) == 0
    monkeypatch.setattr(retrohunt, "CHUNK_BYTES", 1000)  # many chunks, each cut at a line end
    spans = list(retrohunt._chunks(posts))
    assert len(spans) > 20 and spans[0][0] == 0 and spans[-1][1] == posts.stat().st_size
    data = posts.read_bytes()
    assert all(data[a[1] - 1:a[1]] == b"\n" and a[1] == b[0] for a, b in itertools.pairwise(spans))
    out, err = io.StringIO(), io.StringIO()
    assert run(watches, posts, out, err, jobs=3) == 0
    assert out.getvalue() == single_out.getvalue() and len(out.getvalue().splitlines()) == 4 * 300
    assert err.getvalue().splitlines()[:-1] == single_err.getvalue().splitlines()[:-1]  # the last: the summary
    assert f"posts:{len(rows)}: created_at:" in err.getvalue()


@pytest.mark.parametrize("row", [
    {"id": 7, "text": "LockBit &amp; friends https://Evil.example/x #Leak", "source": " HackerNews ", "lang": " en-GB",
     "author": "@alice", "created_at": "2024-05-01T10:00:00Z", "url": "https://x.example/1"},
    {"id": "a", "text": "plain", "title": "Title", "author_id": 5, "author_name": "Al", "reply_to": "z",
     "created_at": 1700000000},
    {"id": "b", "text": "t", "lang": "", "source": None, "created_at": ""},
])
def test_the_fast_path_reads_a_row_as_the_import_does(row: dict[str, object]) -> None:
    from datetime import UTC, datetime

    from handlers.imports.record import record_to_post
    from handlers.monitor.normalise import NormalisedPost

    fast = retrohunt._simple(row)
    assert fast is not None
    assert fast == NormalisedPost.of(record_to_post(row, default_source="import", now=datetime.now(UTC)))


@pytest.mark.parametrize("row", [
    {"id": True, "text": "x"}, {"id": " ", "text": "x"}, {"id": 1, "text": "  "}, {"id": 1, "text": "x", "lang": " "},
    {"id": 1, "text": "x", "source": "no spaces allowed"}, {"id": 1, "text": "x", "created_at": "yesterday"},
    {"id": 1, "text": "x", "created_at": "  "}, {"id": 1, "text": "x", "author_id": False},
    {"id": 1, "text": "x", "url": "ftp://x"}, {"id": 1, "text": "x", "z": 1},
])
def test_rows_the_fast_path_refuses_go_to_the_import(row: dict[str, object]) -> None:
    assert retrohunt._simple(row) is None
