"""A cheap validation score for generators, for checkpoint selection and early stopping
(`train.select_every`, `train.patience`): how far synthetic windows are from held-out real
windows, lower is better, with no classifier to train.

Per channel, over the observed steps: the distance between the two marginal distributions
(mean absolute difference of 19 quantiles, in units of the real spread), the log ratio of the
spreads (a collapsed generator scores |log 0| → large), the log ratio of the step-to-step
changes (std of first differences over pairs of observed steps: paths smoother or rougher than
real score high), and the autocorrelation error at lags 1 … min(24, T - 1) (a flat or jittery
generator scores high). The four are summed per channel and averaged over channels.
`series_distance` adds the error of the correlations between channels, for multivariate
windows whose channels move together.
"""

from __future__ import annotations

import numpy as np
import torch

from training.evaluate.metrics import cross_correlation_error

_QUANTILES = np.linspace(0.05, 0.95, 19)
_EPS = 1e-6


def _acf(x: np.ndarray, valid: np.ndarray, lags: int) -> np.ndarray:
    """Mean autocorrelation over windows of one channel, (lags,); x and valid (N, T)."""
    z = np.where(valid, x, np.nan)
    z = z - np.nanmean(z, axis=1, keepdims=True)
    z = np.nan_to_num(z / (np.nanstd(z, axis=1, keepdims=True) + _EPS))
    return np.array([np.mean(z[:, k:] * z[:, :-k]) for k in range(1, lags + 1)])


def held_out(n: int, seed: int, cap: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(validation, training) indices of n windows: a fixed tenth (at least one, at most `cap`)
    held out for selection, the rest to train on; (None, None) when there are fewer than 2."""
    if n < 2:
        return None, None
    order = torch.from_numpy(np.random.default_rng(seed).permutation(n))
    held = max(1, min(cap, n // 10))
    return order[:held], order[held:]


def batch_indices(
    n: int, train_idx: torch.Tensor | None, batch_size: int, rng: torch.Generator
) -> torch.Tensor:
    """A batch of window indices drawn uniformly from all n windows, or from `train_idx` when
    some are held out."""
    if train_idx is None:
        return torch.randint(0, n, (batch_size,), generator=rng)
    return train_idx[torch.randint(0, len(train_idx), (batch_size,), generator=rng)]


def window_distance(
    real: np.ndarray, fake: np.ndarray, valid: np.ndarray, rough: list[int] | None = None
) -> float:
    """real, fake (N, T, D) model channels and valid (N, T) observed steps -> the score.
    `rough`: the channels whose step-to-step change is compared (all when None; discrete
    channels' roughness belongs to the sampler, not the model)."""
    lags = min(24, real.shape[1] - 1)
    mask = valid.astype(bool)
    if not mask.any():
        return float("inf")
    scores = []
    for d in range(real.shape[2]):
        r, f = real[:, :, d][mask], fake[:, :, d][mask]
        spread = float(np.std(r)) + _EPS
        marginal = float(np.mean(np.abs(np.quantile(r, _QUANTILES) - np.quantile(f, _QUANTILES))))
        score = marginal / spread + abs(float(np.log((np.std(f) + _EPS) / spread)))
        pairs = mask[:, 1:] & mask[:, :-1]
        if pairs.any() and (rough is None or d in rough):
            rough_r = float(np.std(np.diff(real[:, :, d], axis=1)[pairs])) + _EPS
            rough_f = float(np.std(np.diff(fake[:, :, d], axis=1)[pairs])) + _EPS
            score += abs(float(np.log(rough_f / rough_r)))
        if lags >= 1:
            acf_r = _acf(real[:, :, d], mask, lags)
            acf_f = _acf(fake[:, :, d], mask, lags)
            score += float(np.mean(np.abs(acf_r - acf_f)))
        scores.append(score)
    return float(np.mean(scores))


def series_distance(real: np.ndarray, fake: np.ndarray) -> float:
    """Fully observed (N, T, F) windows: `window_distance` plus the mean error of the
    correlations between channels (a generator that gets each channel right on its own but not
    how they move together scores high)."""
    valid = np.ones(real.shape[:2], dtype=bool)
    return window_distance(real, fake, valid) + cross_correlation_error(real, fake)
