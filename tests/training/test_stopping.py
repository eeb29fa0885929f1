"""Early stopping, the time budget and checkpoint selection on held-out windows."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from rnngan.cli import app
from tests.training.helpers import tiny_table, tiny_timegan
from training.checkpoint import load_run
from training.config import RunConfig
from training.loop import Stopper
from training.selection import series_distance, window_distance
from training.train import train
from training.window_terms import diff_loss


def _with(config: RunConfig, **train: object) -> RunConfig:
    return dataclasses.replace(config, train=dataclasses.replace(config.train, **train))


def _scores(config: RunConfig) -> dict[int, float]:
    """The validation score logged at each step that was scored."""
    lines = [json.loads(x) for x in (config.run_dir / "losses.jsonl").read_text().splitlines()]
    return {r["step"]: r["val_crps"] for r in lines if "val_crps" in r}


def test_stopper_patience_counts_checks_without_a_new_best() -> None:
    stopper = Stopper(0, 2, started=0.0)
    for score in (3.0, 2.0, 2.5):
        stopper.validated(score)
        assert not stopper.should_stop()
    stopper.validated(2.1)  # the second check in a row without beating 2.0
    assert stopper.should_stop()
    assert stopper.reason == "no better validation score in 2 checks"


def test_window_distance_ranks_a_collapsed_generator_last() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(24)
    real = (0.5 + 0.3 * np.sin(t / 3 + rng.uniform(0, 6, (200, 1))))[..., None]
    close = real + rng.normal(0, 0.02, real.shape)
    flat = np.full_like(real, 0.5)
    noise = rng.uniform(0, 1, real.shape)
    valid = np.ones(real.shape[:2], dtype=bool)
    scores = [window_distance(real, x, valid) for x in (close, flat, noise)]
    assert scores[0] < 0.2
    assert scores[1] > 1.0 and scores[2] > 0.5


def test_smoothed_paths_score_worse_than_noisy_real_ones() -> None:
    """Same marginals, the step-to-step noise smoothed away: the selection score and the
    training term both see it (the moment term alone does not)."""
    rng = np.random.default_rng(1)
    t = np.arange(30)
    level = 0.5 + 0.2 * np.sin(t / 4 + rng.uniform(0, 6, (300, 1)))
    real = (level + rng.normal(0, 0.08, level.shape))[..., None]
    other = (level + rng.normal(0, 0.08, level.shape))[..., None]
    kernel = np.ones(5) / 5
    smooth = np.stack([np.convolve(r, kernel, mode="same") for r in real[..., 0]])[..., None]
    smooth = (smooth - smooth.mean()) / smooth.std() * real.std() + real.mean()
    valid = np.ones(real.shape[:2], dtype=bool)
    assert window_distance(real, smooth, valid) > window_distance(real, other, valid) + 0.3
    tv = torch.ones(real.shape[:2])
    as_t = [torch.from_numpy(x.astype(np.float32)) for x in (real, other, smooth)]
    assert diff_loss(as_t[0], as_t[1], tv) < 0.01
    assert diff_loss(as_t[0], as_t[2], tv) > 0.05


def test_training_stops_at_the_time_budget(tmp_path: Path) -> None:
    config = _with(tiny_table(tmp_path, steps=100_000), budget_s=1.0, checkpoint_every=10**6)
    train(config)
    record = json.loads((config.run_dir / "training.json").read_text())
    assert record["stopped"] == "time budget of 1 s reached"
    assert 1 <= record["steps_run"] < 100_000
    assert load_run(config.run_dir).step == record["steps_run"]  # a checkpoint at the stop


def test_exported_checkpoint_is_the_selected_one(tmp_path: Path) -> None:
    config = _with(tiny_table(tmp_path, steps=12), select_every=3)
    train(config)
    scored = _scores(config)
    assert sorted(scored) == [3, 6, 9, 12]
    best_step = min(scored, key=lambda s: scored[s])
    ckpt = load_run(config.run_dir)
    assert ckpt.selection is not None
    assert ckpt.selection.step == best_step
    assert ckpt.selection.val_crps == pytest.approx(scored[best_step])
    # The saved weights score what was logged for that step (fixed validation noise).
    from training.data.tables import load_table
    from training.families.table_gan import TableTrainer

    trainer = TableTrainer(config, load_table(config.data), torch.Generator().manual_seed(0))
    trainer.exported().load_state_dict(ckpt.generator)
    assert trainer.validate(best_step) == pytest.approx(scored[best_step], rel=1e-6)


def test_timegan_selects_on_held_out_windows_in_the_joint_phase(tmp_path: Path) -> None:
    """Scored only once joint training has begun (after 2 + 2 pretraining steps); the
    checkpoint holds the best-scored weights, which score again what was logged."""
    config = _with(tiny_timegan(tmp_path, steps=8), select_every=2)
    train(config)
    scored = _scores(config)
    assert sorted(scored) == [6, 8, 10, 12]
    best_step = min(scored, key=lambda s: scored[s])
    ckpt = load_run(config.run_dir)
    assert ckpt.selection is not None and ckpt.selection.step == best_step
    from training.families.timegan import TimeGANTrainer

    trainer = TimeGANTrainer(config, torch.Generator().manual_seed(0))
    assert trainer.val_idx is not None and trainer.train_idx is not None
    assert sorted(trainer.val_idx.tolist() + trainer.train_idx.tolist()) == list(range(64))
    held = trainer.data[trainer.val_idx].flatten(1)  # (6, T * F): no batch draws one of them
    for _ in range(20):
        drawn = trainer._batch()[0].flatten(1)
        assert not (drawn[:, None, :] == held[None, :, :]).all(-1).any()
    trainer.calls = 5  # past pretraining, so validate scores
    trainer.exported().load_state_dict(ckpt.generator)
    assert trainer.validate(best_step) == pytest.approx(scored[best_step], rel=1e-6)


def test_series_distance_sees_channels_that_stop_moving_together() -> None:
    rng = np.random.default_rng(2)
    common = rng.normal(0, 1, (300, 24, 1))
    real = np.concatenate([common, common + rng.normal(0, 0.1, common.shape)], axis=-1)
    other = np.concatenate(
        [c := rng.normal(0, 1, (300, 24, 1)), c + rng.normal(0, 0.1, c.shape)], -1
    )
    apart = np.concatenate([rng.normal(0, 1, (300, 24, 1)), rng.normal(0, 1, (300, 24, 1))], -1)
    valid = np.ones(real.shape[:2], dtype=bool)
    # Each channel alone looks right either way; only the pair's correlation differs.
    assert abs(window_distance(real, apart, valid) - window_distance(real, other, valid)) < 0.1
    assert series_distance(real, apart) > series_distance(real, other) + 0.8


def test_patience_stops_training_early(tmp_path: Path) -> None:
    config = _with(tiny_table(tmp_path, steps=400), select_every=2, patience=1, lr_g=0.5)
    train(config)
    record = json.loads((config.run_dir / "training.json").read_text())
    assert record["stopped"] == "no better validation score in 1 checks"
    assert record["steps_run"] < 400


def test_cli_budget_is_a_duration(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["train", "--config", "nope.toml", "--budget", "soon"])
    assert result.exit_code == 2
    assert "expected a duration such as 30m" in result.output
