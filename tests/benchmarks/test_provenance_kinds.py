"""What lets a figure about one kind of model leave out the modules only another kind runs
(benchmarks/provenance.py KINDS): none of them imports another kind's (but those its kind
NEEDS), no shared module imports any of them but the family table, and training, evaluating and
exporting a model of one kind calls no function of another kind's modules beyond the table's
dispatch (`accepts`; the families' class attributes are the table's data). The own-table
generator's sampling (rnngan/core/tables/sample.py, TABLE_SAMPLING) is imported by shared code
(the evaluation's table module, the service) but run for a table generator alone: the runtime
test watches rnngan/core/tables/ too."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from benchmarks.provenance import KINDS, NEEDS, PARTS
from rnngan.core.manifest import Manifest
from tests.conftest import REPO
from tests.training.helpers import TINY
from training.config import RunConfig
from training.evaluate.run import evaluate_run
from training.export import export
from training.families import FAMILIES
from training.train import train

REGISTRY = "training/families/__init__.py"
OWNER = {path: kind for kind, paths in KINDS.items() for path in paths}


def kind_of(family: str) -> str:
    """The kind that owns the module defining `family`."""
    path = Path(inspect.getfile(type(FAMILIES[family]))).relative_to(REPO).as_posix()
    return OWNER[path]


def allowed(kind: str | None) -> set[str | None]:
    return {kind, *NEEDS.get(kind or "", ())}


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


def test_the_kinds_name_existing_modules_and_cover_every_family() -> None:
    assert all((REPO / path).is_file() for path in OWNER), sorted(OWNER)
    assert {kind_of(name) for name in FAMILIES} == set(KINDS) - PARTS
    assert PARTS <= set(KINDS)


def test_an_unknown_kind_is_refused_by_name() -> None:
    from benchmarks.provenance import _results

    with pytest.raises(ValueError, match="unknown kinds \\['forecasts'\\]"):
        _results("x", "bench-x", kinds=("forecast", "forecasts"))
    assert _results("x", "bench-x", kinds=("forecast",)).path == "benchmarks/results/x.json"


def test_no_module_reaches_another_kinds_but_through_the_family_table() -> None:
    crossing = []
    for file in sorted((REPO / "training").rglob("*.py")):
        path = file.relative_to(REPO).as_posix()
        if path == REGISTRY:
            continue
        kind = OWNER.get(path)
        bad = {p for p in _imports(path) if p in OWNER and OWNER[p] not in allowed(kind)}
        crossing += [f"{path} -> {p}" for p in sorted(bad)]
    assert not crossing


def _with_options(name: str, config: RunConfig) -> RunConfig:
    """The optional paths a benchmark takes and the tiny config leaves off."""
    if name in ("timegan", "table_gan"):  # every window term
        terms = {"acf_weight": 1.0, "xcorr_weight": 1.0, "spread_weight": 1.0, "diff_weight": 1.0}
        return dataclasses.replace(config, train=dataclasses.replace(config.train, **terms))
    if name == "table_forecast":  # calendar features from the time column
        return dataclasses.replace(
            config, data=dataclasses.replace(config.data, calendar=("auto",))
        )
    return config


def _run(config: RunConfig, models: Path) -> None:
    train(config, progress=False)
    evaluate_run(config.run_dir)
    Manifest.read(export(config.run_dir, models, force=True) / "manifest.json")


@pytest.mark.parametrize("name", sorted(TINY))
def test_a_run_calls_no_other_kinds_code(tmp_path: Path, name: str) -> None:
    """Train (two steps), evaluate and export each family's tiny config, its optional paths on:
    nothing of another kind's modules runs but the dispatch, and the kind's own modules do."""
    kind = kind_of(name)
    called: set[str] = set()
    roots = tuple(str(REPO / folder) + "/" for folder in ("training", "rnngan/core/tables"))

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        code = frame.f_code
        if event == "call" and code.co_filename.startswith(roots):
            if code.co_flags & inspect.CO_OPTIMIZED and code.co_name != "accepts":
                called.add(Path(code.co_filename).relative_to(REPO).as_posix())

    make: Callable[[Path], RunConfig] = TINY[name]
    config = _with_options(name, make(tmp_path / "run"))
    sys.setprofile(profile)
    try:
        _run(config, tmp_path / "models")
    finally:
        sys.setprofile(None)
    others = sorted(p for p in called if p in OWNER and OWNER[p] not in allowed(kind))
    assert not others
    assert any(OWNER.get(p) == kind for p in called)  # it does see the kind's own modules
