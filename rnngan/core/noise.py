"""Counter-based Gaussian noise: value `j` of series `i` depends only on `(seed, i, j)`.

A SplitMix64 hash (Steele et al., "Fast splittable pseudorandom number generators", OOPSLA 2014)
of the counter `(i mod 2**32) * 2**32 + j`, keyed by the seed, feeds a Box–Muller transform.
Series at or past 2**32 (`i >> 32 = b > 0`) use the key of block `b`, a SplitMix64 of the seed's
key and `b`, so series `i` and `i + 2**32` differ while every series below 2**32 keeps the bytes
it had. Being counter-based, it is vectorised over any block of series, and series `i` is the
same whatever `n`/`offset` a request used; a longer series extends a shorter one (value
`j = t * latent_dim + k`).
"""

from __future__ import annotations

import numpy as np

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_MAX_SEED = 2**63 - 1
_SERIES_STRIDE = 2**32
_MAX_SERIES = 2**63  # series ids: blocks of 2**32 series, each with its own key
_BLOCK_SALT = np.uint64(0xD1B54A32D192ED03)


def _mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser, in place on a uint64 array (no temporaries of its size)."""
    z ^= z >> np.uint64(30)
    z *= _M1
    z ^= z >> np.uint64(27)
    z *= _M2
    z ^= z >> np.uint64(31)
    return z


def _seed_key(seed: int) -> np.uint64:
    if not 0 <= seed <= _MAX_SEED:
        raise ValueError(f"seed must be in [0, {_MAX_SEED}]")
    return _mix64(np.array([seed], dtype=np.uint64) + _GAMMA)[0]


def _block_keys(key: np.uint64, series: np.ndarray) -> np.ndarray | np.uint64:
    """The key for each series: `key` below 2**32, else a SplitMix64 of `key` and the block
    `i >> 32`, so that the counter's wrap at 2**32 series cannot repeat a stream."""
    block = series >> np.uint64(32)
    if not block.any():
        return key  # the common case, and every series id before this scheme: unchanged
    with np.errstate(over="ignore"):
        mixed = _mix64((key ^ _BLOCK_SALT) + block * _GAMMA)
    return np.where(block == 0, key, mixed)


def _counter_bits(key: np.uint64, start: int, count: int, per_series: int) -> np.ndarray:
    """SplitMix64 of the counters `(i mod 2**32) * 2**32 + j` keyed by the block key of each
    series `i`: (count, per_series) uint64."""
    if per_series >= _SERIES_STRIDE:
        raise ValueError("values per series must stay below 2**32")
    if start < 0 or start + count > _MAX_SERIES:
        raise ValueError(f"series ids must be in [0, {_MAX_SERIES})")
    # In place on one (count, per_series) uint64 array, ~2.5× faster than the same arithmetic
    # with a temporary per step; the values are identical (tests/core/test_noise.py).
    with np.errstate(over="ignore"):
        series = np.arange(start, start + count, dtype=np.uint64)[:, None]
        keys = _block_keys(key, series)
        bits = series * np.uint64(_SERIES_STRIDE) + np.arange(per_series, dtype=np.uint64)
        bits *= _GAMMA  # the counter (i mod 2**32) * 2**32 + j, spread by the golden gamma
        bits += keys
        _mix64(bits)
    return bits


def series_noise(seed: int, start: int, count: int, length: int, latent_dim: int) -> np.ndarray:
    """Standard normal noise of shape (count, length, latent_dim), float32, for series
    `start … start+count-1` of the stream keyed by `seed`."""
    per_series = length * latent_dim
    bits = _counter_bits(_seed_key(seed), start, count, per_series)
    # Two 32-bit uniforms in (0, 1) from each 64-bit word, then Box–Muller (cosine branch).
    # float32 throughout: numpy's float32 log/cos are correctly rounded enough and twice as fast.
    halves = bits.view(np.uint32).reshape(count, per_series, 2)
    radius = halves[..., 1].astype(np.float32)  # u1 = (h + 0.5) / 2**32
    radius += np.float32(0.5)
    radius *= np.float32(1.0 / 2**32)
    np.log(radius, out=radius)
    radius *= np.float32(-2.0)
    np.sqrt(radius, out=radius)  # sqrt(-2 ln u1)
    angle = halves[..., 0].astype(np.float32)  # u2 = (h + 0.5) / 2**32
    angle += np.float32(0.5)
    angle *= np.float32(1.0 / 2**32)
    angle *= np.float32(2.0 * np.pi)
    np.cos(angle, out=angle)
    radius *= angle
    return radius.reshape(count, length, latent_dim)


def series_uniforms(
    seed: int, stream: int, start: int, count: int, length: int, width: int
) -> np.ndarray:
    """Uniforms in (0, 1) of shape (count, length, width), float64, for series `start …` of a
    side stream (`stream` ≥ 1) keyed by `seed`: independent of the Gaussian noise and of each
    other stream, and, like it, the same for series `i` whatever the request's `n`/`offset`."""
    if stream < 1:
        raise ValueError("side streams are numbered from 1 (0 is the Gaussian noise)")
    key = _mix64(np.array([_seed_key(seed) ^ np.uint64(stream)], dtype=np.uint64))[0]
    bits = _counter_bits(key, start, count, max(1, length * width))
    u = ((bits >> np.uint64(11)).astype(np.float64) + 0.5) * (1.0 / 2**53)
    return u[:, : length * width].reshape(count, length, width)
