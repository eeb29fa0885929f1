"""Quality metrics for generators (docs/quality.md, after TimeGAN's metrics code, kept apart from
the models); `rnngan evaluate --run runs/sines` (training/evaluate/run.py) writes them to
`<run_dir>/metrics.json`.

- discriminative score: a post-hoc 1-layer GRU (hidden F/2) learns real vs synthetic on 80 % of
  an equal mix for 2,000 steps; score = |test accuracy - 0.5| (lower is better).
- predictive score (train on synthetic, test on real): a 1-layer GRU (hidden F/2) learns to
  predict the last feature at t+1 from the other features up to t for 5,000 steps; MAE on real.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from torch import nn

from training.config import RunConfig
from training.data.series import GenerationData, load_generation, sines
from training.evaluate import progress
from training.evaluate.metrics import (
    autocorrelation,
    autocorrelation_error,
    cross_correlation_error,
    discriminative_score,
    predictive_score,
)
from training.evaluate.plots import projection_figure
from training.evaluate.quality import (
    MIN_DISC_RUNS,
    global_disc_check,
    quality_report,
    subsample,
    verdict,
)

__all__ = [
    "autocorrelation",
    "autocorrelation_error",
    "cross_correlation_error",
    "discriminative_score",
    "evaluate_generation",
    "generation_report",
    "predictive_score",
    "report_and_picture",
]

log = logging.getLogger("rnngan.evaluate")


def mean_std(values: list[float]) -> dict[str, float]:
    return {
        "mean": float(np.mean(values)),
        "std": float(np.std(values)),
        "runs": [float(v) for v in values],
    }


def generation_report(
    real: np.ndarray,
    fake: np.ndarray,
    real_other: np.ndarray,
    *,
    runs: int,
    disc_steps: int,
    pred_steps: int,
    batch_size: int,
    seed: int,
) -> dict[str, Any]:
    """Scores of `fake` against `real`, beside the floor of an independent real sample; the
    discriminative score over at least MIN_DISC_RUNS classifier runs."""
    seeds = [seed + r for r in range(runs)]
    disc_seeds = [seed + r for r in range(max(runs, MIN_DISC_RUNS))]
    total = 2 * (len(disc_seeds) * disc_steps + len(seeds) * pred_steps)  # classifier steps
    with progress.stage("scores (disc, pred and their floors)", total):
        return _report(
            real, fake, real_other, seeds, disc_seeds, disc_steps, pred_steps, batch_size
        )


def _report(
    real: np.ndarray,
    fake: np.ndarray,
    real_other: np.ndarray,
    seeds: list[int],
    disc_seeds: list[int],
    disc_steps: int,
    pred_steps: int,
    batch_size: int,
) -> dict[str, Any]:
    return {
        "autocorrelation_error": autocorrelation_error(real, fake),
        "autocorrelation_error_real_floor": autocorrelation_error(real, real_other),
        "cross_correlation_error": cross_correlation_error(real, fake),
        "cross_correlation_error_real_floor": cross_correlation_error(real, real_other),
        "discriminative": mean_std(
            [
                discriminative_score(real, fake, steps=disc_steps, batch_size=batch_size, seed=s)
                for s in disc_seeds
            ]
        ),
        "predictive": mean_std(
            [
                predictive_score(fake, real, steps=pred_steps, batch_size=batch_size, seed=s)
                for s in seeds
            ]
        ),
        "discriminative_real_floor": mean_std(
            [
                discriminative_score(
                    real, real_other, steps=disc_steps, batch_size=batch_size, seed=s
                )
                for s in disc_seeds
            ]
        ),
        "predictive_real_floor": mean_std(
            [
                predictive_score(real_other, real, steps=pred_steps, batch_size=batch_size, seed=s)
                for s in seeds
            ]
        ),
    }


def scored_windows(
    config: RunConfig, data: GenerationData
) -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
    """The real windows a generator is scored on, an independent real sample for the floor,
    and the noise its synthetic windows are drawn from (what `rnngan evaluate` and
    bench-classifier score alike)."""
    if config.data.dataset == "sines":
        # Held out: fresh Sines the model never saw, and a second set for the floor.
        real = sines(config.data.n_series, config.data.seq_len, seed=config.seed + 10_001)
        real_other = sines(config.data.n_series, config.data.seq_len, seed=config.seed + 20_002)
    else:
        rng = np.random.default_rng(config.seed)
        order = rng.permutation(len(data.windows))
        half = len(order) // 2
        real, real_other = data.windows[order[:half]], data.windows[order[half:]]
    g = torch.Generator().manual_seed(config.seed + 7)
    noise = torch.randn(len(real), config.data.seq_len, config.model.latent_dim, generator=g)
    return real, real_other, noise


def evaluate_generation(config: RunConfig, graph: nn.Module) -> dict[str, Any]:
    data = load_generation(config.data, config.seed)
    real, real_other, noise = scored_windows(config, data)
    with torch.no_grad():
        fake = graph.generator(noise).numpy()  # scaled space, as the protocol measures
    return report_and_picture(config, real, fake, real_other, data.features)


def report_and_picture(
    config: RunConfig,
    real: np.ndarray,
    fake: np.ndarray,
    real_other: np.ndarray,
    features: list[str],
    *,
    numeric: list[bool] | None = None,
    extra_checks: list[dict[str, Any]] | None = None,
    max_windows: int | None = None,
) -> dict[str, Any]:
    """`generation_report` with the config's eval settings, the run's projection.png, and the
    quality checks with their verdict (training/evaluate/quality.py) under `quality` and
    `verdict`. `max_windows` subsamples the windows each classifier sees (None: all)."""
    e = config.eval
    projection_figure(
        real, fake, features, config.name, config.run_dir / "projection.png", seed=config.seed
    )
    cap = max_windows or len(real)
    r, f, o = (
        subsample(real, cap, config.seed),
        subsample(fake, cap, config.seed + 1),
        subsample(real_other, cap, config.seed + 2),
    )
    report = generation_report(
        r,
        f,
        o,
        runs=e.runs,
        disc_steps=e.disc_steps,
        pred_steps=e.pred_steps,
        batch_size=e.batch_size,
        seed=config.seed,
    )
    quality = quality_report(
        real,
        fake,
        real_other,
        features,
        numeric=numeric,
        runs=e.runs,
        disc_steps=e.disc_steps,
        batch_size=e.batch_size,
        max_windows=cap,
        seed=config.seed,
        extra_checks=extra_checks,
    )
    quality["checks"].insert(0, global_disc_check(report))
    quality["verdict"] = verdict(quality["checks"])
    report["quality"] = quality
    report["verdict"] = quality["verdict"]
    return report
