"""Synthetic series as JSON: POST /v1/models/{name}/samples."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from service.deps import AppState, app_state, lookup
from service.errors import TooLarge, error_responses
from service.inference import check_plain_request, generate, plan_table, table_series
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
    settings = state.settings
    spec = manifest.table
    if spec is not None:
        plan = plan_table(
            model,
            spec,
            body,
            max_length=settings.max_length,
            # The /samples limit is on values: rows × the model's channels.
            max_rows=settings.max_sample_values // spec.channels,
        )
        decoded = table_series(model, plan, seed=body.seed, offset=0, n=body.n)
        state.metrics.rows.labels("/v1/models/{name}/samples", name).inc(plan.rows)
        return FastJSONResponse(
            {
                "model": manifest.name,
                "version": manifest.version,
                "features": manifest.features,
                **decoded.to_json(spec),
            }
        )
    check_plain_request(model, body.condition, body.start, body.impute)
    length = body.length or manifest.seq_len or 1
    if length > settings.max_length:
        raise TooLarge(f"length {length} is over this service's limit of {settings.max_length}.")
    values = body.n * length * len(manifest.features)
    if values > settings.max_sample_values:
        raise TooLarge(
            f"n × length × features = {values} is over this service's limit of "
            f"{settings.max_sample_values} values per /samples request; use /datasets for bulk."
        )
    out = generate(model, n=body.n, length=length, seed=body.seed)
    state.metrics.rows.labels("/v1/models/{name}/samples", name).inc(body.n * length)
    return FastJSONResponse(
        {
            "model": manifest.name,
            "version": manifest.version,
            "features": manifest.features,
            "samples": out.tolist(),
        }
    )
