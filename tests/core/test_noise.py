from __future__ import annotations

import numpy as np
import pytest

from rnngan.core.noise import series_noise


def test_noise_series_is_independent_of_offset_and_count() -> None:
    whole = series_noise(7, 0, 50, 24, 4)
    part = series_noise(7, 20, 5, 24, 4)
    np.testing.assert_array_equal(part, whole[20:25])


def test_noise_longer_series_extends_shorter() -> None:
    np.testing.assert_array_equal(
        series_noise(3, 0, 4, 48, 2)[:, :24], series_noise(3, 0, 4, 24, 2)
    )


def test_noise_seeds_differ_and_moments_are_standard_normal() -> None:
    a, b = series_noise(1, 0, 2000, 24, 4), series_noise(2, 0, 2000, 24, 4)
    assert not np.array_equal(a, b)
    assert a.dtype == np.float32 and np.isfinite(a).all()
    assert abs(float(a.mean())) < 0.01
    assert abs(float(a.std()) - 1.0) < 0.01
    assert abs(float(np.corrcoef(a[:, 0, 0], a[:, 1, 0])[0, 1])) < 0.05


def test_noise_negative_seed_is_rejected() -> None:
    with pytest.raises(ValueError, match="seed must be in"):
        series_noise(-1, 0, 1, 1, 1)
