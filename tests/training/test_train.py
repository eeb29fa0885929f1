from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.training.helpers import tiny_forecast, tiny_generate
from training.train import CHECKPOINT, train


@pytest.mark.parametrize("make", [tiny_generate, tiny_forecast], ids=["generate", "forecast"])
def test_train_two_steps_same_seed_same_losses(tmp_path: Path, make) -> None:  # type: ignore[no-untyped-def]
    first = train(make(tmp_path / "a"), progress=False)
    second = train(make(tmp_path / "b"), progress=False)
    assert len(first) == 2
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
