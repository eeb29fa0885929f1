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
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rnngan.core.manifest import DatasetInfo
from training.checkpoint import Checkpoint, KeptBest
from training.config import RunConfig
from training.data.table_forecast import left_pad
from training.distributed import current
from training.evaluate.versus import (
    block_from_paths,
    geometric_mean,
    point_block,
    seasonal_naive_point,
    series_ratio,
)
from training.families.base import covariate_columns
from training.loop import Trainer
from training.networks import ema_update
from training.networks_forecast import (
    PanelDiscriminator,
    PanelForecastGraph,
    PanelGenerator,
    check_shape,
    encoder_patch,
    fair_crps,
    mix_share,
    mix_windows,
)

__all__ = ["PanelForecastGraph", "PanelGenerator", "check_shape"]
log = logging.getLogger("rnngan.train")

PATHS = 8  # sample paths per training window (the sample CRPS)
# `data.short_histories`: share of training windows whose history is cut to a random length
# between one season and context_len (the model forecasts series shorter than its context)
SHORT_SHARE = 0.25
# Moving average of the generator's weights, updated every step; validation scores, selects and
# exports it (lower MASE and CRPS ratios on every bench-panel panel, less spread between seeds)
EMA_DECAY = 0.995
SELECT_MAX_WINDOWS = 2000  # validation windows scored per selection (an even subsample beyond)


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
    """True for this forecaster's weights (the ForGAN-class v1 generator has no `init`)."""
    return any(k.startswith("init.") for k in state)


# --- validation: per-series scores and the seasonal-naive ratios ---


@dataclass(frozen=True)
class Validation:
    """Validation windows: histories (V, C), truths (V, H), per-window scales (V,) (the series'
    seasonal-naive MAE on its train part), series ids (V,) and, for a forecaster with
    covariates, theirs (V, C + H, n_cov)."""

    histories: np.ndarray
    truth: np.ndarray
    scales: np.ndarray
    series: np.ndarray
    covariates: np.ndarray | None = None

    def subsample(self, limit: int) -> Validation:
        if len(self.histories) <= limit:
            return self
        keep = np.linspace(0, len(self.histories) - 1, limit).round().astype(int)
        cov = self.covariates[keep] if self.covariates is not None else None
        return Validation(
            self.histories[keep], self.truth[keep], self.scales[keep], self.series[keep], cov
        )


def _series_means(series: np.ndarray, values: np.ndarray) -> np.ndarray:
    _, inv = np.unique(series, return_inverse=True)
    return np.bincount(inv, values) / np.bincount(inv)


def _geo(model: np.ndarray, base: np.ndarray) -> float:
    """The verdict's bounded mean (versus.py): an exact seasonal naive blocks no checkpoint."""
    return geometric_mean(series_ratio(model, base))


class Selector:
    """Checkpoint selection on validation (see the module docstring)."""

    def __init__(
        self, config: RunConfig, graph: PanelForecastGraph, validation: Validation
    ) -> None:
        self.config, self.graph = config, graph
        self.v = validation.subsample(SELECT_MAX_WINDOWS)
        if len(self.v.histories) < len(validation.histories):
            log.info(
                "checkpoint selection scores %d of %d validation windows (evenly spaced)",
                len(self.v.histories),
                len(validation.histories),
            )
        d = config.data
        s = self.v.scales[:, None]
        self.truth = self.v.truth / s
        point = seasonal_naive_point(self.v.histories, d.horizon, d.season) / s
        self.sn_mase = _series_means(self.v.series, point_block(point, self.truth)["err"])
        self.kept = KeptBest()
        self.history: list[dict[str, float]] = []

    @torch.no_grad()
    def score(self) -> tuple[float, float]:
        d, m = self.config.data, self.config.model
        g = torch.Generator().manual_seed(self.config.seed + 4242)
        n = max(2, self.config.train.select_samples)
        was = self.graph.training
        self.graph.eval()
        paths = []
        for a in range(0, len(self.v.histories), 512):
            hist = torch.from_numpy(np.asarray(self.v.histories[a : a + 512], dtype=np.float32))
            noise = torch.randn(len(hist), n, d.horizon, m.latent_dim, generator=g)
            if self.v.covariates is None:
                paths.append(self.graph(hist, noise).double().numpy())
            else:
                cov = torch.from_numpy(self.v.covariates[a : a + 512])
                paths.append(self.graph(hist, noise, cov).double().numpy())
        self.graph.train(was)
        p = np.concatenate(paths) / self.v.scales[:, None, None]
        b = block_from_paths(p, self.truth)
        mase_ratio = _geo(_series_means(self.v.series, b["err"]), self.sn_mase)
        crps_ratio = _geo(_series_means(self.v.series, b["crps"]), self.sn_mase)
        return mase_ratio, crps_ratio

    def __call__(self, step: int) -> float:
        mase_ratio, crps_ratio = self.score()
        self.history.append(
            {"step": step, "val_mase_ratio": mase_ratio, "val_crps_ratio": crps_ratio}
        )
        eligible = mase_ratio <= 1.0 or step == 0
        if eligible:
            self.kept.offer(crps_ratio, step, self.graph.generator)
        return crps_ratio


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
        least = min_span or span
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


