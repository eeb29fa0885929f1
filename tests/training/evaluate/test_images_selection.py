"""The image families' checkpoint selection: its copying floor (`image.select_nn_folds`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.training.helpers import TINY
from training.checkpoint import load_run
from training.evaluate.images import nearest_distance, nn_floor
from training.families.images import ImageTrainer
from training.train import train


def test_nn_floor_leave_one_out_and_folds() -> None:
    """folds 0 is the leave-one-out nearest distance; k folds measure each image against the
    other folds only, so never less (fewer references), and the same partition every time."""
    images = np.random.default_rng(0).random((40, 8, 8))
    brute = np.mean(
        [nearest_distance(images[i : i + 1], np.delete(images, i, axis=0)) for i in range(40)]
    )
    assert nn_floor(images) == pytest.approx(brute)
    assert nn_floor(images, 40) == pytest.approx(brute)  # 40 folds of one: leave-one-out again
    for k in (2, 3, 5):
        assert nn_floor(images, k) >= nn_floor(images) - 1e-12
        assert nn_floor(images, k) == nn_floor(images, k)
    assert nn_floor(images, 2) > nn_floor(images, 10)
    for bad in (1, -1, 41):
        with pytest.raises(ValueError, match="folds"):
            nn_floor(images, bad)


def test_select_nn_folds_changes_only_the_selection(tmp_path: Path) -> None:
    """image.select_nn_folds reaches the trainer's selection score; training itself (losses)
    is the same as with the default floor."""
    base = TINY["image"](tmp_path / "a")
    folded = dataclasses.replace(
        TINY["image"](tmp_path / "b"), image=dataclasses.replace(base.image, select_nn_folds=3)
    )
    losses = [{k: v for k, v in r.items() if k != "val_crps"} for r in train(base, progress=False)]
    records = train(folded, progress=False)
    assert [{k: v for k, v in r.items() if k != "val_crps"} for r in records] == losses
    assert all("val_crps" in r for r in records)
    assert load_run(folded.run_dir).selection is not None
    floors = [
        ImageTrainer(c, torch.Generator().manual_seed(0)).scorer.nn_floor  # type: ignore[union-attr]
        for c in (base, folded)
    ]
    assert floors[1] > floors[0]
