"""The default forecaster of both forecast families (issue #16; its design settled by a
prototype measured on three panels, docs/forecast.md): one global recurrent GAN over a panel of
series, built so that it starts AT the seasonal naive and only moves away from it where
validation says it helps.

Inside the exported graph (history (S, C), noise (S, N, H, L) in, forecast (S, N, H) out), per
history window:

- scaling: loc = mean of the last season, scale = the window's own seasonal-naive MAE
  (mean |x_t - x_{t-s}|; its std when that is ~0, then 1); z = (x - loc) / scale, clipped to ±30.
- encoder: a GRU over the history cut into patches (one season each when the season divides
  `context_len`, else `model.patch_len` values).
- generator: a GRU over horizon patches of `model.patch_len` steps; per patch it reads the
  same-phase seasonal lags of its steps (1 … K seasons back, K = min(7, context_len // season);
  lag 1 is the seasonal naive), the noise of its steps (patch_len × latent_dim values) and its
  position; h0 from the encoder. Its head adds a correction to the seasonal-naive lag; the last
  layer starts at zero, so the untrained generator IS the seasonal naive.
- any horizon up to (and beyond) the trained one: the noise is padded to whole patches and the
  output cut back to the noise's length.

Training: fair sample CRPS over `PATHS` paths (weight `train.crps_weight`) + non-saturating loss
of a conditional GRU discriminator (`train.adv_weight`) that reads the last `disc_context`
history steps and the future, each step beside its value one season earlier. Batches: a series
uniformly, then an origin uniformly in its train part. The generator's weights are averaged
(EMA, `EMA_DECAY`) after every step; the average is what validation scores and export writes.
Checkpoint selection (`select_every`): validation windows scored with fixed noise; step 0
(= seasonal naive, the untrained average too) is always a candidate;
among candidates whose validation MASE ratio to the seasonal naive is ≤ 1, the lowest CRPS ratio
(geometric mean over series, each series' ratio bounded as the verdict's) is kept.

Ensemble: `members_for` such forecasters (two; three on a panel of few training windows) train
side by side (own initial weights, own batches, own selection) and export as one graph whose
sample paths alternate between them.

Mixing (TSMixup, as Chronos pretrains on; forecasters without covariates): a share of each
batch's windows become a convex combination λ z_a + (1 - λ) z_b (λ uniform) of two scaled windows
of the batch, re-scaled like any window. A panel of a few short series offers few distinct
windows; mixed ones are new series with the same kind of structure (seasonal shapes add up), so
the model memorises less. The share follows the panel's count of distinct training windows
(training/networks_forecast.py `mix_share`: all of them for a few thousand, half from 50,000).
With covariates (calendar, known-future columns, static attributes) a mixed window would break
what the covariates say about it, so none is mixed.

Short histories (own tables, `data.short_histories`, the default of `rnngan train --data`): a
history may start with NaN, a series shorter than C padded on the left; the graph fills each
missing value from one season later and scales by the observed values only
(training/networks_forecast.py `scaled_window`); training keeps the entities whose train part
spans a season + horizon (NaN-padded, so that every origin from one season on is a training
window, not only the last) and cuts SHORT_SHARE of each batch's histories to a random
length between one season and C; validation and test origins need one season of history.

Covariates (own tables, `data.calendar` / `data.future_cols`; docs/forecast.md): a third graph
input (S, C + H, n_cov) of calendar features (rnngan/core/calendar.py) and known-future columns
for the history and the horizon, standardised in the graph by the train parts' mean and std;
the encoder, the generator's horizon patches (each step's covariates and their change since its
seasonal-naive base step) and the discriminator read them. The head still starts at zero: an
untrained forecaster with covariates is the seasonal naive too.
"""

from __future__ import annotations

import copy
import logging

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rnngan.core.manifest import DatasetInfo
from training.checkpoint import Checkpoint, Selection
from training.config import RunConfig
from training.data.forecast_panel import left_pad
from training.distributed import current
from training.families.base import covariate_columns
from training.families.panel_selection import SelectionWindows, Selector, Validation
from training.loop import Trainer
from training.networks import ema_update
from training.networks_forecast import (
    MIX_ALL_BELOW,
    EnsembleGraph,
    PanelDiscriminator,
    PanelForecastGraph,
    PanelGenerator,
    check_shape,
    encoder_patch,
    fair_crps,
    mix_share,
    mix_windows,
)

__all__ = ["PanelForecastGraph", "PanelGenerator", "Validation", "check_shape"]
log = logging.getLogger("rnngan.train")

