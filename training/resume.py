"""Resuming an interrupted run: `rnngan train --config … --resume`.

At every checkpoint the loop also writes `<run_dir>/resume.pt`: the complete state of the
trainer (every network, optimiser, random generator, counter and kept "best" weights it holds),
the process-wide random states (torch, numpy, random), the step, the early-stopping state and
the run config. `--resume` rebuilds the trainer from the config and seed as a fresh run would
(the same data, the same initial objects), puts that state back into it, and continues at the
next step: a run of N steps resumed to 2N ends with the same weights, bit for bit, as one run
of 2N steps with the same seed (tests/training/test_resume.py), as long as no validation ran at
step N that the long run would not have run (`train.select_every` 0 or a divisor of N: the
loop also validates at the last step).

The state is captured without pickling the trainer: its attributes are walked, modules and
optimisers give their `state_dict`, random generators their state, tensors and plain values
are kept; large tensors that training does not change (the data) are kept as a checksum and
checked on resume. The config must be the same except `train.steps` (to train further),
`train.budget_s` (a resumed command gets a fresh time budget), `train.patience`,
`train.log_every` and `train.checkpoint_every`; the patience state (best score, checks without
improvement) carries over. One process only for now (`--nproc 1`).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from training.config import RunConfig, from_dict

RESUME = "resume.pt"
FORMAT = 1
# What may change between the interrupted run and its resumption.
MAY_CHANGE = {"steps", "budget_s", "patience", "log_every", "checkpoint_every"}
_DATA_NUMEL = 1 << 16  # tensors this big that need no grad are data: kept as a checksum
_SKIP_MODULES = ("training.distributed",)  # process-group handles, rebuilt by the run


class ResumeError(ValueError):
    """Nothing to resume, or a state that does not fit this config; the message says which."""


@dataclass(frozen=True)
class ResumeState:
    step: int  # the last step the state includes
    trainer: Any
    rng: dict[str, Any]
    best: float | None  # early stopping: best validation score so far
    stale: int  # validations since it


# --- capture / restore, by attribute path ---


def _digest(t: torch.Tensor) -> str:
    return hashlib.sha256(t.detach().contiguous().cpu().numpy().tobytes()).hexdigest()


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, (str, int)) and _plain(v) for k, v in value.items())
    return False


def _capture(value: Any, seen: set[int]) -> Any:
    if id(value) in seen and not isinstance(value, (bool, int, float, str, type(None))):
        return ("seen",)
    seen.add(id(value))
    if isinstance(value, nn.parallel.DistributedDataParallel):
        value = value.module  # a data-parallel run's wrapper: the module one process holds there
    if isinstance(value, nn.Module):
        return ("module", value.state_dict())
    if isinstance(value, torch.optim.Optimizer):
        return ("optimizer", value.state_dict())
    if isinstance(value, torch.Generator):
        return ("generator", value.get_state())
    if isinstance(value, np.random.Generator):
        return ("np_generator", value.bit_generator.state)
    if isinstance(value, torch.Tensor) and not value.requires_grad and value.numel() > _DATA_NUMEL:
        return ("data", _digest(value))
    if _plain(value):
        return ("value", value)
    if isinstance(value, (list, tuple)):
        return ("items", [_capture(v, seen) for v in value])
    if isinstance(value, dict):
        return ("items", {k: _capture(v, seen) for k, v in value.items()})
    module = type(value).__module__
    if module.startswith("training.") and not module.startswith(_SKIP_MODULES):
        attrs = getattr(value, "__dict__", {})
        return ("object", {k: _capture(v, seen) for k, v in attrs.items()})
    return ("skip",)  # numpy data, configs, functions: rebuilt the same from the config


def _restore(target: Any, saved: Any, where: str) -> Any:
    """Put `saved` into `target` in place where it is an object; returns the value to assign
    where it is a plain value."""
    kind = saved[0]
    if kind in ("seen", "skip"):
        return target
    if kind == "module":
        target.load_state_dict(saved[1])
    elif kind == "optimizer":
        target.load_state_dict(saved[1])
    elif kind == "generator":
        target.set_state(saved[1])
    elif kind == "np_generator":
        target.bit_generator.state = saved[1]
    elif kind == "data":
        if not isinstance(target, torch.Tensor) or _digest(target) != saved[1]:
            raise ResumeError(
                f"the training data ({where}) differ from the interrupted run's; "
                "resume with the same data files"
            )
    elif kind == "value":
        return saved[1]
    elif kind == "items":
        items = saved[1]
        if isinstance(items, dict):
            for key, item in items.items():
                target[key] = _restore(target[key], item, f"{where}[{key!r}]")
        else:
            restored = [
                _restore(t, s, f"{where}[{i}]")
                for i, (t, s) in enumerate(zip(target, items, strict=True))
            ]
            if isinstance(target, list):
                target[:] = restored
    elif kind == "object":
        for name, item in saved[1].items():
            if not hasattr(target, name):
                raise ResumeError(f"the trainer has no {where}.{name}: saved by other code")
            value = _restore(getattr(target, name), item, f"{where}.{name}")
            if item[0] == "value":
                object.__setattr__(target, name, value)
    return target


def capture(trainer: object) -> Any:
    return _capture(trainer, set())


def restore(trainer: object, saved: Any) -> None:
    _restore(trainer, saved, type(trainer).__name__)


# --- the file ---


def save(
    run_dir: Path, config: RunConfig, step: int, trainer: object, best: float | None, stale: int
) -> Path:
    """Write `<run_dir>/resume.pt` (beside checkpoint.pt) for step `step`."""
    path = run_dir / RESUME
    state = {
        "format": FORMAT,
        "config": config.to_dict(),
        "step": step,
        "trainer": capture(trainer),
        "rng": {
            "torch": torch.get_rng_state(),
            "numpy": np.random.get_state(),
            "random": random.getstate(),
        },
        "best": best,
        "stale": stale,
    }
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)  # never a half-written state
    return path


def _differences(old: dict[str, Any], new: dict[str, Any], where: str = "") -> list[str]:
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        name = f"{where}.{key}" if where else key
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, name)
        elif a != b and not (where == "train" and key in MAY_CHANGE):
            out.append(f"{name}: {a!r} then, {b!r} now")
    return out


def load(config: RunConfig, total_steps: int | None = None) -> ResumeState:
    """The saved state of `config`'s run directory, checked against `config`."""
    path = config.run_dir / RESUME
    if not path.is_file():
        raise ResumeError(
            f"nothing to resume in {config.run_dir}: no {RESUME} (a run writes it with each "
            "checkpoint); train without --resume"
        )
    raw = torch.load(path, map_location="cpu", weights_only=False)
    if raw.get("format") != FORMAT:
        raise ResumeError(f"{path} has format {raw.get('format')}; this rnngan reads {FORMAT}")
    now = config.to_dict()
    # Paths are compared as given: the same config file gives the same strings.
    # A field added since the run was saved takes its default (the value the run had).
    changed = _differences(from_dict(RunConfig, raw["config"]).to_dict(), now)
    if changed:
        raise ResumeError(
            f"the config differs from the run in {config.run_dir} (only train."
            + ", train.".join(sorted(MAY_CHANGE))
            + " may change): "
            + "; ".join(changed)
        )
    return ResumeState(
        step=int(raw["step"]),
        trainer=raw["trainer"],
        rng=raw["rng"],
        best=raw.get("best"),
        stale=int(raw.get("stale", 0)),
    )


def apply(state: ResumeState, trainer: object) -> None:
    """Put the saved trainer and process random states into a freshly built trainer."""
    restore(trainer, state.trainer)
    torch.set_rng_state(state.rng["torch"])
    np.random.set_state(state.rng["numpy"])
    random.setstate(state.rng["random"])
