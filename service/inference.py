"""Model calls in numpy: noise in, real-unit arrays out. No FastAPI here, so the CLI, the
routes, the stream (service/streaming.py) and the benchmarks share it. Requests reach it
checked: service/plans.py decides every limit first."""

from __future__ import annotations

import numpy as np

from rnngan.core.noise import series_noise
from rnngan.core.tables.codec import Decoded
from rnngan.core.tables.sample import synthesize
from service.errors import InvalidInput
from service.plans import TablePlan
from service.registry import LoadedModel

# Sample k of forecast series j uses noise stream position j * _SAMPLES_STRIDE + k, so a
# series' samples do not depend on the other series in the request or on num_samples.
_SAMPLES_STRIDE = 2**24
# A series' paths, when they need several calls, go in chunks of a multiple of this: an
# exported ensemble (training/networks_forecast.py EnsembleGraph, K = 2 or 3 members) draws path
# i of a call from member i mod K, so chunks starting at multiples of K keep each path's member
# (and its values) whatever max_call_rows is. 12: a multiple of 1, 2, 3, 4 and 6.
_PATH_CHUNK = 12


def generate(
    model: LoadedModel, *, n: int, length: int, seed: int, offset: int = 0, batched: bool = True
) -> np.ndarray:
    """Series `offset … offset+n-1` of `seed`'s stream, shape (n, length, F), float32, in calls
    of at most `max_call_rows` series (rows are independent: the same values in one call).
    `batched=False` calls the session directly instead of through the micro-batcher."""
    step = model.max_call_rows
    parts = []
    for first in range(offset, offset + n, step):
        count = min(step, offset + n - first)
        noise = series_noise(seed, first, count, length, model.manifest.latent_dim)
        parts.append(np.asarray(model.run({"noise": noise}, batched=batched), dtype=np.float32))
    out = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return finite(out, model)


def forecast_samples(
    model: LoadedModel,
    histories: np.ndarray,
    *,
    horizon: int,
    num_samples: int,
    seed: int,
    offset: int = 0,
    covariates: np.ndarray | None = None,
) -> np.ndarray:
    """Sample paths of shape (S, num_samples, horizon) for histories of shape (S, context_len)
    (a short history NaN-padded on the left, models with `min_history`),
    computed in calls of at most `max_call_rows` generator rows (series × sample paths; at least
    `_PATH_CHUNK` paths when a series' paths are chunked), so a request at the limits holds a
    bounded working set; the paths are the same in any chunking.
    Series j draws the noise of position `offset + j` (a panel split into requests).
    `covariates` (S, context_len + horizon, K): for models that read them (service/plans/).

    The graph scales each history in float32. A history too large for that (|x| > 1e15: its
    squares overflow) is first standardised here in float64 and its paths scaled back."""
    n_series, _ = histories.shape
    latent = model.manifest.latent_dim
    step = model.max_call_rows
    histories, loc, scale = _float32_safe(histories)
    paths = np.empty((n_series, num_samples, horizon), dtype=np.float32)
    # Whole series per call while their paths fit in one; else one series in path chunks.
    series_per_call = max(1, step // num_samples)
    if num_samples <= step:
        path_step = num_samples
    else:
        path_step = max(_PATH_CHUNK, step - step % _PATH_CHUNK)
    for j0 in range(0, n_series, series_per_call):
        j1 = min(n_series, j0 + series_per_call)
        for k0 in range(0, num_samples, path_step):
            k1 = min(num_samples, k0 + path_step)
            noise = np.stack(
                [
                    series_noise(
                        seed, (offset + j) * _SAMPLES_STRIDE + k0, k1 - k0, horizon, latent
                    )
                    for j in range(j0, j1)
                ]
            )  # (s, k, H, L)
            inputs = {"history": histories[j0:j1], "noise": noise}
            if covariates is not None:
                inputs["covariates"] = covariates[j0:j1]
            out = model.run(inputs)
            paths[j0:j1, k0:k1] = np.asarray(out, dtype=np.float32)
    if loc is not None and scale is not None:
        with np.errstate(over="ignore"):
            paths = (paths * scale[:, None, None] + loc[:, None, None]).astype(np.float32)
    return finite(paths, model)


# Above this magnitude a float32 history's squared deviations can overflow in the graph.
_FLOAT32_SAFE = 1e15


def _float32_safe(
    histories: np.ndarray,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(S, C) float32 histories for the graph, with the float64 location and scale of the series
    that had to be standardised first (None when none had to be: today's exact bytes)."""
    big = np.nanmax(np.abs(histories), axis=1) > _FLOAT32_SAFE
    if not big.any():
        return histories.astype(np.float32), None, None
    values = histories.astype(np.float64)  # NaN: the left padding of a short history
    loc = np.where(big, np.nanmean(values, axis=1), 0.0)
    spread = np.nanstd(values, axis=1)
    scale = np.where(big & (spread > 0), spread, 1.0)
    scale = np.where(big & (spread == 0), np.maximum(np.abs(loc), 1.0), scale)
    return ((values - loc[:, None]) / scale[:, None]).astype(np.float32), loc, scale


def finite(values: np.ndarray, model: LoadedModel) -> np.ndarray:
    """The model's output, or InvalidInput when any value is NaN or infinite: an answer of
    nulls with status 200 is never sent."""
    if not np.isfinite(values).all():
        raise InvalidInput(
            f"Model '{model.name}' produced non-finite values for this request (the inputs are "
            "far outside what it was trained on); nothing was returned."
        )
    return values


def summarise(paths: np.ndarray, quantiles: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Mean (S, H) and quantiles (Q, S, H) over the sample axis of (S, N, H) paths."""
    mean = paths.mean(axis=1)
    qs = np.quantile(paths, np.asarray(quantiles, dtype=np.float64), axis=1)
    return mean, qs


# --- models trained on a user's table ---


def table_series(model: LoadedModel, plan: TablePlan, *, seed: int, offset: int, n: int) -> Decoded:
    """Series `offset … offset+n-1` decoded to the user's layout (the session is called
    directly: rows of different requests differ in length and condition)."""

    def run(noise: np.ndarray, condition: np.ndarray) -> np.ndarray:
        out = model.run({"noise": noise, "condition": condition}, batched=False)
        return finite(np.asarray(out), model)

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
