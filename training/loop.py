"""The training loop, read top to bottom, shared by every family.

A family's trainer runs one step at a time and returns its named losses (dict[str, float]); the
loop logs them every `log_every` steps to `<run_dir>/losses.jsonl` and saves
`<run_dir>/checkpoint.pt` (training/checkpoint.py) every `checkpoint_every` steps and at the end.
Data-parallel (training/distributed.py), the losses are averaged over ranks and rank 0 alone
validates and writes; the other ranks never touch the run directory.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import sys
import time
from abc import ABC, abstractmethod

import numpy as np
import torch
from tqdm import tqdm

from training.checkpoint import CHECKPOINT, Checkpoint
from training.config import RunConfig
from training.distributed import current

log = logging.getLogger("rnngan.train")


class Trainer(ABC):
    """What a family hands the loop: networks, optimisers and data behind three calls."""

    total_steps: int  # steps the loop runs (TimeGAN: its three phases together)

    @abstractmethod
    def step(self) -> dict[str, float]:
        """One training step; its named losses."""

    def validate(self, step: int) -> float | None:
        """A validation score at `step`, lower is better, for checkpoint selection (None: the
        family does not select): CRPS for forecasters, a distribution and autocorrelation
        distance for table generators. Called every `train.select_every` steps when that is
        set; the trainer keeps the best weights for its checkpoint."""
        return None

    @abstractmethod
    def checkpoint(self, step: int) -> Checkpoint:
        """Everything export needs to rebuild the model trained so far."""


class Stopper:
    """When to stop before the last step: at the time budget (`train.budget_s`), or after
    `train.patience` validations in a row without a new best score. Data-parallel, every rank
    stops together (rank 0's decision, shared through the loss average)."""

    def __init__(self, budget_s: float, patience: int, started: float) -> None:
        self.budget_s, self.patience, self.started = budget_s, patience, started
        self.best: float | None = None
        self.stale = 0
        self.reason: str | None = None

    def validated(self, score: float) -> None:
        if self.best is None or score < self.best:
            self.best, self.stale = score, 0
        else:
            self.stale += 1

    def should_stop(self) -> bool:
        if not (self.budget_s or self.patience):
            return False
        if self.reason is None:
            if self.budget_s and time.perf_counter() - self.started >= self.budget_s:
                self.reason = f"time budget of {self.budget_s:g} s reached"
            elif self.patience and self.stale >= self.patience:
                self.reason = f"no better validation score in {self.patience} checks"
        flag = 1.0 if (self.reason is not None and current().is_main) else 0.0
        return current().average({"stop": flag})["stop"] > 0


def seed_everything(seed: int, threads: int) -> torch.Generator:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    torch.set_num_threads(threads)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def run_loop(config: RunConfig, trainer: Trainer, *, progress: bool) -> list[dict[str, float]]:
    """Run `trainer` for its steps; returns the per-step records (step, losses, val_crps)."""
    run_dir = config.run_dir
    main = current().is_main  # rank 0 (or the only process) writes; others only train
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
    history: list[dict[str, float]] = []
    started = time.perf_counter()
    t = config.train
    total = trainer.total_steps
    log_file = run_dir / "losses.jsonl"
    with log_file.open("w", encoding="utf-8") if main else contextlib.nullcontext() as loss_log:
        steps = range(1, total + 1)
        # Redraw rarely when stderr is a file or a CI log rather than a terminal.
        interval = 0.1 if sys.stderr.isatty() else 30.0
        stopper = Stopper(t.budget_s, t.patience, started)
        for step in tqdm(steps, disable=not progress, desc=config.name, mininterval=interval):
            record = {"step": step, **current().average(trainer.step())}
            if main and t.select_every and (step % t.select_every == 0 or step == total):
                val_crps = trainer.validate(step)
                if val_crps is not None:
                    record["val_crps"] = val_crps
                    stopper.validated(val_crps)
            last = step == total or stopper.should_stop()
            history.append(record)
            if main and (step % t.log_every == 0 or last or "val_crps" in record):
                loss_log.write(json.dumps(record) + "\n")
                loss_log.flush()
                log.info("step %d %s", step, {k: round(v, 4) for k, v in record.items()})
            if main and (step % t.checkpoint_every == 0 or last):
                trainer.checkpoint(step).save(run_dir / CHECKPOINT)
            if last:
                break
    seconds = time.perf_counter() - started
    if stopper.reason:
        log.warning("stopped %s at step %d of %d: %s", config.name, step, total, stopper.reason)
    if not main:
        return history
    log.info("trained %s for %d steps in %.1fs", config.name, total, seconds)
    # How long it took, with the thread setting it took it with (read by the benchmarks).
    (run_dir / "training.json").write_text(
        json.dumps(
            {
                "steps": total,
                "steps_run": len(history),
                "stopped": stopper.reason,
                "seconds": round(seconds, 1),
                "threads": t.threads,
                "processes": current().world,
            }
        )
        + "\n"
    )
    return history
