"""Forecasting one column of a built-in series (`task = "forecast"`).

Default (any `model.kind` but "forgan_v1"): the panel forecaster of
training/families/panel_forecast.py (seasonal-naive base inside the graph, CRPS + adversarial
loss, checkpoint selection with step 0 = seasonal naive as a candidate).

`model.kind = "forgan_v1"` (and every checkpoint written before #16, recognised by its
weights): the ForGAN-class model (Koochali et al., IEEE Access 2019) below.
Networks (training/networks.py): a GRU reads the history, standardised by its own mean and std;
its state and per-step noise drive a GRU that emits the horizon; the discriminator judges the
recent history and the future together. Losses: adversarial + a two-sample CRPS (energy score)
term. With `train.select_every`, the generator is scored on the validation rows every N steps
(fixed noise) and the weights with the best validation CRPS are the ones saved. The exported
graph is history (S, C) and noise (S, N, H, L) → N sample futures (S, N, H), in history units.

`data.columns` (default forecaster only): more columns of the same file whose train rows
[0, train_end) are training series beside the target's, e.g. ETTh1's six load columns beside
OT: more windows of the same kind of signal. Validation, test and the exported graph stay
the target's alone (its history in, its future out); the manifest's `dataset.columns` names
every column trained on.

Both models train data-parallel (training/distributed.py): each rank trains on its block of the
global batch, the generator called through the forward DDP wraps (`two_futures` here,
`z_paths` in the panel forecaster); rank 0 alone validates and selects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from rnngan.core.manifest import DatasetInfo
from training import losses
from training.checkpoint import Checkpoint, KeptBest
from training.config import DataConfig, RunConfig
from training.data.series import load_forecast, read_table
from training.distributed import SINGLE, Shard, current
from training.evaluate.forecast import evaluate_forecast, rolling_windows
from training.evaluate.scores import gan_paths, score_paths_scaled, seasonal_scale
from training.families import panel_forecast as panel
from training.families.base import SERIES_DATASETS, Forecaster
from training.loop import Trainer
from training.networks import ForecastDiscriminator, ForecastGenerator, ForecastGraph, standardise

V1 = "forgan_v1"


def is_v1(config: RunConfig) -> bool:
    return config.model.kind == V1


def related_trains(d: DataConfig, frame: pd.DataFrame, path: Path) -> list[np.ndarray]:
    """The train rows [0, train_end) of `data.columns` other than the target, as float32
    series (module docstring), from `frame` (read_table's, read once with the target's)."""
    others = [c for c in d.columns if c != d.target]
    if not others:
        return []
    missing = [c for c in others if c not in frame.columns]
    if missing:
        raise ValueError(
            f"data.columns {missing} not in {path.name}; columns: {list(frame.columns)}"
        )
    trains = [frame[c].to_numpy(dtype=np.float32)[: d.train_end] for c in others]
    bad = [c for c, t in zip(others, trains, strict=True) if not np.isfinite(t).all()]
    if bad:
        raise ValueError(f"data.columns {bad} have NaN or infinite values in the train rows")
    return trains


def build_nets(config: RunConfig) -> tuple[ForecastGenerator, ForecastDiscriminator]:
    m = config.model
    return (
        ForecastGenerator(
            latent_dim=m.latent_dim,
            hidden_size=m.hidden_size,
            num_layers=m.num_layers,
            cell=m.cell,
            patch_len=m.patch_len,
        ),
        ForecastDiscriminator(
            hidden_size=m.disc_hidden_size, num_layers=m.disc_num_layers, cell=m.cell
        ),
    )


def two_futures(
    generator: ForecastGenerator, history: torch.Tensor, noise: torch.Tensor
) -> torch.Tensor:
    """history (B, C) standardised, noise (2B, H, L) -> two futures per history (2B, H): the
    first B rows from noise[:B], the next from noise[B:]; the history is encoded once."""
    state = generator.encode(history).repeat(2, 1, 1)  # (2B, 1, hidden)
    out: torch.Tensor = generator.decode(state, history[:, -1:].repeat(2, 1), noise)
    return out


def forecast_step(
    config: RunConfig,
    windows: torch.Tensor,
    nets: tuple[nn.Module, nn.Module],
    opts: tuple[torch.optim.Optimizer, torch.optim.Optimizer],
    rng: torch.Generator,
    shard: Shard = SINGLE,
) -> dict[str, float]:
    """One update of each network. Two futures are drawn per history (the sample CRPS needs a
    pair); the discriminator sees the last `disc_context` history steps and the future.
    `nets`: the generator through `two_futures` and the discriminator (Shard.wrap); each rank
    trains on its `shard` of the global batch (training/distributed.py)."""
    futures, discriminator = nets
    opt_g, opt_d = opts
    t, c, h = config.train, config.data.context_len, config.data.horizon
    k = config.model.disc_context

    idx = torch.randint(0, windows.shape[0], (t.batch_size,), generator=rng)
    w = shard.take(windows[idx])  # this rank's block of the global batch, (B / N, C + H)
    mean, std = standardise(w[:, :c])
    w = (w - mean) / std
    history, future = w[:, :c], w[:, c:]
    noise = torch.randn(2 * t.batch_size, h, config.model.latent_dim, generator=rng)
    noise = torch.cat([shard.take(half) for half in noise.chunk(2)])  # each half's block
    b = history.shape[0]
    fakes = futures(history, noise)  # (2B, H)
    first, second = fakes[:b], fakes[b:]
    recent = history[:, -k:]

    real_logits = discriminator(torch.cat([recent, future], dim=1))
    fake_logits = discriminator(torch.cat([recent, first.detach()], dim=1))
    d_loss = losses.discriminator_loss(real_logits, fake_logits)
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()

    adversarial = losses.generator_adversarial_loss(
        discriminator(torch.cat([recent, first], dim=1))
    )
    crps = losses.sample_crps(future, first, second)
    g_loss = t.adv_weight * adversarial + t.crps_weight * crps
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    return {"d_loss": d_loss.item(), "g_adversarial": adversarial.item(), "g_crps": crps.item()}


class ValidationSelector:
    """Checkpoint selection by validation CRPS: scores the generator on fixed validation windows
    (fixed noise) and keeps a copy of the best weights seen so far. `scales` (N,): each window's
    MASE/CRPS scale (one value repeated for a single series)."""

    def __init__(
        self,
        config: RunConfig,
        generator: ForecastGenerator,
        histories: np.ndarray,
        truth: np.ndarray,
        scales: np.ndarray,
    ):
        self.config, self.generator = config, generator
        self.histories, self.truth, self.scales = histories, truth, scales
        self.kept = KeptBest()

    def __call__(self, step: int) -> float:
        d, t = self.config.data, self.config.train
        paths = gan_paths(
            ForecastGraph(self.generator),
            self.histories,
            d.horizon,
            self.config.model.latent_dim,
            t.select_samples,
            self.config.seed,
        )
        crps = score_paths_scaled(paths, self.truth, self.scales)["crps"]
        self.kept.offer(crps, step, self.generator)
        return crps


class ForGANTrainer(Trainer):
    """Networks, optimisers and the validation selector over training windows (N, C + H) and
    validation (histories (V, C), truths (V, H), scales (V,))."""

    def __init__(
        self,
        config: RunConfig,
        rng: torch.Generator,
        windows: np.ndarray,
        validation: tuple[np.ndarray, np.ndarray, np.ndarray],
        *,
        dataset: DatasetInfo,
        freq: str | None,
    ) -> None:
        self.config, self.rng, self.dataset, self.freq = config, rng, dataset, freq
        self.windows = torch.from_numpy(windows)
        self.nets = build_nets(config)
        shard = self.shard = current()
        self.ddp_nets = (shard.wrap(self.nets[0], through=two_futures), shard.wrap(self.nets[1]))
        t = config.train
        self.opts = (
            torch.optim.Adam(self.nets[0].parameters(), lr=t.lr_g, betas=(0.5, 0.999)),
            torch.optim.Adam(self.nets[1].parameters(), lr=t.lr_d, betas=(0.5, 0.999)),
        )
        self.selector = ValidationSelector(config, self.nets[0], *validation)
        self.total_steps = t.steps

    def step(self) -> dict[str, float]:
        return forecast_step(
            self.config, self.windows, self.ddp_nets, self.opts, self.rng, self.shard
        )

    def validate(self, step: int) -> float | None:
        return self.selector(step)

    def checkpoint(self, step: int) -> Checkpoint:
        """The best generator weights when selection ran, else the last."""
        generator, selection = self.selector.kept.weights(self.nets[0].state_dict())
        return Checkpoint(
            config=self.config,
            step=step,
            generator=generator,
            discriminator=self.nets[1].state_dict(),
            features=[self.config.data.target],
            dataset=self.dataset,
            seq_len=self.config.data.seq_len,
            freq=self.freq,
            selection=selection,
        )


class ForGAN(Forecaster):
    name = "forgan"
    datasets = SERIES_DATASETS
    data_parallel = True  # and TableForecast, which trains with the same trainers

    def trainer(self, config: RunConfig, rng: torch.Generator) -> Trainer:
        d = config.data
        table = read_table(d)
        data = load_forecast(d, table)
        if not is_v1(config):
            _, histories, truth = rolling_windows(data, d.train_end, d.val_end)
            scale = seasonal_scale(data.train, d.season)
            validation = panel.Validation(
                histories, truth, np.full(len(histories), scale), np.zeros(len(histories), int)
            )
            related = related_trains(d, *table)
            train = panel.PanelData([data.train, *related], d.context_len + d.horizon)
            info = DatasetInfo(
                name=Path(data.source).stem,
                source=data.source,
                sha256=data.sha256,
                columns=[d.target] + [c for c in d.columns if c != d.target],
                train_rows=[0, d.train_end],
                n_windows=train.n_windows,
            )
            return panel.PanelTrainer(
                config,
                rng,
                train,
                validation,
                dataset=info,
                freq=d.freq,
                features=[d.target],
                seq_len=d.seq_len,
            )
        if d.columns and list(d.columns) != [d.target]:
            raise ValueError(
                f"data.columns (more training series) needs the default forecaster, not "
                f'model.kind = "{V1}"'
            )
        windows = data.windows(0, d.train_end)
        # Validation: the rows of the split in docs/quality.md, one scale for the one series.
        _, histories, truth = rolling_windows(data, d.train_end, d.val_end)
        scales = np.full(len(histories), seasonal_scale(data.train, d.season))
        dataset = DatasetInfo(
            name=Path(data.source).stem,
            source=data.source,
            sha256=data.sha256,
            columns=[d.target],
            train_rows=[0, d.train_end],
            n_windows=windows.shape[0],
        )
        validation = (histories, truth, scales)
        return ForGANTrainer(config, rng, windows, validation, dataset=dataset, freq=d.freq)

    def generator(self, config: RunConfig) -> nn.Module:
        """The v1 generator (the default's is built by `graph`)."""
        return build_nets(config)[0]

    def graph(self, ckpt: Checkpoint) -> nn.Module:
        if is_v1(ckpt.config) or not panel.is_panel_state(ckpt.generator):
            return super().graph(ckpt)
        return panel.load_graph(ckpt.config, ckpt.generator)

    def evaluate(self, config: RunConfig, graph: nn.Module) -> dict[str, Any]:
        return evaluate_forecast(config, graph)
