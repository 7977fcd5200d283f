"""Playbooks as data: reading and checking the TOML files that say what to do for each kind of identifier.

The shipped playbooks live in `config/playbooks/`; a team's folder (`investigate.playbooks_dir`) adds
more, and a file there named like a shipped one (`email.toml`) replaces it. A file that does not parse
or does not check out is left out with a Problem naming the file, the line and the key — it never stops
the others from loading. The schema is documented in docs/PLAYBOOKS.md.
"""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

import config
from handlers.investigate.actions import ACTIONS
from handlers.investigate.subject import PLAYBOOK_KINDS, allowed_placeholders

SHIPPED_DIR = Path(config.__file__).parent / "playbooks"
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
ID_RE = re.compile(ID_PATTERN)
FOLLOWABLE = PLAYBOOK_KINDS
PlaybookKind = Literal["username", "email", "phone", "domain", "ip", "url", "cve", "account"]
OptionValue = str | int | bool | list[str]


class StepSpec(BaseModel):
    """An automated step: a built-in action, and which kinds of what it finds to investigate further."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ID_PATTERN)
    action: str
    label: str | None = Field(default=None, max_length=100)
    follow: list[str] = Field(default_factory=list)
    follow_limit: int = Field(default=5, ge=0, le=100)
    options: dict[str, OptionValue] = Field(default_factory=dict)


class ManualSpec(BaseModel):
    """A step the bot cannot do: shown in the checklist with a pre-filled link and how to do it."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ID_PATTERN)
    label: str = Field(min_length=1, max_length=100)
    url: str | None = Field(default=None, max_length=1000)
    help: str | None = Field(default=None, max_length=500)


class PlaybookSpec(BaseModel):
    """One playbook file."""

    model_config = ConfigDict(extra="forbid")

    kind: PlaybookKind
    title: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=1000)
    max_depth: int = Field(default=1, ge=0, le=5)
    max_requests: int = Field(default=100, ge=1, le=5000)
    steps: list[StepSpec] = Field(default_factory=list)
    manual: list[ManualSpec] = Field(default_factory=list)


@dataclass(frozen=True)
class Playbook:
    """A checked playbook: its name (the file stem), where it came from, and what it says."""

    name: str
    path: Path
    origin: str  # "shipped" or "team"
    spec: PlaybookSpec

    @property
    def kind(self) -> str:
        return self.spec.kind


@dataclass(frozen=True)
class Problem:
    """Why a playbook file was left out: the file, the line (when known), the key, and what is wrong."""

    path: Path
    line: int | None
    where: str
    message: str

    def describe(self, full_path: bool = False) -> str:
        place = str(self.path) if full_path else self.path.name
        line = f", line {self.line}" if self.line else ""
        where = f" ({self.where})" if self.where else ""
        return f"{place}{line}{where}: {self.message}"


@dataclass
class Library:
    """The playbooks in effect, by name, and the problems of the files that were left out."""

    playbooks: dict[str, Playbook] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def for_kind(self, kind: str) -> Playbook | None:
        """The default playbook of a kind: the one named like it."""
        return self.playbooks.get(kind)


# locating keys in the file -------------------------------------------------------
_HEADER = re.compile(r"^\s*\[")


def _key_line(lines: list[str], key: str, start: int, end: int) -> int | None:
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for number in range(start, end):
        if pattern.match(lines[number]):
            return number + 1
    return None


