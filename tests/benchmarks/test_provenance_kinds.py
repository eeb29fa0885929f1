"""What lets a figure about one kind of model leave out the modules only another kind runs
(benchmarks/provenance.py GENERATOR_ONLY, FORECAST_ONLY, IMAGE_ONLY): none of them imports
another kind's, no shared module imports any of them but the family table, and a run of one kind
calls no function of another kind's modules beyond the table's dispatch (`accepts`)."""

from __future__ import annotations

import ast
import inspect
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from benchmarks.provenance import KINDS
from tests.conftest import REPO
from tests.training.helpers import TINY
from training.train import train

REGISTRY = "training/families/__init__.py"
OWNER = {path: kind for kind, paths in KINDS.items() for path in paths}
# The tiny configs (tests/training/helpers.py) by kind: families of one kind share its modules.
RUNS = {"generation": ("timegan", "table_gan"), "forecast": ("forgan",), "image": ("image",)}


def _module_path(module: str) -> str | None:
    for candidate in (f"{module.replace('.', '/')}.py", f"{module.replace('.', '/')}/__init__.py"):
        if (REPO / candidate).is_file():
            return candidate
    return None


def _imports(path: str) -> set[str]:
    """The training/ modules `path` imports (a `from package import module` counts as the
    module)."""
    found: set[str | None] = set()
    for node in ast.walk(ast.parse((REPO / path).read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("training"):
            assert node.module is not None
            for alias in node.names:
                found.add(_module_path(f"{node.module}.{alias.name}") or _module_path(node.module))
        elif isinstance(node, ast.Import):
            found |= {_module_path(a.name) for a in node.names if a.name.startswith("training")}
    return {p for p in found if p}


def test_the_kinds_name_existing_modules() -> None:
    assert all((REPO / path).is_file() for path in OWNER), sorted(OWNER)


def test_no_module_reaches_another_kinds_but_through_the_family_table() -> None:
    crossing = []
    for file in sorted((REPO / "training").rglob("*.py")):
        path = file.relative_to(REPO).as_posix()
        if path == REGISTRY:
            continue
        kind = OWNER.get(path)
        bad = {p for p in _imports(path) if p in OWNER and OWNER[p] != kind}
        crossing += [f"{path} -> {p}" for p in sorted(bad)]
    assert not crossing


@pytest.mark.parametrize("kind", sorted(RUNS))
def test_a_run_calls_no_other_kinds_code(tmp_path: Path, kind: str) -> None:
    """Training (two steps) calls nothing of another kind's modules but the dispatch."""
    called: set[str] = set()
    root = str(REPO / "training") + "/"

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        code = frame.f_code
        if event == "call" and code.co_filename.startswith(root):
            if code.co_flags & inspect.CO_OPTIMIZED and code.co_name != "accepts":
                called.add(Path(code.co_filename).relative_to(REPO).as_posix())

    for name in RUNS[kind]:
        config = TINY[name](tmp_path / name)
        sys.setprofile(profile)
        try:
            train(config, progress=False)
        finally:
            sys.setprofile(None)
    assert called, "the profiler saw no training/ code"
    others = sorted(p for p in called if p in OWNER and OWNER[p] != kind)
    assert not others
    assert any(OWNER.get(p) == kind for p in called)  # it does see the kind's own modules
