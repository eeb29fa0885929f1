"""Data-parallel training with DistributedDataParallel (DDP): N processes train one model on
one global batch, each on its share of the rows.

    torchrun --standalone --nproc-per-node 2 -m rnngan train --config configs/x.toml
    rnngan train --config configs/x.toml --nproc 2   # the same job (training/train.py's launch)

How the global batch is shared (`Shard`): every rank holds the same seeded generator and draws
the same global batch (the config's `train.batch_size` indices and noise), then trains on its
own contiguous block of `batch_size / N` rows (`take`). DDP averages the gradients, so a step
equals the one-process step on the same batch up to float summation order. Terms built from
batch statistics (the moment loss) are computed on the global batch (`gather`, an all-gather
that keeps gradients), and so is a loss that is not a plain mean over rows, such as the square
root of one (`mean`: the mean over ranks of each rank's value, with gradients). A branch that
depends on a loss (TimeGAN's discriminator threshold) is decided on the rank-averaged value, so
every rank takes it. The logged losses are averaged over ranks (`average`).

Rank 0 alone writes the run directory (losses.jsonl, checkpoint.pt, training.json), logs and
draws progress; all ranks run the same steps and leave through one barrier. The backend is gloo:
the trainers run on the CPU (nccl would need the networks on CUDA devices, one per rank).
A family opts in with `Family.data_parallel` (training/families/base.py).
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import nn

from training.config import ConfigError, RunConfig

log = logging.getLogger("rnngan.train")


@dataclass(frozen=True)
class Shard:
    """This process's place in the job: rank `rank` of `world` processes."""

    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def take(self, x: torch.Tensor, dim: int = 0) -> torch.Tensor:
        """This rank's contiguous block of the global batch along `dim` (B -> B / world)."""
        if self.world == 1:
            return x
        per = x.shape[dim] // self.world
        return x.narrow(dim, self.rank * per, per)

    def gather(self, x: torch.Tensor) -> torch.Tensor:
        """Every rank's block, in rank order (B / world -> B); gradients flow back to each
        rank's own block (summed over ranks, which DDP's average turns into the global one)."""
        if self.world == 1:
            return x
        gathered: torch.Tensor = _GatherRows.apply(x.contiguous(), self.rank, self.world)
        return gathered

    def mean(self, x: torch.Tensor) -> torch.Tensor:
        """The mean over ranks of a scalar each rank computed on its block (a per-rank mean
        becomes the global batch's mean), with gradients, as `gather`'s."""
        if self.world == 1:
            return x
        return self.gather(x.reshape(1)).mean()

    def wrap(
        self, module: nn.Module, through: Callable[..., torch.Tensor] | None = None
    ) -> nn.Module:
        """`module` under DDP (gradients averaged over ranks in backward); on one rank, itself
        (or its `Through`). DDP sees only `forward`: a trainer that calls the network another
        way (`encode` then `decode`, `z_paths`) passes that call as `through(module, *args)`,
        which becomes the forward of the module returned."""
        if through is not None:
            module = Through(module, through)
        if self.world == 1:
            return module
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(module)

    def average(self, values: dict[str, float]) -> dict[str, float]:
        """Named losses averaged over ranks (every rank calls it with the same names)."""
        if self.world == 1:
            return values
        import torch.distributed as dist

        t = torch.tensor(list(values.values()), dtype=torch.float64)
        dist.all_reduce(t)
        return dict(zip(values, (t / self.world).tolist(), strict=True))


class Through(nn.Module):
    """`module` called as `through(module, *args)`: its forward (Shard.wrap)."""

    def __init__(self, module: nn.Module, through: Callable[..., torch.Tensor]) -> None:
        super().__init__()
        self.module, self.through = module, through

    def forward(self, *args: Any) -> torch.Tensor:
        return self.through(self.module, *args)


