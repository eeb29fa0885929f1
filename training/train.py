"""The train stage: `rnngan train --config configs/sines.toml` trains the model a config
describes and writes `<run_dir>/{checkpoint.pt, losses.jsonl, training.json}`.

The config's family (training/families/) builds the data, networks and trainer; the loop
(training/loop.py) runs it. The same config and seed give the same losses. Under torchrun, or
`rnngan train --nproc N` (`launch`), each process trains its share of every batch
(training/distributed.py).
"""

from __future__ import annotations

import gc
import logging
import os
import socket

import torch.multiprocessing as mp

from training import resume as resuming
from training.config import RunConfig
from training.distributed import check_supported, process_group, rank_environment
from training.families import DATA_PARALLEL, family_for
from training.loop import run_loop, seed_everything

log = logging.getLogger("rnngan.train")


class RankFailed(RuntimeError):
    """A process of a `launch`ed job failed (the others were stopped)."""


def train(
    config: RunConfig, *, progress: bool = True, resume: bool = False
) -> list[dict[str, float]]:
    """Train the model a config describes; returns the per-step losses (averaged over ranks
    when data-parallel). `resume`: continue the run in `config.run_dir` from its last
    checkpoint (training/resume.py; ResumeError when there is none, or the config differs)."""
    family = family_for(config)
    state = resuming.load(config) if resume else None  # checked before any work
    with process_group(config, family, DATA_PARALLEL) as shard:
        if state is not None and shard.world > 1:
            raise resuming.ResumeError("--resume runs in one process for now (--nproc 1)")
        # Every rank seeds alike: the same initial weights and the same global batches.
        rng = seed_everything(config.seed, config.train.threads)
        trainer = family.trainer(config, rng)
        try:
            return run_loop(config, trainer, progress=progress and shard.is_main, resume=state)
        finally:
            # The DDP wrappers' reducers hold gloo work: free them while the process group is
            # alive, not in the interpreter's teardown, where a rank could abort after a
            # finished training ("terminate called without an active exception").
            del trainer
            gc.collect()


def launch(config: RunConfig, nproc: int, *, progress: bool = True) -> None:
    """Train `config` on `nproc` local processes (torch.multiprocessing, spawn): the job that
    `torchrun --standalone --nproc-per-node <nproc> -m rnngan train` runs. Returns when every
    rank has finished; when one fails, the others are stopped and RankFailed says which."""
    check_supported(config, family_for(config), nproc, DATA_PARALLEL)
    log.info("training %s on %d processes (DDP, gloo)", config.name, nproc)
    try:
        mp.start_processes(
            _worker,
            args=(nproc, _free_port(), config, progress),
            nprocs=nproc,
            join=True,
            start_method="spawn",
        )
    except mp.ProcessException as exc:
        lines = str(exc).strip().splitlines()
        raise RankFailed(f"rank {exc.error_index} failed: {lines[-1] if lines else exc}") from exc


def _worker(rank: int, world: int, port: int, config: RunConfig, progress: bool) -> None:
    """One rank of `launch`: the environment torchrun would set, then `train`."""
    os.environ.update(rank_environment(rank, world, port))
    logging.basicConfig(
        level=logging.INFO if rank == 0 else logging.WARNING,
        format=f"%(asctime)s %(levelname)s %(name)s[rank {rank}]: %(message)s",
    )
    train(config, progress=progress)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
