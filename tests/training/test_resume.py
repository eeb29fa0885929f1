"""`rnngan train --resume`: a run of N steps resumed to 2N ends where one run of 2N steps does
(weights bit for bit, the same losses from step N+1 on); clear errors when there is nothing to
resume or the config differs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from tests.training import helpers
from tests.training.helpers import tiny_generate
from training.checkpoint import load_run
from training.config import RunConfig
from training.resume import RESUME, ResumeError
from training.train import train

N = 3


def _with_steps(config: RunConfig, steps: int, **train: object) -> RunConfig:
    return dataclasses.replace(
        config, train=dataclasses.replace(config.train, steps=steps, **train)
    )


def _losses(run_dir: Path) -> list[dict[str, float]]:
    lines = (run_dir / "losses.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def _assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


FAMILIES = {
    "rcgan": helpers.tiny_generate,
    "timegan": helpers.tiny_timegan,
    "forgan": helpers.tiny_forecast,
    "table_gan": helpers.tiny_table,
    "table_forecast": helpers.tiny_table_forecast,
    "image": helpers.tiny_image,
}


@pytest.mark.parametrize("family", FAMILIES)
def test_resume_continues_to_the_weights_of_one_long_run(tmp_path: Path, family: str) -> None:
    base = FAMILIES[family](tmp_path / "short")
    short = _with_steps(base, N)
    long = dataclasses.replace(_with_steps(base, 2 * N), out_dir=str(tmp_path / "long"))

    train(short, progress=False)
    assert (short.run_dir / RESUME).is_file()
    first = load_run(short.run_dir).step
    resumed = train(_with_steps(base, 2 * N), progress=False, resume=True)
    reference = train(long, progress=False)

    total = first + N  # timegan counts its phases too
    assert [r["step"] for r in resumed] == list(range(first + 1, total + 1))
    assert resumed == reference[first:]
    assert _losses(short.run_dir) == _losses(long.run_dir)
    a, b = load_run(short.run_dir), load_run(long.run_dir)
    assert a.step == b.step == total
    _assert_same_weights(a.generator, b.generator)
    _assert_same_weights(a.discriminator, b.discriminator)
    summary = json.loads((short.run_dir / "training.json").read_text())
    assert summary["resumed_from"] == first and summary["steps_run"] == N


def test_resume_without_a_run_says_so(tmp_path: Path) -> None:
    config = tiny_generate(tmp_path)
    with pytest.raises(ResumeError, match=r"nothing to resume in .*: no resume\.pt"):
        train(config, progress=False, resume=True)


def test_resume_of_a_finished_run_says_to_raise_steps(tmp_path: Path) -> None:
    config = tiny_generate(tmp_path, steps=2)
    train(config, progress=False)
    with pytest.raises(ResumeError, match=r"it ran all 2 of 2 steps; raise train\.steps"):
        train(config, progress=False, resume=True)


def test_resume_with_another_config_names_the_difference(tmp_path: Path) -> None:
    config = tiny_generate(tmp_path, steps=2)
    train(config, progress=False)
    changed = _with_steps(config, 4, lr_g=0.5)
    with pytest.raises(ResumeError, match=r"train\.lr_g: 0\.001 then, 0\.5 now"):
        train(changed, progress=False, resume=True)
    other_seed = dataclasses.replace(_with_steps(config, 4), seed=7)
    with pytest.raises(ResumeError, match=r"seed: 0 then, 7 now"):
        train(other_seed, progress=False, resume=True)


def test_resume_cli_flag(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from rnngan.cli import app

    config = tmp_path / "tiny.toml"
    config.write_text(
        f'name = "tiny"\ntask = "generate"\nout_dir = "{tmp_path / "runs"}"\n'
        '[data]\ndataset = "sines"\n'
        "seq_len = 12\nn_series = 64\n[model]\nlatent_dim = 3\nhidden_size = 8\n"
        "disc_hidden_size = 8\n[train]\nsteps = 2\nbatch_size = 16\nthreads = 1\n"
    )
    runner = CliRunner()
    missing = runner.invoke(app, ["train", "--config", str(config), "--resume"])
    assert missing.exit_code == 2 and "nothing to resume" in missing.output
    assert runner.invoke(app, ["train", "--config", str(config)]).exit_code == 0
    again = runner.invoke(app, ["train", "--config", str(config), "--resume", "--steps", "4"])
    assert again.exit_code == 0, again.output
    assert load_run(tmp_path / "runs" / "tiny").step == 4
