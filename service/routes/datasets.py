"""Bulk synthetic data sets, streamed: POST /v1/models/{name}/datasets."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from service import images, streaming
from service.deps import AppState, app_state, lookup
from service.plans import plan_dataset, plan_image_dataset
from service.schemas import DatasetRequest

router = APIRouter(tags=["generate"])


@router.post(
    "/v1/models/{name}/datasets",
    response_class=StreamingResponse,
    responses={
        200: {"content": {t: {} for t in streaming.MEDIA_TYPES.values()}},
        404: {"description": "unknown model"},
        413: {"description": "over a limit"},
    },
)
def dataset(
    name: str, body: DatasetRequest, state: AppState = Depends(app_state)
) -> StreamingResponse:
    """Long format, one row per (series, step): `series_id, step, <features>`; for a model trained
    on a table, the table's own layout (id, time, static and other columns). The same body gives
    the same bytes; series `i` is the same whatever `n`/`offset` a request uses, and csv/ndjson
    carry a header only when `offset` is 0, so shards concatenate to one big file. Image models:
    parquet only, one row per image: `image_id`, `label` (label models) or `prompt` (text
    models), `pixels` (list<uint8>, height × width row-major, pixel units)."""
    rows_counter = state.metrics.rows.labels("/v1/models/{name}/datasets", name)
    model = lookup(state, name)
    if model.manifest.image is not None:  # parquet, one row per image (service/images.py)
        image_plan = plan_image_dataset(model, body, state.settings)
        stream = streaming.primed(
            images.dataset_stream(model, image_plan, on_rows=rows_counter.inc)
        )
    else:
        model = lookup(state, name, "generate")
        plan = plan_dataset(model, body, state.settings)
        stream = streaming.primed(streaming.dataset_stream(model, plan, on_rows=rows_counter.inc))
    filename = streaming.file_name(
        name, body.seed, body.offset, body.n, body.format, body.compression
    )
    return StreamingResponse(
        streaming.in_threads(stream, name),
        media_type=streaming.media_type(body.format, body.compression),
        headers={"Content-Disposition": f"attachment; filename={filename}"},
    )
