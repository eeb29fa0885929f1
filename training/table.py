"""A conditional recurrent GAN for the user's own long table (`data.dataset = "table"`).

- Data: each entity becomes a (T, D) array of model channels (service/table.py) and a static
  condition vector. Training windows are `seq_len` steps at `stride` from every entity; an entity
  shorter than `seq_len` is one window, zero-padded, with its padded steps masked out of every
  loss. The GRUs are causal, so padding never changes what the real steps look like to them.
  `seq_len = 0` (the default of `rnngan train --data`) picks the longest entity's length up to
  AUTO_SEQ_LEN: short entities are then learned whole, from their first row, which is how the
  service generates them.
- Generator: a GRU reads [noise_t, condition] at each step; its head emits logits, turned into
  sigmoids (numbers, flags, masks, gaps) and a softmax per categorical column. That is what
  is exported; the service samples the discrete channels.
- Training sees hard discrete samples: straight-through Gumbel-softmax for categories and a
  straight-through Bernoulli for flags and masks, so the discriminator cannot tell real from
  synthetic by soft probabilities.
- Discriminator: a per-step GRU (RCGAN-style) reading [channels_t, condition]; losses are
  averaged over real steps only. A moment term matches each channel's mean and std.
- Series lengths come from the training entities' lengths (saved in the manifest); the
  generator is recurrent, so any length can be generated.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from rnngan.core.manifest import file_sha256
from rnngan.core.tables.codec import encode_entities
from rnngan.core.tables.infer import infer_spec
from rnngan.core.tables.spec import TableError, TableSpec, channel_layout
from training.config import DataConfig, RunConfig, from_dict
from training.networks import RecurrentNet, ema_update

AUTO_SEQ_LEN = 96


def read_user_table(path: str | Path) -> pd.DataFrame:
    """A CSV or Parquet file as a frame."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file {path} not found")
    suffix = "".join(path.suffixes[-2:]).lower()
    if suffix.endswith((".parquet", ".pq")):
        return pd.read_parquet(path)
    if suffix.endswith((".csv", ".csv.gz", ".txt")):
        return pd.read_csv(path)
    raise TableError(f"{path.name}: expected a .csv, .csv.gz or .parquet file")


def spec_from_config(config: DataConfig) -> tuple[TableSpec, pd.DataFrame]:
    frame = read_user_table(str(config.path))
    return infer_spec(
        frame,
        id_column=str(config.id_col),
        time_column=config.time_col,
        static=config.static,
        types=config.types,
        bounds=config.bounds,
        columns=config.columns,
    )


def default_config(
    data: Path,
    *,
    id_col: str,
    time_col: str | None = None,
    name: str | None = None,
    static: str | None = None,
    types: str | None = None,
    bounds: str | None = None,
    columns: str | None = None,
    seq_len: int = 0,
    out_dir: str | None = None,
    task: str = "generate",
    target: str | None = None,
    horizon: int = 24,
    context_len: int = 168,
    season: int = 24,
) -> RunConfig:
    """The run config `rnngan train --data` uses: defaults sized for a 2-core CPU (minutes),
    comma-separated options as the command line takes them. `task="forecast"` forecasts the
    `target` column (ForGAN-class, the settings of the shipped ETTh1 forecaster)."""

    def split(value: str | None) -> list[str]:
        return [v.strip() for v in value.split(",") if v.strip()] if value else []

    slug = re.sub(r"[^a-z0-9_\-]+", "_", (name or data.stem).lower()).strip("_-") or "table"
    raw: dict[str, Any] = {
        "name": slug[:64],
        "task": "generate",
        "description": f"Trained on {data.name} (id column {id_col}).",
        "data": {
            "dataset": "table",
            "path": str(data),
            "id_col": id_col,
            "time_col": time_col,
            "types": split(types),
            "bounds": split(bounds),
            "columns": split(columns),
            "seq_len": seq_len,
        },
        "model": {"latent_dim": 8, "hidden_size": 48, "num_layers": 2, "disc_hidden_size": 48},
        "train": {
            "steps": 3000,
            "batch_size": 128,
            "moment_weight": 10.0,
            "ema_decay": 0.998,
            "threads": 1,
        },
        "eval": {"runs": 3, "disc_steps": 1000, "pred_steps": 2000},
    }
    if task == "forecast":
        if not target:
            raise TableError("forecasting needs --target, the column to forecast")
        if context_len % 4:
            raise TableError("--context-len must be a multiple of 4 (the history patch length)")
        raw["task"] = "forecast"
        raw["data"].update(
            target=target, horizon=horizon, context_len=context_len, season=season, seq_len=24
        )
        raw["model"] = {
            "latent_dim": 8,
            "hidden_size": 48,
            "num_layers": 1,
            "disc_hidden_size": 32,
            "disc_num_layers": 1,
            "patch_len": 4,
            "disc_context": min(24, context_len),
        }
        raw["train"] = {
            "steps": 3000,
            "adv_weight": 0.1,
            "crps_weight": 1.0,
            "select_every": 250,
            "threads": 1,
        }
        raw["eval"] = {"num_samples": 200, "baselines": ["AutoETS"], "baseline_input_size": 2000}
    if static is not None:
        raw["data"]["static"] = split(static)
    if out_dir is not None:
        raw["out_dir"] = out_dir
    config: RunConfig = from_dict(RunConfig, raw)
    return config


