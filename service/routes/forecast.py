"""Probabilistic forecasts: POST /v1/models/{name}/forecast."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from service.deps import AppState, app_state, lookup
from service.errors import error_responses
from service.inference import forecast_samples, summarise
from service.plans import plan_forecast
from service.responses import FastJSONResponse
from service.schemas import ForecastRequest, ForecastResponse, quantile_key

router = APIRouter(tags=["forecast"])


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
    plan = plan_forecast(model, body, state.settings)
    paths = forecast_samples(
        model,
        plan.histories,
        horizon=plan.horizon,
        num_samples=plan.num_samples,
        seed=plan.seed,
        offset=plan.offset,
        covariates=plan.covariates,
    )  # (S, N, H)
    if manifest.calibration is not None:
        paths = manifest.calibration.apply(paths)
    mean, qs = summarise(paths, plan.quantiles)
    forecasts = []
    for j, series_id in enumerate(plan.ids):
        item: dict[str, object] = {
            "id": series_id,
            "mean": mean[j].tolist(),
            "quantiles": {quantile_key(q): qs[i, j].tolist() for i, q in enumerate(plan.quantiles)},
        }
        if plan.return_samples:
            item["samples"] = paths[j].tolist()
        if plan.timestamps is not None and plan.timestamps[j] is not None:
            item["timestamps"] = plan.timestamps[j]
        forecasts.append(item)
    state.metrics.rows.labels("/v1/models/{name}/forecast", name).inc(plan.values)
    return FastJSONResponse(
        {"model": manifest.name, "version": manifest.version, "forecasts": forecasts}
    )
