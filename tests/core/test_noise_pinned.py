"""The noise behind every data set is pinned: value j of series i for a seed must never change,
or every data set anyone fetched before would silently change too."""

from __future__ import annotations

import hashlib

import numpy as np

from rnngan.core.noise import series_noise


def test_series_noise_first_values_are_pinned() -> None:
    expected = [
        [[-0.54191279, -1.35498488, 0.02152289], [0.80974096, -0.63227326, 1.71790791]],
        [[-1.16095161, 1.27321029, -0.10302727], [-0.47844958, 0.61515427, -0.82423073]],
    ]
    np.testing.assert_allclose(series_noise(1, 0, 2, 2, 3), expected, rtol=0, atol=1e-8)


def test_series_noise_largest_seed_and_offset_are_pinned() -> None:
    # Series 2**40 is in block 256 (its own key); before blocks it wrapped onto series 0, whose
    # values were pinned here: [-0.41160503, -1.31113791, 0.50162172, -0.36414471].
    expected = [[[-0.47390246, -0.17575964, -0.42435518, 1.25175893]]]
    np.testing.assert_allclose(series_noise(2**63 - 1, 2**40, 1, 1, 4), expected, atol=1e-8)


def test_series_noise_block_bytes_are_pinned() -> None:
    block = series_noise(7, 123456, 3, 24, 4)
    assert hashlib.sha256(block.tobytes()).hexdigest() == (
        "8e9aab88fe29b5405e50a78c5e3a5b618d149afc2f57c817fbb63f9129c80d45"
    )