class PanelTrainer(Trainer):
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
        self.graph = PanelForecastGraph(build_generator(config))
        if covariate_stats is not None:  # buffers: they travel in the checkpoint and the graph
            self.graph.generator.cov_loc.copy_(torch.from_numpy(covariate_stats[0]))
            self.graph.generator.cov_scale.copy_(torch.from_numpy(covariate_stats[1]))
        self.disc = build_discriminator(config)
        # What validation scores and export writes: the weights' moving average (EMA_DECAY)
        self.ema = copy.deepcopy(self.graph).requires_grad_(False)
        # Data-parallel (training/distributed.py): the paths (through z_paths) and the
        # discriminator under DDP, each rank on its block of the global batch.
        self.shard = current()
        self.paths = self.shard.wrap(self.graph, through=PanelForecastGraph.z_paths)
        self.judge = self.shard.wrap(self.disc)
        t = config.train
        self.opt_g = torch.optim.Adam(self.graph.parameters(), lr=t.lr_g, betas=(0.5, 0.9))
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=t.lr_d, betas=(0.5, 0.9))
        self.total_steps = t.steps
        self.mix = mix_share(data.n_windows) if data.covs is None else 0.0  # TSMixup's share
        log.info("%.0f %% of each batch's windows mixed (TSMixup)", 100 * self.mix)
        self.selector = Selector(config, self.ema, validation) if t.select_every else None
        if self.selector is not None:
            self.selector(0)  # step 0 is the seasonal naive: always a candidate

    def step(self) -> dict[str, float]:
        c, d = self.config, self.config.data
        t, s = c.train, d.season
        w, cov = self.data.batch(self.rng, t.batch_size)  # the global batch, alike on every rank
        # Scaled and mixed on the global batch: a window's partner may be another rank's
        z = mix_windows(w, d.context_len, s, self.mix, self.rng)
        z, cov = self.shard.take(z), (self.shard.take(cov) if cov is not None else None)
        zh, zf = z[:, : d.context_len], z[:, d.context_len :]
        covz = self.graph.generator.scale_cov(cov) if cov is not None else None
        noise = torch.randn(t.batch_size, PATHS, d.horizon, c.model.latent_dim, generator=self.rng)
        x = self.paths(zh, self.shard.take(noise), covz)  # (B, K, H)
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

    def validate(self, step: int) -> float | None:
        return self.selector(step) if self.selector is not None else None

    def checkpoint(self, step: int) -> Checkpoint:
        generator, selection = self.ema.generator.state_dict(), None
        if self.selector is not None:
            generator, selection = self.selector.kept.weights(generator)
        return Checkpoint(
            config=self.config,
            step=step,
            generator=generator,
            discriminator=self.disc.state_dict(),
            features=self.features,
            dataset=self.dataset,
            seq_len=self.seq_len,
            freq=self.freq,
            selection=selection,
        )

    def selection_history(self) -> list[dict[str, Any]]:
        return self.selector.history if self.selector is not None else []
