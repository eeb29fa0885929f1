"""What lets a figure that trains through the CLI leave out the serving commands' modules
(benchmarks/provenance.py SERVE_ONLY): only the CLI package imports serving.py (to register its
commands), only serving.py imports drain.py, and `rnngan inspect / train / export` on an own table
call no function of either. (`rnngan evaluate` is left out for its minutes: rnngan/cli/training.py
hands the run to training/evaluate, as `train` hands it to training/.)"""

from __future__ import annotations

import ast
import inspect
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from typer.testing import CliRunner

from benchmarks.provenance import SERVE_CLI, SERVE_ONLY
from examples.tables import mixed_table
from rnngan.cli import app
from tests.conftest import REPO


def _importers(module: str) -> set[str]:
    """The Python files of the repository's packages that import `module`."""
    found = set()
    for path in REPO.glob("*/**/*.py"):
        rel = path.relative_to(REPO).as_posix()
        if rel.startswith((".venv/", "tests/")):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or "", *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            if module in names:
                found.add(rel)
    return found


def test_serving_modules_are_imported_only_to_register_the_commands() -> None:
    assert _importers("rnngan.cli.serving") == {"rnngan/cli/__init__.py"}
    assert _importers("rnngan.cli.drain") == {"rnngan/cli/serving.py"}
    assert set(SERVE_ONLY) <= set(SERVE_CLI)
    assert all((REPO / p).is_file() for p in SERVE_CLI)


def test_training_through_the_cli_calls_no_serving_code(tmp_path: Path) -> None:
    data = tmp_path / "stores.csv"
    mixed_table(seed=3, entities=6).to_csv(data, index=False)
    serve_only = {str(REPO / p) for p in SERVE_ONLY}
    called: set[str] = set()

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        code = frame.f_code
        if event == "call" and code.co_flags & inspect.CO_OPTIMIZED:
            if code.co_filename in serve_only:
                called.add(f"{code.co_filename}:{code.co_name}")

    runner = CliRunner()
    table = ["--data", str(data), "--id-col", "store", "--time-col", "date"]
    run = tmp_path / "runs" / "stores"
    commands = [
        ["inspect", *table],
        ["train", *table, "--steps", "2", "--out-dir", str(tmp_path / "runs"), "--name", "stores"],
        ["export", "--run", str(run), "--models-dir", str(tmp_path / "models"), "--force"],
    ]
    sys.setprofile(profile)
    try:
        results = [runner.invoke(app, args) for args in commands]
    finally:
        sys.setprofile(None)
    for args, result in zip(commands, results, strict=True):
        assert result.exit_code == 0, (args[0], result.output)
    assert not called
    # The same watch sees a serving command run (the test can fail).
    sys.setprofile(profile)
    try:
        out = tmp_path / "out.csv"
        generate = ["generate", "--model", "stores", "--n", "2", "--out", str(out)]
        result = runner.invoke(app, [*generate, "--models-dir", str(tmp_path / "models")])
    finally:
        sys.setprofile(None)
    assert result.exit_code == 0, result.output
    assert called
