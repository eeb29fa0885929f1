"""The training checkpoint, `<run_dir>/checkpoint.pt`: what export and evaluation rebuild a model
from (as nanoGPT's `model_args`), typed.

On disk it is a plain dict of tensors and JSON-able values (`torch.save`), with the keys it has
always had: checkpoints written before this module existed (no `format` key) load unchanged;
fields they lack take the value the stages used to fall back to (tests/training/fixtures/legacy
holds one per family).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rnngan.core.manifest import DatasetInfo
from rnngan.core.tables.spec import TableSpec
from training.config import RunConfig, from_dict

CHECKPOINT = "checkpoint.pt"
FORMAT = 2  # 1: the untyped dict written before the typed checkpoint (same keys, no `format`)


@dataclass(frozen=True, kw_only=True)
class Selection:
    """Checkpoint selection by validation CRPS (forecasters): the step whose weights were kept."""

    step: int
    val_crps: float


class KeptBest:
    """The weights with the lowest validation score offered so far and the step they came from
    (checkpoint selection); the exported weights are these, else the last ones."""

    def __init__(self) -> None:
        self.best: tuple[float, int, dict[str, torch.Tensor]] | None = None

    def offer(self, score: float, step: int, module: torch.nn.Module) -> None:
        """Keep a copy of `module`'s weights when `score` beats every earlier one."""
        if self.best is None or score < self.best[0]:
            state = {k: v.detach().clone() for k, v in module.state_dict().items()}
            self.best = (score, step, state)

    def weights(self, last: dict[str, torch.Tensor]) -> tuple[dict[str, Any], Selection | None]:
        """The kept weights and their Selection; `last` and None when nothing was offered."""
        if self.best is None:
            return last, None
        score, step, state = self.best
        return state, Selection(step=step, val_crps=score)


@dataclass(frozen=True, kw_only=True)
class Checkpoint:
    config: RunConfig
    step: int  # training steps run
    generator: dict[str, torch.Tensor]  # weights of what is exported (the selected ones, if any)
    discriminator: dict[str, torch.Tensor]  # the adversary (TimeGAN: embedder + discriminator)
    features: list[str]  # generated or forecast columns, in order
    dataset: DatasetInfo
    seq_len: int  # window length trained on (own tables resolve data.seq_len = 0)
    freq: str | None  # spacing of the rows (own tables: inferred from the time column)
    data_min: list[float] | None = None  # min-max scaler fit on the training data (series)
    data_max: list[float] | None = None
    table: TableSpec | None = None  # own tables: the inferred column spec
    phase: str | None = None  # TimeGAN: the training phase reached
    selection: Selection | None = None

    def to_dict(self) -> dict[str, Any]:
        raw: dict[str, Any] = {
            "format": FORMAT,
            "config": self.config.to_dict(),
            "step": self.step,
            "generator": self.generator,
            "discriminator": self.discriminator,
            "features": self.features,
            "dataset": self.dataset.model_dump(mode="json"),
            "seq_len": self.seq_len,
            "freq": self.freq,
        }
        optional = {
            "data_min": self.data_min,
            "data_max": self.data_max,
            "table": self.table.model_dump(mode="json") if self.table is not None else None,
            "phase": self.phase,
        }
        raw.update({k: v for k, v in optional.items() if v is not None})
        if self.selection is not None:
            raw["selected_step"] = self.selection.step
            raw["selected_val_crps"] = self.selection.val_crps
        return raw

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Checkpoint:
        """A checkpoint of any format: format 1 lacks `seq_len` (then the config's) and `freq`
        (then the config's) except where training resolved them."""
        config: RunConfig = from_dict(RunConfig, raw["config"])
        table = raw.get("table")
        selected = raw.get("selected_step")
        return cls(
            config=config,
            step=raw["step"],
            generator=raw["generator"],
            discriminator=raw["discriminator"],
            features=list(raw["features"]),
            dataset=DatasetInfo.model_validate(raw["dataset"]),
            seq_len=raw.get("seq_len", config.data.seq_len),
            freq=raw.get("freq", config.data.freq),
            data_min=raw.get("data_min"),
            data_max=raw.get("data_max"),
            table=TableSpec.model_validate(table) if table is not None else None,
            phase=raw.get("phase"),
            selection=Selection(step=selected, val_crps=raw["selected_val_crps"])
            if selected is not None
            else None,
        )

    def save(self, path: Path) -> Path:
        torch.save(self.to_dict(), path)
        return path

    @classmethod
    def load(cls, path: Path) -> Checkpoint:
        # weights_only=False: the dict holds the config and spec as plain Python values
        return cls.from_dict(torch.load(path, map_location="cpu", weights_only=False))


def load_run(run_dir: Path) -> Checkpoint:
    """The checkpoint of a run directory written by `rnngan train`."""
    path = run_dir / CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(f"no {CHECKPOINT} in {run_dir}; run `rnngan train` first")
    return Checkpoint.load(path)