@dataclass(frozen=True)
class TableData:
    spec: TableSpec
    frame: pd.DataFrame  # sorted by (entity, time), with the parsed time in `__t`
    entities: list[tuple[np.ndarray, np.ndarray]]  # per entity: (T, D) channels, (C,) condition
    seq_len: int  # the window length trained on (resolved when the config says 0)
    windows: np.ndarray  # (N, seq_len, D), zero-padded
    valid: np.ndarray  # (N, seq_len) 1 on real steps
    conditions: np.ndarray  # (N, C)
    source: str
    sha256: str


def make_windows(
    entities: list[tuple[np.ndarray, np.ndarray]], seq_len: int, stride: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    windows, valid, conditions = [], [], []
    for x, cond in entities:
        length, width = x.shape
        if length >= seq_len:
            for start in range(0, length - seq_len + 1, stride):
                windows.append(x[start : start + seq_len])
                valid.append(np.ones(seq_len, dtype=np.float32))
                conditions.append(cond)
        else:
            padded = np.zeros((seq_len, width), dtype=np.float32)
            padded[:length] = x
            mask = np.zeros(seq_len, dtype=np.float32)
            mask[:length] = 1.0
            windows.append(padded)
            valid.append(mask)
            conditions.append(cond)
    return (
        np.stack(windows).astype(np.float32),
        np.stack(valid).astype(np.float32),
        np.stack(conditions).astype(np.float32),
    )


def load_table(config: DataConfig) -> TableData:
    spec, frame = spec_from_config(config)
    entities = encode_entities(spec, frame)
    seq_len = config.seq_len or min(max(spec.length_values), AUTO_SEQ_LEN)
    windows, valid, conditions = make_windows(entities, seq_len, config.stride)
    path = Path(str(config.path))
    return TableData(
        spec, frame, entities, seq_len, windows, valid, conditions, path.name, file_sha256(path)
    )


class TableGenerator(nn.Module):
    """noise (B, T, L) + condition (B, C) -> channel probabilities (B, T, D)."""

    def __init__(
        self, spec: TableSpec, *, latent_dim: int, hidden_size: int, num_layers: int, cell: str
    ) -> None:
        super().__init__()
        layout = channel_layout(spec)
        rnn_cls = nn.GRU if cell == "gru" else nn.LSTM
        self.rnn = rnn_cls(
            latent_dim + spec.condition_dim, hidden_size, num_layers=num_layers, batch_first=True
        )
        self.head = nn.Linear(hidden_size, layout.width)
        # Channel runs in order: (start, stop, softmax?) — sigmoid runs between categoricals.
        cats = sorted(
            (layout.values[c.name].start, layout.values[c.name].stop)
            for c in spec.dynamic
            if c.kind == "categorical"
        )
        runs: list[tuple[int, int, bool]] = []
        at = 0
        for start, stop in cats:
            if start > at:
                runs.append((at, start, False))
            runs.append((start, stop, True))
            at = stop
        if at < layout.width:
            runs.append((at, layout.width, False))
        self.runs = runs
        # Channels sampled as Bernoulli in training: boolean columns and masks.
        self.bernoulli = sorted(
            [layout.values[c.name].start for c in spec.dynamic if c.kind == "boolean"]
            + list(layout.masks.values())
        )

    def logits(self, noise: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        steps = condition.unsqueeze(1).expand(-1, noise.shape[1], -1)
        h, _ = self.rnn(torch.cat([noise, steps], dim=-1))
        out: torch.Tensor = self.head(h)
        return out

    def activate(self, logits: torch.Tensor) -> torch.Tensor:
        parts = [
            torch.softmax(logits[..., a:b], dim=-1) if soft else torch.sigmoid(logits[..., a:b])
            for a, b, soft in self.runs
        ]
        return torch.cat(parts, dim=-1)

    def forward(self, noise: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        return self.activate(self.logits(noise, condition))

    def sample(self, logits: torch.Tensor, tau: float, rng: torch.Generator) -> torch.Tensor:
        """Hard discrete channels with straight-through gradients (training only)."""
        parts = []
        for a, b, soft in self.runs:
            if soft:
                u = torch.rand(logits[..., a:b].shape, generator=rng).clamp(1e-9, 1 - 1e-9)
                y = torch.softmax((logits[..., a:b] - torch.log(-torch.log(u))) / tau, dim=-1)
                hard = F.one_hot(y.argmax(dim=-1), b - a).to(y.dtype)
                parts.append(hard + y - y.detach())
            else:
                parts.append(torch.sigmoid(logits[..., a:b]))
        out = torch.cat(parts, dim=-1)
        if self.bernoulli:
            idx = torch.tensor(self.bernoulli)
            p = out[..., idx]
            hard = (torch.rand(p.shape, generator=rng) < p).to(p.dtype)
            out = out.clone()
            out[..., idx] = hard + p - p.detach()
        return out


class TableGraph(nn.Module):
    """What is exported: noise (B, T, L) + condition (B, C) -> samples (B, T, D)."""

    def __init__(self, generator: TableGenerator) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, noise: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        return self.generator(noise, condition)


def build(config: RunConfig, spec: TableSpec) -> tuple[TableGenerator, RecurrentNet]:
    m = config.model
    generator = TableGenerator(
        spec,
        latent_dim=m.latent_dim,
        hidden_size=m.hidden_size,
        num_layers=m.num_layers,
        cell=m.cell,
    )
    discriminator = RecurrentNet(
        input_size=spec.channels + spec.condition_dim,
        hidden_size=m.disc_hidden_size,
        num_layers=m.disc_num_layers,
        output_size=1,
        cell=m.cell,
    )
    return generator, discriminator


def _masked_bce(logits: torch.Tensor, target: float, valid: torch.Tensor) -> torch.Tensor:
    loss = F.binary_cross_entropy_with_logits(
        logits.squeeze(-1), torch.full_like(valid, target), reduction="none"
    )
    return (loss * valid).sum() / valid.sum().clamp_min(1.0)


def masked_moment_loss(real: torch.Tensor, fake: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Each channel's mean and std over real steps, real vs synthetic (TimeGAN's moment term,
    restricted to unpadded steps)."""
    w = valid.unsqueeze(-1)
    n = w.sum().clamp_min(1.0)

    def stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = (x * w).sum(dim=(0, 1)) / n
        var = (((x - mean) ** 2) * w).sum(dim=(0, 1)) / n
        return mean, torch.sqrt(var + 1e-6)

    real_mean, real_std = stats(real)
    fake_mean, fake_std = stats(fake)
    return (real_mean - fake_mean).abs().mean() + (real_std - fake_std).abs().mean()


class TableTrainer:
    def __init__(self, config: RunConfig, data: TableData, rng: torch.Generator) -> None:
        self.config, self.rng = config, rng
        self.windows = torch.from_numpy(data.windows)
        self.valid = torch.from_numpy(data.valid)
        self.conditions = torch.from_numpy(data.conditions)
        self.generator, self.discriminator = build(config, data.spec)
        t = config.train
        # An exponential moving average of the generator's weights is what gets exported
        # (`train.ema_decay` > 0), as for the TimeGAN-class generators.
        self.ema = copy.deepcopy(self.generator).requires_grad_(False) if t.ema_decay > 0 else None
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=t.lr_g, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(
            self.discriminator.parameters(), lr=t.lr_d, betas=(0.5, 0.999)
        )

    def _batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        t = self.config.train
        idx = torch.randint(0, self.windows.shape[0], (t.batch_size,), generator=self.rng)
        noise = torch.randn(
            t.batch_size, self.windows.shape[1], self.config.model.latent_dim, generator=self.rng
        )
        return self.windows[idx], self.valid[idx], self.conditions[idx], noise

    def _judge(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        steps = condition.unsqueeze(1).expand(-1, x.shape[1], -1)
        out: torch.Tensor = self.discriminator(torch.cat([x, steps], dim=-1))
        return out

    def step(self) -> dict[str, float]:
        t = self.config.train
        tau = 0.5
        for _ in range(t.d_steps):
            real, valid, cond, noise = self._batch()
            with torch.no_grad():
                fake = self.generator.sample(self.generator.logits(noise, cond), tau, self.rng)
            d_loss = _masked_bce(self._judge(real, cond), 1.0, valid) + _masked_bce(
                self._judge(fake, cond), 0.0, valid
            )
            self.opt_d.zero_grad()
            d_loss.backward()
            self.opt_d.step()
        real, valid, cond, noise = self._batch()
        fake = self.generator.sample(self.generator.logits(noise, cond), tau, self.rng)
        adversarial = _masked_bce(self._judge(fake, cond), 1.0, valid)
        moment = masked_moment_loss(real, fake, valid)
        g_loss = t.adv_weight * adversarial + t.moment_weight * moment
        self.opt_g.zero_grad()
        g_loss.backward()
        self.opt_g.step()
        if self.ema is not None:
            ema_update(self.ema, self.generator, t.ema_decay)
        return {
            "d_loss": d_loss.item(),
            "g_adversarial": adversarial.item(),
            "g_moment": moment.item(),
        }

    def exported(self) -> TableGenerator:
        return self.ema if self.ema is not None else self.generator


def table_extra(data: TableData) -> dict[str, Any]:
    spec = data.spec
    return {
        "features": [c.name for c in spec.dynamic],
        "table": spec.model_dump(mode="json"),
        "seq_len": data.seq_len,
        "dataset": {
            "name": Path(data.source).stem,
            "source": data.source,
            "sha256": data.sha256,
            "columns": [c.name for c in spec.columns],
            "n_windows": int(data.windows.shape[0]),
        },
    }
