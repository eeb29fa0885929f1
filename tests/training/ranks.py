"""Tiny data-parallel trainings, each on its own pair of spawned processes, as `rnngan train
--nproc N` (training/train.py's `launch`) trains one. Imports only training, so that the
spawned processes stay light."""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

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
        _join(context, config.name)


def _join(context: Any, name: str, deadline_s: float = DEADLINE_S) -> None:
    """Wait for a job's ranks; raise as `context.join` does when one fails, or TimeoutError
    after `deadline_s` (a hung job fails the test instead of the CI run). Either way the ranks
    still running print their stacks first (`_where`)."""
    deadline = time.monotonic() + deadline_s
    while True:
        codes = [process.exitcode for process in context.processes]
        if all(code == 0 for code in codes):
            return
        if any(code not in (None, 0) for code in codes):
            break
        if time.monotonic() > deadline:
            _where(context.processes)
            for process in context.processes:
                process.kill()
            raise TimeoutError(f"{name}: ranks still running after {deadline_s:g} s")
        time.sleep(0.2)
    _where(context.processes)  # a rank failed: where are the others?
    context.join()  # raises with the failed rank's exit code or error


def _where(processes: Iterable[Any]) -> None:
    """Have running ranks print every thread's Python stack to stderr (SIGUSR1: `_rank`'s
    faulthandler), for the CI log of a failed or hung job."""
    asked = [p for p in processes if p.pid is not None and p.exitcode is None]
    for process in asked:
        os.kill(process.pid, signal.SIGUSR1)
    if asked:  # time to print before they are stopped
        time.sleep(1.0)


def _rank(rank: int, world: int, store: str, config: RunConfig) -> None:
    # A rank that dies of a signal (a C++ abort in a collective) prints its Python stacks; so
    # does one asked where it is (`_where`).
    faulthandler.enable(all_threads=True)
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    os.environ.update(rank_environment(rank, world))
    # A rank left waiting fails the test instead of hanging it.
    os.environ["RNNGAN_DIST_TIMEOUT_S"] = "240"
    os.environ["RNNGAN_DIST_INIT"] = f"file://{store}"
    logging.basicConfig(level=logging.WARNING)
    train(config, progress=False)  # frees its DDP wrappers inside the process group
