"""Series ids past 2**32: unique streams, and today's bytes for every id below it."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from rnngan.core.noise import series_noise, series_uniforms

BLOCK = 2**32


@pytest.mark.parametrize("i", [0, 5, BLOCK - 1])
def test_series_one_block_apart_differ(i: int) -> None:
    a = series_noise(3, i, 1, 8, 2)
    b = series_noise(3, i + BLOCK, 1, 8, 2)
    c = series_noise(3, i + 2 * BLOCK, 1, 8, 2)
    assert not np.array_equal(a, b)
    assert not np.array_equal(b, c)
    ua, ub = series_uniforms(3, 1, i, 1, 8, 2), series_uniforms(3, 1, i + BLOCK, 1, 8, 2)
    assert not np.array_equal(ua, ub)


def test_blocks_are_independent_of_offset_and_count() -> None:
    across = series_noise(9, BLOCK - 2, 4, 6, 3)  # two series each side of the boundary
    np.testing.assert_array_equal(across[:2], series_noise(9, BLOCK - 2, 2, 6, 3))
    np.testing.assert_array_equal(across[2:], series_noise(9, BLOCK, 2, 6, 3))
    assert abs(float(series_noise(9, 2**40, 500, 24, 4).std()) - 1.0) < 0.02


def test_ids_below_two_to_the_32_keep_their_bytes() -> None:
    # Pinned before series blocks existed: the ids served today must not change.
    x = series_noise(11, BLOCK - 3, 3, 5, 2)
    assert hashlib.sha256(x.tobytes()).hexdigest() == PINNED


def test_series_ids_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="series ids"):
        series_noise(1, 2**63, 1, 1, 1)


PINNED = "0034a97dd425e87ddae85bc855e7e798f8cd5b42314c97e19fc1583ac047a486"
