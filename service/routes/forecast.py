"""Probabilistic forecasts: POST /v1/models/{name}/forecast."""

from __future__ import annotations

from datetime import datetime

import numpy as np
from fastapi import APIRouter, Depends

from service.deps import AppState, app_state, lookup
from service.errors import InvalidInput, TooLarge, error_responses
from service.inference import forecast_samples, summarise
from service.responses import FastJSONResponse
from service.schemas import ForecastRequest, ForecastResponse, SeriesIn, quantile_key

router = APIRouter(tags=["forecast"])


def _history(series: SeriesIn, context_len: int, max_history: int) -> np.ndarray:
    """The most recent `context_len` values of a checked history."""
    n = len(series.values)
    if n > max_history:
        raise TooLarge(
            f"series '{series.id}': history has {n} values, over this service's limit of "
            f"{max_history}."
        )
    if n < context_len:
        raise InvalidInput(
            f"series '{series.id}': history has {n} values; this model needs at least "
            f"{context_len}."
        )
    values = np.asarray(series.values, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise InvalidInput(
            f"series '{series.id}': history has NaN or infinite values (first at index "
            f"{int(bad[0])}); fill or drop them before forecasting."
        )
    if np.abs(values).max() > 1e30:
        raise InvalidInput(f"series '{series.id}': history values are too large (|x| > 1e30).")
    if series.timestamps is not None:
        if len(series.timestamps) != n:
            raise InvalidInput(
                f"series '{series.id}': {len(series.timestamps)} timestamps for {n} values; "
                "give one per value or none."
            )
        for stamp in series.timestamps[-context_len:]:
            try:
                datetime.fromisoformat(stamp)
            except ValueError:
                raise InvalidInput(
                    f"series '{series.id}': timestamp '{stamp[:40]}' is not ISO-8601."
                ) from None
    return values[-context_len:]


@router.post(
    "/v1/models/{name}/forecast",
    response_model=ForecastResponse,
    responses=error_responses(404, 413, 422),
)
def forecast(
    name: str, body: ForecastRequest, state: AppState = Depends(app_state)
) -> FastJSONResponse:
    model = lookup(state, name, "forecast")
    manifest = model.manifest
    settings = state.settings
    assert manifest.context_len is not None and manifest.horizon is not None
    horizon = body.horizon or manifest.horizon
    if horizon > manifest.horizon:
        raise InvalidInput(
            f"horizon {horizon} is beyond this model's limit of {manifest.horizon} steps."
        )
    if len(body.series) > settings.max_forecast_series:
        raise TooLarge(
            f"{len(body.series)} series in one request is over this service's limit of "
            f"{settings.max_forecast_series}."
        )
    if body.num_samples > settings.max_num_samples:
        raise TooLarge(
            f"num_samples {body.num_samples} is over this service's limit of "
            f"{settings.max_num_samples}."
        )
    if len(body.quantiles) > settings.max_quantiles:
        raise TooLarge(
            f"{len(body.quantiles)} quantiles is over this service's limit of "
            f"{settings.max_quantiles}."
        )
    values = len(body.series) * body.num_samples * horizon
    if values > settings.max_forecast_values:
        raise TooLarge(
            f"series × num_samples × horizon = {values} is over this service's limit of "
            f"{settings.max_forecast_values}."
        )
    histories = np.stack(
        [_history(s, manifest.context_len, settings.max_history) for s in body.series]
    )
    paths = forecast_samples(
        model, histories, horizon=horizon, num_samples=body.num_samples, seed=body.seed
    )
    if manifest.calibration is not None:
        paths = manifest.calibration.apply(paths)
    mean, qs = summarise(paths, body.quantiles)
    forecasts = []
    for j, series in enumerate(body.series):
        item: dict[str, object] = {
            "id": series.id,
            "mean": mean[j].tolist(),
            "quantiles": {quantile_key(q): qs[i, j].tolist() for i, q in enumerate(body.quantiles)},
        }
        if body.return_samples:
            item["samples"] = paths[j].tolist()
        forecasts.append(item)
    state.metrics.rows.labels("/v1/models/{name}/forecast", name).inc(
        len(body.series) * body.num_samples * horizon
    )
    return FastJSONResponse(
        {"model": manifest.name, "version": manifest.version, "forecasts": forecasts}
    )