def locate(text: str, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of a key such as ("steps", 2, "action"), best effort; None when it cannot be told."""
    lines = text.splitlines()
    if not loc:
        return None
    first_header = next((i for i, line in enumerate(lines) if _HEADER.match(line)), len(lines))
    if len(loc) >= 2 and loc[0] in ("steps", "manual") and isinstance(loc[1], int):
        header = re.compile(rf"^\s*\[\[\s*{loc[0]}\s*\]\]")
        starts = [i for i, line in enumerate(lines) if header.match(line)]
        if loc[1] >= len(starts):
            return _key_line(lines, str(loc[0]), 0, len(lines))
        start = starts[loc[1]]
        end = next((i for i in range(start + 1, len(lines)) if _HEADER.match(lines[i])), len(lines))
        if len(loc) >= 3:
            return _key_line(lines, str(loc[2]), start + 1, end) or start + 1
        return start + 1
    return _key_line(lines, str(loc[0]), 0, first_header)


def _where(loc: Iterable[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# checking ---------------------------------------------------------------------------
def _url_fields(url: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(url) if name is not None]


def cross_check(spec: PlaybookSpec) -> list[tuple[tuple[int | str, ...], str]]:
    """What the schema alone cannot say: known actions for this kind, unique ids, valid follows and links."""
    errors: list[tuple[tuple[int | str, ...], str]] = []
    seen: set[str] = set()
    for i, step in enumerate(spec.steps):
        if step.id in seen:
            errors.append((("steps", i, "id"), f"id {step.id!r} is used twice"))
        seen.add(step.id)
        known = ACTIONS.get(step.action)
        if known is None:
            same_kind = sorted(a.name for a in ACTIONS.values() if a.kind == spec.kind)
            errors.append((("steps", i, "action"), f"unknown action {step.action!r}; for a {spec.kind} "
                           f"playbook use one of: {', '.join(same_kind)}"))
        elif known.kind != spec.kind:
            errors.append((("steps", i, "action"), f"{step.action!r} works on a {known.kind}, "
                           f"not on a {spec.kind}"))
        elif unknown := sorted(set(step.options) - set(known.options)):
            accepted = ", ".join(known.options) or "none"
            errors.append((("steps", i, "options"), f"unknown option(s) {', '.join(unknown)} for "
                           f"{step.action} (accepted: {accepted})"))
        for kind in step.follow:
            if kind not in FOLLOWABLE:
                errors.append((("steps", i, "follow"), f"cannot follow {kind!r}; followable kinds: "
                               f"{', '.join(FOLLOWABLE)}"))
    seen = set()
    allowed = allowed_placeholders(spec.kind)
    for i, item in enumerate(spec.manual):
        if item.id in seen:
            errors.append((("manual", i, "id"), f"id {item.id!r} is used twice"))
        seen.add(item.id)
        if item.url is None:
            continue
        if not item.url.startswith(("https://", "http://")):
            errors.append((("manual", i, "url"), "must start with https:// or http://"))
        try:
            names = _url_fields(item.url)
        except ValueError as exc:
            errors.append((("manual", i, "url"), f"bad placeholder: {exc}"))
            continue
        if bad := sorted({n for n in names if n not in allowed}):
            errors.append((("manual", i, "url"), f"unknown placeholder(s) {', '.join('{' + n + '}' for n in bad)};"
                           f" a {spec.kind} playbook may use {', '.join('{' + n + '}' for n in sorted(allowed))}"))
    return errors


def parse_playbook(path: Path, text: str, origin: str) -> Playbook | list[Problem]:
    """The checked playbook in `text`, or every problem found in it."""
    name = path.stem.lower()
    if not ID_RE.match(name):
        return [Problem(path, None, "", "a playbook file name is lower-case letters, digits, - and _ "
                        "(it is the playbook's name)")]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None) or _line_from_message(str(exc))
        return [Problem(path, line, "", f"not valid TOML: {str(exc).split(' (at line')[0]}")]
    try:
        spec = PlaybookSpec.model_validate(data)
    except ValidationError as exc:
        return [Problem(path, locate(text, tuple(e["loc"])), _where(e["loc"]), _message(e))
                for e in exc.errors()]
    problems = [Problem(path, locate(text, loc), _where(loc), message) for loc, message in cross_check(spec)]
    if name in PLAYBOOK_KINDS and spec.kind != name:
        problems.append(Problem(path, locate(text, ("kind",)), "kind",
                                f"{path.name} is the default playbook for a {name}, so its kind must be {name!r}"))
    return problems or Playbook(name, path, origin, spec)


def _line_from_message(message: str) -> int | None:
    found = re.search(r"at line (\d+)", message)
    return int(found.group(1)) if found else None


def _message(error: dict) -> str:  # type: ignore[type-arg]
    if error["type"] == "missing":
        return "this key is required"
    if error["type"] == "extra_forbidden":
        return "unknown key (see docs/PLAYBOOKS.md for the schema)"
    if error["type"] == "literal_error":
        return f"must be one of {', '.join(PLAYBOOK_KINDS)}"
    if error["type"] == "string_pattern_mismatch":
        return "must be lower-case letters, digits, - and _ (at most 32)"
    return str(error["msg"])


def load_dir(directory: Path, origin: str) -> tuple[dict[str, Playbook], list[Problem]]:
    """Every *.toml playbook in `directory`, and the problems of those left out."""
    if not directory.is_dir():
        return {}, [Problem(directory, None, "", "playbook folder does not exist")]
    playbooks: dict[str, Playbook] = {}
    problems: list[Problem] = []
    for path in sorted(directory.glob("*.toml")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(path, None, "", f"cannot be read ({type(exc).__name__})"))
            continue
        result = parse_playbook(path, text, origin)
        if isinstance(result, Playbook):
            playbooks[result.name] = result
        else:
            problems.extend(result)
    return playbooks, problems


def load_library(team_dir: Path | None = None, shipped_dir: Path = SHIPPED_DIR) -> Library:
    """The shipped playbooks, with the team's added on top (same name replaces)."""
    playbooks, problems = load_dir(shipped_dir, "shipped")
    if team_dir is not None:
        team, team_problems = load_dir(team_dir, "team")
        playbooks.update(team)
        problems.extend(team_problems)
    return Library(playbooks, problems)
