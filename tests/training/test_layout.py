"""The shape of the training package (house style): one-way imports without cycles, training
never imports the service, and in every module the stages reach (train, evaluate, export and
the family table): imports of training's own modules at the top (none tucked into a function
to hide a cycle) and no more than ~400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

TRAINING = REPO / "training"
STAGES = ("training.train", "training.evaluate.run", "training.export", "training.families")


def _name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """(modules imported at module level, modules imported inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top, nested = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        else:
            continue
        (top if node.col_offset == 0 else nested).update(names)
    return top, nested


def _with_parents(module: str) -> set[str]:
    """Importing a.b.c runs a/__init__ and a/b/__init__ first: they are imported too."""
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


MODULES = {_name(p): p for p in sorted(TRAINING.rglob("*.py"))}
GRAPH = {
    name: {
        m
        for imported in _imports(path)[0]
        for m in _with_parents(imported)
        if m in MODULES and m != name and not name.startswith(m + ".")
    }
    for name, path in MODULES.items()
}


def _reachable(roots: tuple[str, ...]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(GRAPH[name])
    return seen


def test_layout_training_has_no_import_cycle() -> None:
    for start in GRAPH:
        # Modules importing `start`, transitively: a cycle brings us back to it.
        assert start not in _reachable(tuple(GRAPH[start])), f"{start} is in an import cycle"


def test_layout_stage_modules_import_training_at_the_top() -> None:
    for name in _reachable(STAGES):
        nested = {m for m in _imports(MODULES[name])[1] if m.split(".")[0] == "training"}
        assert not nested, f"{name} imports {sorted(nested)} inside a function"


def test_layout_training_never_imports_the_service() -> None:
    for name, path in MODULES.items():
        top, nested = _imports(path)
        assert not {m for m in top | nested if m.split(".")[0] == "service"}, name


def test_layout_stage_modules_stay_under_400_lines() -> None:
    for name in _reachable(STAGES):
        lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
        assert lines <= 400, f"{name} has {lines} lines: two concepts, split it"
