"""`rnngan evaluate` shows a bar per stage with its total (the classifier steps it will run), so
the minutes of post-hoc scoring are no longer silent; library calls stay quiet."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnngan.cli import app
from tests.training.helpers import tiny_generate
from training.evaluate.run import evaluate_run
from training.train import train


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = tiny_generate(tmp_path_factory.mktemp("runs"))
    train(config, progress=False)
    return config.run_dir


def test_progress_evaluate_cli_shows_each_stage_with_its_total(run_dir: Path) -> None:
    result = CliRunner().invoke(app, ["evaluate", "--run", str(run_dir)])
    assert result.exit_code == 0, result.output
    # tiny_generate: 5 disc runs (the minimum) + 1 pred run, 20 steps each, model and floor.
    assert "scores (disc, pred and their floors)" in result.stderr
    assert "240/240" in result.stderr
    # The verdict's per-window z-scored disc score: 5 runs of 20 steps, model and floor.
    assert "verdict scores (per-window z disc and floor)" in result.stderr
    assert "200/200" in result.stderr
    # stdout is the metrics JSON alone, for a pipe or a script; the verdict is on stderr
    assert json.loads(result.stdout)["verdict"]["line"]
    assert f"verdict: {json.loads(result.stdout)['verdict']['line']}" in result.stderr


def test_progress_library_calls_are_quiet(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    evaluate_run(run_dir)
    assert "scores (disc" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("verdict", "colour"),
    [
        ({"passed": True, "line": "beats", "warnings": []}, "green"),
        ({"passed": True, "line": "beats", "warnings": ["80 % coverage 0.870 ..."]}, "yellow"),
        ({"passed": True, "line": "beats", "few_windows": True}, "yellow"),  # older reports
        ({"passed": False, "line": "FAIL, INTERVAL OFF: ...", "warnings": []}, "red"),
    ],
)
def test_verdict_colour_says_pass_warning_or_failure(
    monkeypatch: pytest.MonkeyPatch, verdict: dict[str, object], colour: str
) -> None:
    """`rnngan evaluate` / `export` print a pass green, a pass with warnings (too few windows,
    coverage off 0.75-0.85) yellow and a failure red."""
    import typer

    from rnngan.cli import training

    shown: list[tuple[str, object]] = []

    def secho(text: str, fg: object = None, err: bool = False, **_: object) -> None:
        assert err, "the verdict goes to stderr: stdout is `rnngan evaluate`'s JSON"
        shown.append((text, fg))

    monkeypatch.setattr(typer, "secho", secho)
    training._say_verdict({"verdict": verdict})
    assert shown == [(f"verdict: {verdict['line']}", colour)]
