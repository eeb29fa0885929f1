"""Bulk synthetic data sets, streamed: POST /v1/models/{name}/datasets, and the checksum of
a download: POST /v1/models/{name}/datasets/checksum (service/digests.py says why it is a
separate request)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from service import digests, images, streaming
from service.deps import AppState, app_state, lookup
from service.errors import error_responses
from service.plans import plan_dataset, plan_image_dataset
from service.registry import LoadedModel
from service.schemas import DatasetChecksum, DatasetRequest

router = APIRouter(tags=["generate"])


Stream = Callable[[Callable[[int], object]], Iterator[bytes]]


def _planned(state: AppState, name: str, body: DatasetRequest) -> tuple[LoadedModel, int, Stream]:
    """A checked request: the model, the row count, and what starts its byte stream (primed,
    so an error in the first chunk still gets its status) given a row counter."""
    model = lookup(state, name)
    if model.manifest.image is not None:  # parquet, one row per image (service/images.py)
        image_plan = plan_image_dataset(model, body, state.settings)
        return (
            model,
            image_plan.n,
            lambda on_rows: streaming.primed(
                images.dataset_stream(model, image_plan, on_rows=on_rows)
            ),
        )
    model = lookup(state, name, "generate")
    plan = plan_dataset(model, body, state.settings)
    rows = plan.table.rows if plan.table is not None else plan.n * plan.length
    return (
        model,
        rows,
        lambda on_rows: streaming.primed(streaming.dataset_stream(model, plan, on_rows=on_rows)),
    )


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
    name: str, body: DatasetRequest, request: Request, state: AppState = Depends(app_state)
) -> StreamingResponse:
    """Long format, one row per (series, step): `series_id, step, <features>`; for a model trained
    on a table, the table's own layout (id, time, static and other columns). The same body gives
    the same bytes; series `i` is the same whatever `n`/`offset` a request uses, and csv/ndjson
    carry a header only when `offset` is 0, so shards concatenate to one big file. Image models:
    parquet only, one row per image: `image_id`, `label` (label models) or `prompt` (text
    models), `pixels` (list<uint8>, height × width row-major, pixel units).

    With the header `Want-Content-Digest: sha-256`, the bytes are hashed as they stream and,
    once complete, the digest is kept for `POST .../datasets/checksum` with the same body.
    `X-Model-Version` says which version made the bytes."""
    rows_counter = state.metrics.rows.labels("/v1/models/{name}/datasets", name)
    model, _, start = _planned(state, name, body)
    stream = start(rows_counter.inc)
    if request.headers.get(digests.WANT_DIGEST_HEADER, "").lower().startswith("sha-256"):
        key = digests.cache_key(name, model.manifest.version, body.model_dump(mode="json"))
        stream = digests.hashed(stream, lambda digest: state.digests.put(key, digest))
    filename = streaming.file_name(
        name, body.seed, body.offset, body.n, body.format, body.compression
    )
    return StreamingResponse(
        streaming.in_threads(stream, name),
        media_type=streaming.media_type(body.format, body.compression),
        headers={
            "Content-Disposition": f"attachment; filename={filename}",
            "X-Model-Version": str(model.manifest.version),
        },
    )


@router.post(
    "/v1/models/{name}/datasets/checksum",
    response_model=DatasetChecksum,
    responses=error_responses(404, 413, 422),
)
def dataset_checksum(
    name: str, body: DatasetRequest, state: AppState = Depends(app_state)
) -> DatasetChecksum:
    """The sha-256, size and row count of the bytes `POST .../datasets` sends for the same body:
    kept from a completed download that asked for it (`Want-Content-Digest: sha-256`), else
    generated and hashed here (as long as the download, without the network)."""
    model, rows, start = _planned(state, name, body)
    key = digests.cache_key(name, model.manifest.version, body.model_dump(mode="json"))
    found = state.digests.get(key)
    source: Literal["cache", "computed"] = "cache"
    if found is None:
        counter = state.metrics.rows.labels("/v1/models/{name}/datasets/checksum", name)
        found = digests.digest_of(start(counter.inc))
        state.digests.put(key, found)
        source = "computed"
    return DatasetChecksum(
        model=model.manifest.name,
        version=model.manifest.version,
        sha256=found.sha256,
        bytes=found.bytes,
        rows=rows,
        source=source,
    )
