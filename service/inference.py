"""Model calls in numpy: noise in, real-unit arrays out. No FastAPI here, so the CLI, the
routes and the benchmarks share it."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from service.noise import series_noise
from service.registry import LoadedModel

# Sample k of forecast series j uses noise stream position j * _SAMPLES_STRIDE + k, so a
# series' samples do not depend on the other series in the request or on num_samples.
_SAMPLES_STRIDE = 2**24


def generate(
    model: LoadedModel, *, n: int, length: int, seed: int, offset: int = 0, batched: bool = True
) -> np.ndarray:
    """Series `offset … offset+n-1` of `seed`'s stream, shape (n, length, F), float32.
    `batched=False` calls the session directly instead of through the micro-batcher."""
    noise = series_noise(seed, offset, n, length, model.manifest.latent_dim)
    if batched:
        samples = model.run({"noise": noise})
    else:
        (samples,) = model.session.run(model.manifest.onnx.outputs, {"noise": noise})
    return np.asarray(samples, dtype=np.float32)


def generate_chunks(
    model: LoadedModel, *, n: int, length: int, seed: int, offset: int, chunk_series: int
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (first series id, (k, length, F) block) in bounded chunks.

    A chunk is a full batch already, so it goes to the session directly, not through the
    micro-batcher: queued there, a small /samples call would wait behind a whole chunk (p90
    0.2-0.7 s instead of ~11 ms while a download ran, measured on 2 busy cores)."""
    for start in range(offset, offset + n, chunk_series):
        count = min(chunk_series, offset + n - start)
        yield start, generate(model, n=count, length=length, seed=seed, offset=start, batched=False)


def forecast_samples(
    model: LoadedModel, histories: np.ndarray, *, horizon: int, num_samples: int, seed: int
) -> np.ndarray:
    """Sample paths of shape (S, num_samples, horizon) for histories of shape (S, context_len)."""
    n_series, _ = histories.shape
    latent = model.manifest.latent_dim
    noise = np.stack(
        [
            series_noise(seed, j * _SAMPLES_STRIDE, num_samples, horizon, latent)
            for j in range(n_series)
        ]
    )  # (S, N, H, L)
    paths = model.run({"history": histories.astype(np.float32), "noise": noise})
    return np.asarray(paths, dtype=np.float32)


def summarise(paths: np.ndarray, quantiles: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Mean (S, H) and quantiles (Q, S, H) over the sample axis of (S, N, H) paths."""
    mean = paths.mean(axis=1)
    qs = np.quantile(paths, np.asarray(quantiles, dtype=np.float64), axis=1)
    return mean, qs
