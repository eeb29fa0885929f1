"""The training loop, read top to bottom, shared by every family.

A family's trainer runs one step at a time and returns its named losses (dict[str, float]); the
loop logs them every `log_every` steps to `<run_dir>/losses.jsonl` and saves
`<run_dir>/checkpoint.pt` (training/checkpoint.py) every `checkpoint_every` steps and at the end,
with `<run_dir>/resume.pt`, from which `rnngan train --resume` continues (training/resume.py).
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
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from training import resume as resuming
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
        distance for table and TimeGAN-class generators (logged as `val_crps` for all). Called
        every `train.select_every` steps when that is set; the trainer keeps the best weights
        for its checkpoint."""
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


def _losses_until(log_file: Path, step: int) -> None:
    """Keep the logged records up to `step` (a resumed run logs the later ones again)."""
    if not log_file.is_file():
        return
    lines = log_file.read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if line.strip() and json.loads(line)["step"] <= step]
    log_file.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


def run_loop(
    config: RunConfig,
    trainer: Trainer,
    *,
    progress: bool,
    resume: resuming.ResumeState | None = None,
) -> list[dict[str, float]]:
    """Run `trainer` for its steps; returns the per-step records (step, losses, val_crps).
    `resume`: the state of an interrupted run, put into `trainer` here; the loop goes on from
    the step after it."""
    run_dir = config.run_dir
    main = current().is_main  # rank 0 (or the only process) writes; others only train
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
    history: list[dict[str, float]] = []
    started = time.perf_counter()
    t = config.train
    total = trainer.total_steps
    log_file = run_dir / "losses.jsonl"
    stopper = Stopper(t.budget_s, t.patience, started)
    first = 1
    if resume is not None:
        if resume.step >= total:
            raise resuming.ResumeError(
                f"nothing to resume in {run_dir}: it ran all {resume.step} of {total} steps; "
                "raise train.steps (--steps) to train further"
            )
        resuming.apply(resume, trainer)
        stopper.best, stopper.stale, first = resume.best, resume.stale, resume.step + 1
        if main:
            _losses_until(log_file, resume.step)
        log.info("resuming %s at step %d of %d", config.name, first, total)
    mode = "a" if resume is not None else "w"
    with log_file.open(mode, encoding="utf-8") if main else contextlib.nullcontext() as loss_log:
        steps = range(first, total + 1)
        # Redraw rarely when stderr is a file or a CI log rather than a terminal.
        interval = 0.1 if sys.stderr.isatty() else 30.0
        bar = tqdm(
            steps, disable=not progress, desc=config.name, mininterval=interval, initial=first - 1
        )
        for step in bar:
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
                resuming.save(run_dir, config, step, trainer, stopper.best, stopper.stale)
            if last:
                break
    seconds = time.perf_counter() - started
    if stopper.reason:
        log.warning("stopped %s at step %d of %d: %s", config.name, step, total, stopper.reason)
    if not main:
        return history
    log.info("trained %s to step %d of %d in %.1fs", config.name, step, total, seconds)
    # How long it took, with the thread setting it took it with (read by the benchmarks).
    (run_dir / "training.json").write_text(
        json.dumps(
            {
                "steps": total,
                "steps_run": len(history),
                "resumed_from": resume.step if resume is not None else None,
                "stopped": stopper.reason,
                "seconds": round(seconds, 1),
                "threads": t.threads,
                "processes": current().world,
            }
        )
        + "\n"
    )
    return history
