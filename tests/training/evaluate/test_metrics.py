"""The metrics themselves (docs/quality.md): a floor near 0, noise far from it, and a
time-shuffled copy clearly worse than the real data. Fewer classifier steps than the benchmark
(2,000 / 5,000) keep these fast; the direction of each check does not depend on that."""

from __future__ import annotations

import numpy as np
import pytest

from training.data.series import sines
from training.evaluate.generation import (
    autocorrelation_error,
    cross_correlation_error,
    discriminative_score,
    predictive_score,
)
from training.evaluate.scores import LEVELS, pinball, score


@pytest.fixture(scope="module")
def real() -> tuple[np.ndarray, np.ndarray]:
    return sines(2000, 24, seed=1), sines(2000, 24, seed=2)


def test_metrics_real_vs_real_discriminative_is_near_zero(real) -> None:  # type: ignore[no-untyped-def]
    a, b = real
    assert discriminative_score(a, b, steps=600, seed=0) < 0.05


def test_metrics_real_vs_noise_discriminative_is_high(real) -> None:  # type: ignore[no-untyped-def]
    a, _ = real
    noise = np.random.default_rng(0).random(a.shape, dtype=np.float32)
    assert discriminative_score(a, noise, steps=600, seed=0) > 0.4


def test_metrics_time_shuffled_is_clearly_worse_than_real(real) -> None:  # type: ignore[no-untyped-def]
    a, b = real
    rng = np.random.default_rng(0)
    shuffled = b[:, rng.permutation(b.shape[1]), :]
    floor = discriminative_score(a, b, steps=600, seed=0)
    assert discriminative_score(a, shuffled, steps=600, seed=0) > floor + 0.2
    assert autocorrelation_error(a, shuffled) > 5 * autocorrelation_error(a, b)


def test_metrics_predictive_real_beats_noise(real) -> None:  # type: ignore[no-untyped-def]
    a, b = real
    noise = np.random.default_rng(0).random(a.shape, dtype=np.float32)
    assert predictive_score(b, a, steps=400, seed=0) < 0.5 * predictive_score(
        noise, a, steps=400, seed=0
    )


def test_metrics_predictive_score_works_on_one_feature(real) -> None:  # type: ignore[no-untyped-def]
    """Univariate data: the feature's own past predicts its next value."""
    a, b = real
    one, other = a[..., :1], b[..., :1]
    noise = np.random.default_rng(0).random(one.shape, dtype=np.float32)
    assert predictive_score(other, one, steps=2000, seed=0) < 0.5 * predictive_score(
        noise, one, steps=2000, seed=0
    )


def test_metrics_cross_correlation_error_detects_decorrelation() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(size=(500, 24, 1))
    correlated = np.concatenate([base, base + 0.1 * rng.normal(size=base.shape)], axis=2)
    independent = rng.normal(size=correlated.shape)
    assert cross_correlation_error(correlated, correlated) == pytest.approx(0.0, abs=1e-12)
    assert cross_correlation_error(correlated, independent) > 0.9


def test_metrics_crps_of_point_forecast_is_its_mae() -> None:
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(10, 6))
    point = truth + rng.normal(size=truth.shape)
    quantiles = np.repeat(point[None], len(LEVELS), axis=0)
    scores = score(truth, quantiles, point, scale=2.0)
    assert scores["crps"] == pytest.approx(np.mean(np.abs(truth - point)) / 2.0)
    assert scores["mase"] == pytest.approx(np.mean(np.abs(truth - point)) / 2.0)


def test_metrics_pinball_is_zero_for_perfect_quantiles() -> None:
    truth = np.ones((3, 4))
    assert pinball(truth, np.ones((len(LEVELS), 3, 4)), LEVELS) == 0.0


def test_spread_calibration_widens_narrow_paths_and_matches_scaling_every_path() -> None:
    """fit_spread scales the quantiles once instead of every path: the same factor as scoring
    median + c × (paths − median) for each c, and a model twice too narrow is widened to ~2."""
    from training.evaluate.versus import SPREAD_GRID, block_from_paths, fit_spread

    def by_paths(paths: np.ndarray, truth: np.ndarray) -> float:
        median = np.median(paths, axis=1, keepdims=True)
        keys = []
        for c in SPREAD_GRID:
            b = block_from_paths(median + c * (paths - median), truth)
            keys.append((round(abs(float(np.mean(b["cov"])) - 0.8), 3), float(np.mean(b["crps"]))))
        return round(float(SPREAD_GRID[min(range(len(keys)), key=keys.__getitem__)]), 4)

    rng = np.random.default_rng(0)
    truth = 2.0 * rng.standard_normal((300, 12))
    paths = rng.standard_normal((300, 200, 12))  # half the truth's spread
    factor = fit_spread(paths, truth)
    assert 1.8 <= factor <= 2.2
    assert factor == by_paths(paths, truth)
    shifted = paths + 0.5 * rng.standard_normal((300, 1, 12))
    assert fit_spread(shifted, truth) == by_paths(shifted, truth)


def test_spread_calibration_reaches_paths_far_too_narrow() -> None:
    """A short trending series leaves sample paths nearly deterministic (the README's
    AirPassengers needed ~26): a model 20 times too narrow is widened to ~20, and the grid keeps
    the old 0.25 … 4 factors, so a model inside that range gets the factor it had."""
    from training.evaluate.versus import SPREAD_GRID, fit_spread

    rng = np.random.default_rng(0)
    truth = 20.0 * rng.standard_normal((300, 12))
    paths = rng.standard_normal((300, 200, 12))
    assert 18.0 <= fit_spread(paths, truth) <= 22.0
    old = np.exp(np.linspace(np.log(0.25), np.log(4.0), 57))
    assert np.allclose(SPREAD_GRID[56:113], old, rtol=1e-12)
    assert SPREAD_GRID[0] == pytest.approx(1 / 64) and SPREAD_GRID[-1] == pytest.approx(64.0)
