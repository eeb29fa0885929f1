"""Synthetic series as JSON: POST /v1/models/{name}/samples."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from service.deps import AppState, app_state, lookup
from service.errors import error_responses
from service.inference import generate, table_series
from service.plans import TablePlan, plan_samples
from service.responses import FastJSONResponse
from service.schemas import SamplesRequest, SamplesResponse

router = APIRouter(tags=["generate"])


@router.post(
    "/v1/models/{name}/samples",
    response_model=SamplesResponse,
    responses=error_responses(404, 413, 422),
)
def samples(
    name: str, body: SamplesRequest, state: AppState = Depends(app_state)
) -> FastJSONResponse:
    model = lookup(state, name, "generate")
    manifest = model.manifest
    plan = plan_samples(model, body, state.settings)
    values: dict[str, object]
    if isinstance(plan, TablePlan):
        decoded = table_series(model, plan, seed=body.seed, offset=0, n=body.n)
        values = decoded.to_json(plan.spec)
    else:
        out = generate(model, n=plan.n, length=plan.length, seed=plan.seed)
        values = {"samples": out.tolist()}
    state.metrics.rows.labels("/v1/models/{name}/samples", name).inc(plan.rows)
    return FastJSONResponse(
        {
            "model": manifest.name,
            "version": manifest.version,
            "features": manifest.features,
            **values,
        }
    )
