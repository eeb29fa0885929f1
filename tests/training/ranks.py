"""Several tiny data-parallel trainings in one pair of spawned processes (each process imports
torch once, not once per family): rank r trains every config in turn on its own job (its own
port), as `rnngan train --nproc N` (training/train.py's `launch`) trains one. Imports only
training, so that the spawned processes stay light."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch.multiprocessing as mp

from training.config import RunConfig
from training.distributed import rank_environment
from training.train import train


def train_on_ranks(configs: Sequence[RunConfig], world: int = 2) -> None:
    """Train each config on `world` local processes (DDP, gloo), one after the other."""
    # Each job meets through its own file (a port picked ahead for a later job could be taken
    # by then, e.g. by gloo's own connections, and leave a rank waiting on the wrong listener).
    stores = [str(Path(tempfile.mkdtemp(prefix="rnngan-rdzv-")) / "store") for _ in configs]
    mp.start_processes(
        _rank, args=(world, stores, list(configs)), nprocs=world, join=True, start_method="spawn"
    )


def _rank(rank: int, world: int, stores: list[str], configs: list[RunConfig]) -> None:
    os.environ.update(rank_environment(rank, world))
    # A rank left waiting fails the test instead of hanging it.
    os.environ["RNNGAN_DIST_TIMEOUT_S"] = "300"
    logging.basicConfig(level=logging.WARNING)
    for store, config in zip(stores, configs, strict=True):
        os.environ["RNNGAN_DIST_INIT"] = f"file://{store}"
        train(config, progress=False)
