"""Model calls in numpy: noise in, real-unit arrays out. No FastAPI here, so the CLI, the
routes, the stream (service/streaming.py) and the benchmarks share it. Requests reach it
checked: service/plans.py decides every limit first."""

from __future__ import annotations

import numpy as np

from rnngan.core.noise import series_noise
from rnngan.core.tables.codec import Decoded
from rnngan.core.tables.sample import synthesize
from service.plans import TablePlan
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


# --- models trained on a user's table ---


def table_series(model: LoadedModel, plan: TablePlan, *, seed: int, offset: int, n: int) -> Decoded:
    """Series `offset … offset+n-1` decoded to the user's layout (the session is called
    directly: rows of different requests differ in length and condition)."""
    outputs = model.manifest.onnx.outputs

    def run(noise: np.ndarray, condition: np.ndarray) -> np.ndarray:
        (out,) = model.session.run(outputs, {"noise": noise, "condition": condition})
        return np.asarray(out)

    return synthesize(
        plan.spec,
        run,
        latent_dim=model.manifest.latent_dim,
        n=n,
        seed=seed,
        offset=offset,
        length=plan.length,
        condition=plan.condition,
        start=plan.start,
        impute=plan.impute,
    )
