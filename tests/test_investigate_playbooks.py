"""Playbooks as data: the shipped set, a team's overrides and additions, and clear errors for broken files."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from handlers.investigate import checklist
from handlers.investigate.cli import main as playbooks_cli
from handlers.investigate.playbook import SHIPPED_DIR, load_library, locate, parse_playbook
from handlers.investigate.subject import PLAYBOOK_KINDS, NotAnIdentifier, identify

FIXTURES = Path(__file__).parent / "fixtures" / "investigate"
SAMPLES = {"username": "alice", "email": "jane.doe+news@example.com", "phone": "+44 20 7946 0958",
           "domain": "example.com", "ip": "1.1.1.1", "url": "hxxps://example[.]com/a?b=c",
           "cve": "CVE-2021-44228", "account": "https://github.com/janedoe"}


def test_every_kind_has_a_shipped_playbook_with_steps_and_a_checklist() -> None:
    library = load_library()
    assert library.problems == []
    assert sorted(library.playbooks) == sorted(PLAYBOOK_KINDS)
    for kind, sample in SAMPLES.items():
        playbook = library.for_kind(kind)
        assert playbook is not None and playbook.origin == "shipped" and playbook.spec.steps
        entity = identify(sample)
        assert entity.kind.value == kind
        items = checklist.items_for(playbook, entity)
        assert items, kind
        for item in items:
            assert item["url"] is None or ("{" not in item["url"] and item["url"].startswith("https://"))


def test_manual_links_are_prefilled_and_encoded() -> None:
    library = load_library()
    items = checklist.items_for(library.playbooks["email"], identify("jane.doe+news@example.com"))
    web = next(i for i in items if i["step"] == "web")
    assert web["url"] == "https://duckduckgo.com/?q=%22jane.doe%2Bnews%40example.com%22"
    phone = checklist.items_for(library.playbooks["phone"], identify("+44 20 7946 0958"))
    assert next(i for i in phone if i["step"] == "telegram")["url"] == "https://t.me/+442079460958"


@pytest.mark.parametrize(("text", "kind", "value"), [
    ("@alice@Mastodon.Social", "account", "mastodon:alice@mastodon.social"),
    ("https://www.reddit.com/u/spez/", "account", "reddit:spez"),
    ("github:JaneDoe", "account", "github:JaneDoe"),
    ("username:status", "username", "status"),
    ("evil[.]com", "domain", "evil.com"),
    ("hxxp://evil[.]com/x", "url", "http://evil.com/x"),
])
def test_identifiers_are_detected(text: str, kind: str, value: str) -> None:
    entity = identify(text)
    assert (entity.kind.value, entity.value) == (kind, value)


def test_a_hash_is_not_an_identifier() -> None:
    with pytest.raises(NotAnIdentifier, match="MD5 hash"):
        identify("d41d8cd98f00b204e9800998ecf8427e")


def test_team_folder_overrides_and_adds() -> None:
    library = load_library(FIXTURES / "team")
    assert library.problems == []
    assert library.playbooks["domain"].origin == "team" and library.playbooks["domain"].spec.max_requests == 8
    assert library.playbooks["domain-deep"].kind == "domain"
    assert library.playbooks["email"].origin == "shipped"


def test_broken_team_playbooks_are_left_out_with_file_line_and_key() -> None:
    library = load_library(FIXTURES / "broken")
    messages = [p.describe() for p in library.problems]
    assert any(m.startswith("email.toml, line 4: not valid TOML") for m in messages), messages
    assert "ip.toml, line 10 (steps[1].action): unknown action 'ip.whois'" in "\n".join(messages)
    assert any(m.startswith("ip.toml, line 11 (steps[1].follow): cannot follow 'planet'") for m in messages)
    assert any(m.startswith("ip.toml, line 16 (manual[0].url): unknown placeholder(s) {address}") for m in messages)
    # the shipped ones stay in effect: a bad file never takes the playbook away
    assert library.playbooks["email"].origin == "shipped" and library.playbooks["ip"].origin == "shipped"


def test_schema_errors_name_the_line_of_the_key() -> None:
    text = 'kind = "domain"\ntitle = "D"\nmax_requests = 0\n\n[[steps]]\nid = "Bad Id"\naction = "domain.dns"\n'
    problems = parse_playbook(Path("x.toml"), text, "team")
    assert isinstance(problems, list)
    described = {p.describe() for p in problems}
    assert "x.toml, line 3 (max_requests): Input should be greater than or equal to 1" in described
    assert "x.toml, line 6 (steps[0].id): must be lower-case letters, digits, - and _ (at most 32)" in described


def test_default_playbook_must_match_its_kind() -> None:
    problems = parse_playbook(Path("email.toml"), 'kind = "domain"\ntitle = "x"\n', "team")
    assert isinstance(problems, list)
    assert problems[0].describe() == ("email.toml, line 1 (kind): email.toml is the default playbook for a email, "
                                      "so its kind must be 'email'")


def test_locate_finds_keys_in_tables() -> None:
    text = "a = 1\n[[steps]]\nid = 'x'\n[[steps]]\nid = 'y'\naction = 'z'\n"
    assert locate(text, ("steps", 1, "action")) == 6
    assert locate(text, ("steps", 1, "follow")) == 4  # missing key: the table's header
    assert locate(text, ("a",)) == 1


def test_cli_check(tmp_path: Path) -> None:
    out = io.StringIO()
    assert playbooks_cli(["check"], out) == 0
    assert "8 playbooks, no problems." in out.getvalue()
    out = io.StringIO()
    assert playbooks_cli(["check", str(FIXTURES / "broken")], out) == 2
    text = out.getvalue()
    assert f"ERROR {FIXTURES / 'broken' / 'email.toml'}, line 4: not valid TOML" in text
    assert "problem(s): those files are left out until fixed." in text
    out = io.StringIO()
    assert playbooks_cli(["check", str(tmp_path / "nope")], out) == 2
    assert "playbook folder does not exist" in out.getvalue()


def test_shipped_dir_is_packaged_config() -> None:
    assert SHIPPED_DIR.name == "playbooks" and SHIPPED_DIR.parent.name == "config"
