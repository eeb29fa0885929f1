"""Several tiny data-parallel trainings in one pair of spawned processes (each process imports
torch once, not once per family): rank r trains every config in turn on its own job (its own
port), as `rnngan train --nproc N` (training/train.py's `launch`) trains one. Imports only
training, so that the spawned processes stay light."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import torch.multiprocessing as mp

from training.config import RunConfig
from training.distributed import rank_environment
from training.train import _free_port, train


def train_on_ranks(configs: Sequence[RunConfig], world: int = 2) -> None:
    """Train each config on `world` local processes (DDP, gloo), one after the other."""
    ports = [_free_port() for _ in configs]
    mp.start_processes(
        _rank, args=(world, ports, list(configs)), nprocs=world, join=True, start_method="spawn"
    )


def _rank(rank: int, world: int, ports: list[int], configs: list[RunConfig]) -> None:
    os.environ.update(rank_environment(rank, world))
    # A rank left waiting fails the test instead of hanging it.
    os.environ["RNNGAN_DIST_TIMEOUT_S"] = "300"
    logging.basicConfig(level=logging.WARNING)
    for port, config in zip(ports, configs, strict=True):
        os.environ["MASTER_PORT"] = str(port)
        train(config, progress=False)
