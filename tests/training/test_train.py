from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.training.helpers import tiny_forecast, tiny_generate, tiny_timegan
from training.checkpoint import CHECKPOINT
from training.train import train


@pytest.mark.parametrize(
    ("make", "steps"),
    [(tiny_generate, 2), (tiny_forecast, 2), (tiny_timegan, 6)],
    ids=["generate", "forecast", "timegan"],
)
def test_train_two_steps_same_seed_same_losses(tmp_path: Path, make, steps: int) -> None:  # type: ignore[no-untyped-def]
    first = train(make(tmp_path / "a"), progress=False)
    second = train(make(tmp_path / "b"), progress=False)
    assert len(first) == steps
    assert first == second
    other = train(make(tmp_path / "c", seed=1), progress=False)
    assert other != first


def test_train_saves_checkpoint_with_config_and_logs(tmp_path: Path) -> None:
    config = tiny_generate(tmp_path)
    train(config, progress=False)
    ckpt = torch.load(config.run_dir / CHECKPOINT, weights_only=False)
    assert ckpt["config"] == config.to_dict()
    assert ckpt["step"] == 2
    lines = (config.run_dir / "losses.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [1, 2]
    assert set(json.loads(lines[0])) == {"step", "d_loss", "g_adversarial", "g_moment"}


def test_train_timegan_runs_its_three_phases_in_order(tmp_path: Path) -> None:
    history = train(tiny_timegan(tmp_path), progress=False)
    keys = [set(h) - {"step"} for h in history]
    assert keys[0] == keys[1] == {"e_reconstruction"}
    assert keys[2] == keys[3] == {"s_supervised"}
    assert keys[4] == {
        "g_adversarial",
        "g_adversarial_e",
        "g_supervised",
        "g_moment",
        "e_reconstruction",
        "d_loss",
    }