PATHS = 8  # sample paths per training window (the sample CRPS)
# `data.short_histories`: share of training windows whose history is cut to a random length
# between one season and context_len (the model forecasts series shorter than its context)
SHORT_SHARE = 0.25
# Moving average of the generator's weights, updated every step; validation scores, selects and
# exports it (lower MASE and CRPS ratios on every bench-panel panel, less spread between seeds)
EMA_DECAY = 0.995
# Forecasters trained side by side, each selected on validation, exported as one graph whose
# paths alternate between them (training/networks_forecast.py EnsembleGraph). Trial on
# bench-panel's smallest panels, two single-model runs' paths pooled: short MASE / CRPS ratio
# 0.811 / 0.697 -> 0.775 / 0.661, mixed 0.840 / 0.669 -> 0.815 / 0.650; the seeds' spread is
# what an ensemble averages away. A third member where the training windows are few (as many
# as the mixing share's "few", MIX_ALL_BELOW; trials, 2 seeds each, against the two-member
# forecaster's bench-panel figures): short (2,290 windows) 0.789 / 0.676 -> 0.771 / 0.655,
# mixed (4,779) 0.823 / 0.650 -> 0.808 / 0.645, while energy (59,136) stayed at 0.755 / 0.588
# -> 0.757 / 0.590. Each member costs its share of training time; the inference cost per path
# is the same.
MEMBERS, MEMBERS_FEW = 2, 3


def members_for(n_windows: int) -> int:
    """The ensemble's size for a panel of `n_windows` distinct training windows."""
    return MEMBERS_FEW if n_windows <= MIX_ALL_BELOW else MEMBERS


def build_generator(config: RunConfig) -> PanelGenerator:
    d, m = config.data, config.model
    check_shape(d.context_len, d.horizon, d.season)
    return PanelGenerator(
        context=d.context_len,
        horizon=d.horizon,
        season=d.season,
        latent_dim=m.latent_dim,
        hidden=m.hidden_size,
        patch=m.patch_len,
        enc_patch=encoder_patch(d.context_len, d.season, m.patch_len),
        n_cov=len(covariate_columns(config)),
    )


def build_discriminator(config: RunConfig) -> PanelDiscriminator:
    d, m = config.data, config.model
    return PanelDiscriminator(
        context=d.context_len,
        horizon=d.horizon,
        season=d.season,
        disc_context=m.disc_context,
        patch=m.patch_len,
        hidden=m.disc_hidden_size,
        n_cov=len(covariate_columns(config)),
    )


def is_panel_state(state: dict[str, torch.Tensor]) -> bool:
    """True for this forecaster's weights, one member's or several (the ForGAN-class v1
    generator has no `init`)."""
    return any(k.startswith("init.") or ".generator.init." in k for k in state)


def load_graph(config: RunConfig, state: dict[str, torch.Tensor]) -> nn.Module:
    """The exported graph of a checkpoint's generator weights: one forecaster's, or an
    EnsembleGraph of the members' (`members.j.generator.` names)."""
    n = len({k.split(".")[1] for k in state if k.startswith("members.")})
    if n == 0:
        generator = build_generator(config)
        generator.load_state_dict(state)
        return PanelForecastGraph(generator)
    graph = EnsembleGraph([PanelForecastGraph(build_generator(config)) for _ in range(n)])
    graph.load_state_dict(state)
    buffers = [dict(m.generator.named_buffers()) for m in graph.members]
    stats = [k for k in buffers[0] if k.startswith("cov_")]
    # the graph scales covariates once, with member 0's statistics
    if any(not torch.equal(b[k], buffers[0][k]) for b in buffers[1:] for k in stats):
        raise ValueError("the ensemble's members hold different covariate statistics")
    return graph


def _named(states: list[dict[str, torch.Tensor]], inner: str) -> dict[str, torch.Tensor]:
    """One member's weights as they are; several under `members.j.<inner>` names."""
    if len(states) == 1:
        return states[0]
    return {f"members.{j}.{inner}{k}": v for j, w in enumerate(states) for k, v in w.items()}


# --- training ---


