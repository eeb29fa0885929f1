"""Several tiny data-parallel trainings in one pair of spawned processes (each process imports
torch once, not once per family): rank r trains every config in turn on its own job (its own
port), as `rnngan train --nproc N` (training/train.py's `launch`) trains one. Imports only
training, so that the spawned processes stay light."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import torch.multiprocessing as mp

from training.config import RunConfig
from training.distributed import rank_environment
from training.train import train

DEADLINE_S = 600  # every job of the tests together


def train_on_ranks(configs: Sequence[RunConfig], world: int = 2) -> None:
    """Train each config on `world` local processes (DDP, gloo), one after the other."""
    # Each job meets through its own file (a port picked ahead for a later job could be taken
    # by then, e.g. by gloo's own connections, and leave a rank waiting on the wrong listener).
    stores = [str(Path(tempfile.mkdtemp(prefix="rnngan-rdzv-")) / "store") for _ in configs]
    context = mp.start_processes(
        _rank, args=(world, stores, list(configs)), nprocs=world, join=False, start_method="spawn"
    )
    deadline = time.monotonic() + DEADLINE_S
    while not context.join(timeout=1.0):  # raises when a rank fails
        if time.monotonic() > deadline:  # a hung job fails the test instead of the CI run
            for process in context.processes:
                process.kill()
            raise TimeoutError(f"data-parallel ranks still running after {DEADLINE_S} s")


def _rank(rank: int, world: int, stores: list[str], configs: list[RunConfig]) -> None:
    os.environ.update(rank_environment(rank, world))
    # A rank left waiting fails the test instead of hanging it.
    os.environ["RNNGAN_DIST_TIMEOUT_S"] = "300"
    logging.basicConfig(level=logging.WARNING)
    for store, config in zip(stores, configs, strict=True):
        os.environ["RNNGAN_DIST_INIT"] = f"file://{store}"
        train(config, progress=False)
