"""Tiny data-parallel trainings, each on its own pair of spawned processes, as `rnngan train
--nproc N` (training/train.py's `launch`) trains one. Imports only training, so that the
spawned processes stay light."""

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

DEADLINE_S = 300  # each job


def train_on_ranks(configs: Sequence[RunConfig], world: int = 2) -> None:
    """Train each config on `world` local processes (DDP, gloo), one job after the other, each
    in processes of its own: a rank of one job can never wait in the next job's rendezvous (a
    CI run saw one rank stuck there until the collective timeout while the other was still
    leaving the job before; with one spawn per job that cannot happen)."""
    for config in configs:
        # Each job meets through its own file (a port picked ahead could be taken meanwhile).
        store = str(Path(tempfile.mkdtemp(prefix="rnngan-rdzv-")) / "store")
        context = mp.start_processes(
            _rank, args=(world, store, config), nprocs=world, join=False, start_method="spawn"
        )
        deadline = time.monotonic() + DEADLINE_S
        while not context.join(timeout=1.0):  # raises when a rank fails
            if time.monotonic() > deadline:  # a hung job fails the test instead of the CI run
                for process in context.processes:
                    process.kill()
                raise TimeoutError(f"{config.name}: ranks still running after {DEADLINE_S} s")


def _rank(rank: int, world: int, store: str, config: RunConfig) -> None:
    os.environ.update(rank_environment(rank, world))
    # A rank left waiting fails the test instead of hanging it.
    os.environ["RNNGAN_DIST_TIMEOUT_S"] = "240"
    os.environ["RNNGAN_DIST_INIT"] = f"file://{store}"
    logging.basicConfig(level=logging.WARNING)
    train(config, progress=False)
