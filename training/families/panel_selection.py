"""Checkpoint selection of the default forecaster (training/families/panel_forecast.py): its
validation windows, scored with fixed noise, and the seasonal-naive ratios that decide which
step's weights are kept."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from training.checkpoint import KeptBest
from training.config import RunConfig
from training.evaluate.versus import (
    block_from_paths,
    geometric_mean,
    point_block,
    seasonal_naive_point,
    series_ratio,
)
from training.networks_forecast import PanelForecastGraph

log = logging.getLogger("rnngan.train")

SELECT_MAX_WINDOWS = 2000  # validation windows scored per selection (an even subsample beyond)


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


class SelectionWindows:
    """What every member's selection scores, computed once per run: the validation windows
    (an even subsample past SELECT_MAX_WINDOWS), their truths in scale units and the seasonal
    naive's MAE per series."""

    def __init__(self, config: RunConfig, validation: Validation) -> None:
        self.config = config
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


class Selector:
    """Checkpoint selection on validation for one forecaster (the rule: the docstring of
    training/families/panel_forecast.py)."""

    def __init__(self, graph: PanelForecastGraph, windows: SelectionWindows) -> None:
        self.graph, self.w = graph, windows
        self.kept = KeptBest()

    @torch.no_grad()
    def score(self) -> tuple[float, float]:
        config, v = self.w.config, self.w.v
        d, m = config.data, config.model
        g = torch.Generator().manual_seed(config.seed + 4242)
        n = max(2, config.train.select_samples)
        was = self.graph.training
        self.graph.eval()
        paths = []
        for a in range(0, len(v.histories), 512):
            hist = torch.from_numpy(np.asarray(v.histories[a : a + 512], dtype=np.float32))
            noise = torch.randn(len(hist), n, d.horizon, m.latent_dim, generator=g)
            if v.covariates is None:
                paths.append(self.graph(hist, noise).double().numpy())
            else:
                cov = torch.from_numpy(v.covariates[a : a + 512])
                paths.append(self.graph(hist, noise, cov).double().numpy())
        self.graph.train(was)
        p = np.concatenate(paths) / v.scales[:, None, None]
        b = block_from_paths(p, self.w.truth)
        mase_ratio = _geo(_series_means(v.series, b["err"]), self.w.sn_mase)
        crps_ratio = _geo(_series_means(v.series, b["crps"]), self.w.sn_mase)
        return mase_ratio, crps_ratio

    def __call__(self, step: int) -> float:
        mase_ratio, crps_ratio = self.score()
        eligible = mase_ratio <= 1.0 or step == 0
        if eligible:
            self.kept.offer(crps_ratio, step, self.graph.generator)
        return crps_ratio