class _GatherRows(torch.autograd.Function):
    """All-gather along dim 0 whose backward hands each rank the gradient of the sum of every
    rank's loss with respect to its own block (all_reduce, then the rank's rows)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, rank: int, world: int) -> torch.Tensor:
        import torch.distributed as dist

        parts = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(parts, x)
        ctx.rank, ctx.rows = rank, x.shape[0]
        return torch.cat(parts, dim=0)  # (world * B_rank, ...)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        import torch.distributed as dist

        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        return grad.narrow(0, ctx.rank * ctx.rows, ctx.rows), None, None


SINGLE = Shard()
_current = SINGLE


def current() -> Shard:
    """The shard of the running job (SINGLE outside `process_group`)."""
    return _current


def world_from_env() -> int:
    """Processes in the job as torchrun (or `launch`) set it; 1 when started plainly."""
    return int(os.environ.get("WORLD_SIZE", "1"))


class _Family(Protocol):
    """What is asked of a model family (training/families/base.py's `Family`)."""

    name: str
    data_parallel: bool


def check_supported(
    config: RunConfig, family: _Family, world: int, families: Sequence[str] = ()
) -> None:
    """A ConfigError unless `config` (trained by `family`) can train on `world` processes;
    `families`: the names of those that can, for the message."""
    if world == 1:
        return
    if not family.data_parallel:
        can = f" (data-parallel families: {', '.join(families)})" if families else ""
        raise ConfigError(f"--nproc > 1 is not supported for {family.name} yet{can}")
    if config.train.batch_size % world:
        raise ConfigError(
            f"train.batch_size={config.train.batch_size} must be divisible by the "
            f"{world} processes (each trains on batch_size / nproc rows)"
        )
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_gloo_available()):
        raise ConfigError("--nproc > 1 needs torch.distributed with the gloo backend")


def rank_environment(rank: int, world: int, port: int | None = None) -> dict[str, str]:
    """The variables torchrun sets for local rank `rank` of `world` (env:// rendezvous on
    loopback); MASTER_PORT too when `port` is given."""
    env = {
        "RANK": str(rank),
        "LOCAL_RANK": str(rank),
        "WORLD_SIZE": str(world),
        "LOCAL_WORLD_SIZE": str(world),
        "MASTER_ADDR": "127.0.0.1",
    }
    if port is not None:
        env["MASTER_PORT"] = str(port)
    return env


@contextmanager
def process_group(
    config: RunConfig, family: _Family, families: Sequence[str] = ()
) -> Iterator[Shard]:
    """Join the job torchrun or `launch` (training/train.py) started (env://: RANK, WORLD_SIZE,
    MASTER_ADDR/PORT); yields this process's shard. One process: SINGLE, nothing initialised."""
    global _current
    world = world_from_env()
    check_supported(config, family, world, families)
    if world == 1:
        yield SINGLE
        return
    import torch.distributed as dist

    # A collective that waits longer than this fails instead of hanging the job (torch's
    # default is 30 minutes; RNNGAN_DIST_TIMEOUT_S sets it, the tests use a short one).
    timeout = datetime.timedelta(seconds=float(os.environ.get("RNNGAN_DIST_TIMEOUT_S", 1800)))
    # RNNGAN_DIST_INIT: another rendezvous than env:// (MASTER_ADDR/PORT), e.g. file://… for
    # several jobs in a row on one machine without ports picked ahead (the tests' ranks).
    init = os.environ.get("RNNGAN_DIST_INIT", "env://")
    rank = int(os.environ.get("RANK", "0"))
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world, timeout=timeout)
    _current = Shard(rank=dist.get_rank(), world=dist.get_world_size())
    if not _current.is_main:  # rank 0 alone logs
        logging.getLogger("rnngan").setLevel(logging.WARNING)
    try:
        yield _current
        dist.barrier()  # all ranks stop together, after rank 0 has written the run directory
    finally:
        _current = SINGLE
        dist.destroy_process_group()
