"""A tiny own-table forecaster trained and exported the way a user does it (`rnngan train
--data … --task forecast`, then `rnngan export`), for the service tests of forecast options."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from rnngan.cli import app as cli


def train_and_export(
    tmp: Path,
    data: Path,
    name: str,
    *extra: str,
    id_col: str,
    target: str,
    context: int,
    horizon: int,
    steps: int = 20,
) -> None:
    """`rnngan train` on `data` into tmp/runs/<name>, exported into tmp/models."""
    runner = CliRunner()
    args = ["train", "--data", str(data), "--id-col", id_col, "--time-col", "time"]
    args += ["--task", "forecast", "--target", target, "--steps", str(steps), "--name", name]
    args += ["--context-len", str(context), "--horizon", str(horizon)]
    result = runner.invoke(cli, [*args, "--out-dir", str(tmp / "runs"), *extra])
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        cli, ["export", "--run", str(tmp / "runs" / name), "--models-dir", str(tmp / "models")]
    )
    assert result.exit_code == 0, result.output
