"""No import circles among the project's modules: every import counts, at module level, under TYPE_CHECKING or
inside a function, since each ties the two modules together as much as the other."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "storage", "config", "bench")


def modules() -> dict[str, Path]:
    """Every project module by dotted name (a package by its own name); Alembic's revisions are scripts."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def owner(name: str, known: dict[str, Path]) -> str | None:
    """The project module `name` lives in (`bot.reply.Reply` → `bot.reply`), or None outside the project."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules `name` imports anywhere in its text."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            targets = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {module for target in targets if (module := owner(target, known))}
    return found - {name}


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def test_the_graph_sees_the_project() -> None:
    graph = import_graph()
    assert "bot.router" in graph["bot.app"] and "bot.services" in graph["bot.router"]
    assert "bot.render.text" in graph["bot.surfaces.console"]


def test_no_import_cycles() -> None:
    try:
        tuple(TopologicalSorter(import_graph()).static_order())
    except CycleError as exc:
        raise AssertionError(f"import circle: {' → '.join(exc.args[1])}") from None


def test_a_circle_is_reported() -> None:
    graph = import_graph() | {"bot.reply": {"bot.render.text"}}
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        assert {"bot.reply", "bot.render.text"} <= set(exc.args[1])
    else:
        raise AssertionError("a circle went unnoticed")
