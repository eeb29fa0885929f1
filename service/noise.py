"""Counter-based Gaussian noise: value `j` of series `i` depends only on `(seed, i, j)`.

A SplitMix64 hash (Steele et al., "Fast splittable pseudorandom number generators", OOPSLA 2014)
of the counter `i * 2**32 + j`, keyed by the seed, feeds a Box–Muller transform. Being
counter-based, it is vectorised over any block of series, and series `i` is the same whatever
`n`/`offset` a request used; a longer series extends a shorter one (value `j = t * latent_dim + k`).
"""

from __future__ import annotations

import numpy as np

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_MAX_SEED = 2**63 - 1
_SERIES_STRIDE = 2**32


def _mix64(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def _seed_key(seed: int) -> np.uint64:
    if not 0 <= seed <= _MAX_SEED:
        raise ValueError(f"seed must be in [0, {_MAX_SEED}]")
    return _mix64(np.array([seed], dtype=np.uint64) + _GAMMA)[0]


def series_noise(seed: int, start: int, count: int, length: int, latent_dim: int) -> np.ndarray:
    """Standard normal noise of shape (count, length, latent_dim), float32, for series
    `start … start+count-1` of the stream keyed by `seed`."""
    per_series = length * latent_dim
    if per_series >= _SERIES_STRIDE:
        raise ValueError("length × latent_dim must stay below 2**32")
    key = _seed_key(seed)
    with np.errstate(over="ignore"):
        series = np.arange(start, start + count, dtype=np.uint64)[:, None]
        offsets = np.arange(per_series, dtype=np.uint64)[None, :]
        counters = series * np.uint64(_SERIES_STRIDE) + offsets
        bits = _mix64(key + counters * _GAMMA)
    # Two 32-bit uniforms in (0, 1) from each 64-bit word, then Box–Muller (cosine branch).
    # float32 throughout: numpy's float32 log/cos are correctly rounded enough and twice as fast.
    halves = bits.view(np.uint32).reshape(count, per_series, 2).astype(np.float32)
    u1 = (halves[..., 1] + np.float32(0.5)) * np.float32(1.0 / 2**32)
    u2 = (halves[..., 0] + np.float32(0.5)) * np.float32(1.0 / 2**32)
    normal = np.sqrt(np.float32(-2.0) * np.log(u1)) * np.cos(np.float32(2.0 * np.pi) * u2)
    return normal.reshape(count, length, latent_dim)
