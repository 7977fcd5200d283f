"""`socmint playbooks check [DIR]`: validate the shipped playbooks and a team's folder, with clear errors."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from handlers.investigate.playbook import SHIPPED_DIR, load_library


def _team_dir(arg: str | None) -> Path | None:
    """The folder to check: the argument, else `investigate.playbooks_dir` from the settings (if any)."""
    if arg:
        return Path(arg)
    try:
        from config.settings import load_settings

        settings = load_settings()
    except Exception:  # a broken config file is `socmint config check`'s to report
        return None
    section = getattr(settings, "investigate", None)
    return getattr(section, "playbooks_dir", None)


def check(team_dir: Path | None, out: TextIO) -> int:
    """Print every playbook in effect and every problem; 0 when there are none, 2 otherwise."""
    library = load_library(team_dir)
    print(f"shipped: {SHIPPED_DIR}", file=out)
    if team_dir is not None:
        print(f"team:    {team_dir}", file=out)
    for playbook in sorted(library.playbooks.values(), key=lambda p: p.name):
        spec = playbook.spec
        print(f"  ok  {playbook.name:<12} {playbook.kind:<9} {playbook.origin:<8} {len(spec.steps)} steps, "
              f"{len(spec.manual)} manual, depth {spec.max_depth}, {spec.max_requests} requests", file=out)
    for problem in library.problems:
        print(f"  ERROR {problem.describe(full_path=True)}", file=out)
    if library.problems:
        print(f"{len(library.problems)} problem(s): those files are left out until fixed.", file=out)
        return 2
    print(f"{len(library.playbooks)} playbooks, no problems.", file=out)
    return 0


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    parser = argparse.ArgumentParser(prog="socmint playbooks", description="investigation playbooks")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = sub.add_parser("check", help="validate the shipped playbooks and a team folder (default: the configured one)")
    p.add_argument("dir", nargs="?", help="a folder of playbook *.toml files")
    args = parser.parse_args(list(argv or []))
    return check(_team_dir(args.dir), out or sys.stdout)