class PanelData:
    """The train part of each series (float32) for window sampling, with its covariates
    (rows, n_cov) when the forecaster reads them.

    Short series (`min_span` ≤ rows < `span`, `min_span` > 0): kept, padded on the left with
    span - min_span NaN (their covariates with their first row), so each origin from
    min_span - horizon rows on is a window whose history starts with missing values
    (`fill_history`): rows - min_span + 1 windows, where padding to `span` gave one. `cut` =
    (share, context, shortest): that share of each batch's windows has its history cut to a
    uniform length in [shortest, context] the same way, so the model learns to forecast short
    series."""

    def __init__(
        self,
        trains: list[np.ndarray],
        span: int,
        covariates: list[np.ndarray] | None = None,
        *,
        min_span: int = 0,
        cut: tuple[float, int, int] = (0.0, 0, 0),
    ) -> None:
        least = self.least_rows(span, min_span)
        keep = [i for i, t in enumerate(trains) if len(t) >= least]
        # A short series offers every origin from `min_span - horizon` rows on: padded by
        # span - min_span, its first window's history holds exactly those rows.
        pads = [span - least if len(trains[i]) < span else 0 for i in keep]
        self.trains = [
            left_pad(trains[i].astype(np.float32), len(trains[i]) + p, np.nan)
            for i, p in zip(keep, pads, strict=True)
        ]
        self.covs = (
            [
                left_pad(covariates[i].astype(np.float32), len(covariates[i]) + p, None)
                for i, p in zip(keep, pads, strict=True)
            ]
            if covariates
            else None
        )
        if not self.trains:
            raise ValueError(
                f"no series has {least} training rows "
                f"({'a season' if min_span else 'context_len'} + horizon); lower them"
            )
        self.span, self.cut = span, cut
        self.n_short = sum(1 for i in keep if len(trains[i]) < span)
        self.n_windows = sum(len(t) - span + 1 for t in self.trains)

    @staticmethod
    def least_rows(span: int, min_span: int = 0) -> int:
        """The fewest train rows a series needs to be kept: `min_span` when set, else `span`."""
        return min_span or span

    def batch(self, rng: torch.Generator, size: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Windows (B, span) and their covariates (B, span, n_cov) or None."""
        which = torch.randint(0, len(self.trains), (size,), generator=rng).tolist()
        u = torch.rand(size, generator=rng, dtype=torch.float64).tolist()
        rows, covs = [], []
        for i, r in zip(which, u, strict=True):
            t = self.trains[i]
            start = min(int(r * (len(t) - self.span + 1)), len(t) - self.span)
            rows.append(t[start : start + self.span])
            if self.covs is not None:
                covs.append(self.covs[i][start : start + self.span])
        windows = np.stack(rows)
        cov = np.stack(covs) if covs else None
        share, context, shortest = self.cut
        if share > 0:
            chosen = torch.rand(size, generator=rng).numpy() < share
            keep = torch.randint(shortest, context + 1, (size,), generator=rng).numpy()
            for k in np.flatnonzero(chosen):
                first = context - keep[k]
                windows[k, :first] = np.nan
                if cov is not None:  # as the service pads them: the first kept row repeated
                    cov[k, :first] = cov[k, first]
        return torch.from_numpy(windows), (torch.from_numpy(cov) if cov is not None else None)


class Member:
    """One forecaster of the ensemble: its graph, discriminator, weight average, optimisers and
    checkpoint selector. Members differ by their initial weights and batches."""

    def __init__(
        self,
        config: RunConfig,
        windows: SelectionWindows | None,
        covariate_stats: tuple[np.ndarray, np.ndarray] | None,
    ) -> None:
        self.graph = PanelForecastGraph(build_generator(config))
        if covariate_stats is not None:  # buffers: they travel in the checkpoint and the graph
            self.graph.generator.cov_loc.copy_(torch.from_numpy(covariate_stats[0]))
            self.graph.generator.cov_scale.copy_(torch.from_numpy(covariate_stats[1]))
        self.disc = build_discriminator(config)
        # What validation scores and export writes: the weights' moving average (EMA_DECAY)
        self.ema = copy.deepcopy(self.graph).requires_grad_(False)
        # Data-parallel (training/distributed.py): the paths (through z_paths) and the
        # discriminator under DDP, each rank on its block of the global batch.
        shard = current()
        self.paths = shard.wrap(self.graph, through=PanelForecastGraph.z_paths)
        self.judge = shard.wrap(self.disc)
        t = config.train
        self.opt_g = torch.optim.Adam(self.graph.parameters(), lr=t.lr_g, betas=(0.5, 0.9))
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=t.lr_d, betas=(0.5, 0.9))
        self.selector = Selector(self.ema, windows) if windows is not None else None
        if self.selector is not None:
            self.selector(0)  # step 0 is the seasonal naive: always a candidate

    def step(
        self, config: RunConfig, data: PanelData, rng: torch.Generator, mix: float
    ) -> dict[str, float]:
        t, d, shard = config.train, config.data, current()
        w, cov = data.batch(rng, t.batch_size)  # the global batch, alike on every rank
        # Scaled and mixed on the global batch: a window's partner may be another rank's
        z = mix_windows(w, d.context_len, d.season, mix, rng)
        z, cov = shard.take(z), (shard.take(cov) if cov is not None else None)
        zh, zf = z[:, : d.context_len], z[:, d.context_len :]
        covz = self.graph.generator.scale_cov(cov) if cov is not None else None
        noise = torch.randn(t.batch_size, PATHS, d.horizon, config.model.latent_dim, generator=rng)
        x = self.paths(zh, shard.take(noise), covz)  # (B, K, H)
        out: dict[str, float] = {}
        if t.adv_weight > 0:
            real = self.judge(zh, zf, covz)
            fake = self.judge(zh, x[:, 0].detach(), covz)
            d_loss = F.softplus(-real).mean() + F.softplus(fake).mean()
            self.opt_d.zero_grad()
            d_loss.backward()
            nn.utils.clip_grad_norm_(self.disc.parameters(), 1.0)
            self.opt_d.step()
            out["d_loss"] = d_loss.item()
        crps = fair_crps(x, zf)
        g_loss = t.crps_weight * crps
        if t.adv_weight > 0:
            adv = F.softplus(-self.judge(zh, x[:, 0], covz)).mean()
            g_loss = g_loss + t.adv_weight * adv
            out["g_adversarial"] = adv.item()
        self.opt_g.zero_grad()
        g_loss.backward()
        nn.utils.clip_grad_norm_(self.graph.parameters(), 1.0)
        self.opt_g.step()
        ema_update(self.ema, self.graph, EMA_DECAY)
        out["g_crps"] = crps.item()
        return out

    def exported(self) -> tuple[dict[str, torch.Tensor], Selection | None]:
        """The weights export writes (the selected average, else the last) and their selection."""
        last = self.ema.generator.state_dict()
        return self.selector.kept.weights(last) if self.selector is not None else (last, None)


class PanelTrainer(Trainer):
    """`members_for` forecasters trained side by side, one step each per loop step; the checkpoint
    holds each member's selected weights (`members.j.` names past one member) and export writes
    them as one graph (`load_graph`). The logged losses are the members' means; the validation
    score the loop's patience reads is the members' mean CRPS ratio."""

    def __init__(
        self,
        config: RunConfig,
        rng: torch.Generator,
        data: PanelData,
        validation: Validation,
        *,
        dataset: DatasetInfo,
        freq: str | None,
        features: list[str],
        seq_len: int,
        covariate_stats: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        self.config, self.rng, self.data = config, rng, data
        self.dataset, self.freq, self.features, self.seq_len = dataset, freq, features, seq_len
        windows = SelectionWindows(config, validation) if config.train.select_every else None
        self.members = [
            Member(config, windows, covariate_stats) for _ in range(members_for(data.n_windows))
        ]
        self.total_steps = config.train.steps
        self.mix = mix_share(data.n_windows) if data.covs is None else 0.0  # TSMixup's share
        log.info(
            "%d forecasters side by side on %d training windows; %.0f %% of each batch's "
            "windows mixed (TSMixup)",
            len(self.members),
            data.n_windows,
            100 * self.mix,
        )

    def step(self) -> dict[str, float]:
        outs = [m.step(self.config, self.data, self.rng, self.mix) for m in self.members]
        return {k: sum(o[k] for o in outs) / len(outs) for k in outs[0]}

    def validate(self, step: int) -> float | None:
        scores = [m.selector(step) for m in self.members if m.selector is not None]
        return sum(scores) / len(scores) if scores else None

    def checkpoint(self, step: int) -> Checkpoint:
        kept = [m.exported() for m in self.members]
        if len(kept) == 1:
            generator, selection = kept[0]
        else:
            generator = _named([w for w, _ in kept], "generator.")
            chosen = [s for _, s in kept if s is not None]
            # One step stands for the members' (the checkpoint's field holds one): the latest
            # selected, with the members' mean score.
            selection = (
                Selection(
                    step=max(s.step for s in chosen),
                    val_crps=sum(s.val_crps for s in chosen) / len(chosen),
                )
                if chosen
                else None
            )
        return Checkpoint(
            config=self.config,
            step=step,
            generator=generator,
            discriminator=_named([m.disc.state_dict() for m in self.members], ""),
            features=self.features,
            dataset=self.dataset,
            seq_len=self.seq_len,
            freq=self.freq,
            selection=selection,
        )
