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
# How long a checksum request that misses the cache waits for a download of the same set that is
# still being hashed (it records its digests when it ends, or is cut, within about a chunk).
_WAIT_S = 10.0


Stream = Callable[[Callable[[int], object]], Iterator[bytes]]


def _planned(
    state: AppState, name: str, body: DatasetRequest
) -> tuple[LoadedModel, int, Stream, int | None]:
    """A checked request: the model, the row count, what starts its byte stream (primed, so an
    error in the first chunk still gets its status) given a row counter, and the series per
    streamed chunk when each chunk is one item of the stream and its bytes depend only on its
    series (plain models, csv or ndjson without gzip), else None."""
    model = lookup(state, name)
    if model.manifest.image is not None:  # parquet, one row per image (service/images.py)
        image_plan = plan_image_dataset(model, body, state.settings)
        return (
            model,
            image_plan.n,
            lambda on_rows: streaming.primed(
                images.dataset_stream(model, image_plan, on_rows=on_rows)
            ),
            None,
        )
    model = lookup(state, name, "generate")
    plan = plan_dataset(model, body, state.settings)
    rows = plan.table.rows if plan.table is not None else plan.n * plan.length
    whole_chunks = plan.table is None and plan.format != "parquet" and plan.compression == "none"
    return (
        model,
        rows,
        lambda on_rows: streaming.primed(streaming.dataset_stream(model, plan, on_rows=on_rows)),
        plan.chunk if whole_chunks else None,
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
    once complete, the digest is kept for `POST .../datasets/checksum` with the same body (cut
    short, csv/ndjson without gzip: the digest of each whole chunk sent, for the body with
    `n` = k × `X-Chunk-Series`). `X-Model-Version` says which version made the bytes."""
    rows_counter = state.metrics.rows.labels("/v1/models/{name}/datasets", name)
    filename = streaming.file_name(
        name, body.seed, body.offset, body.n, body.format, body.compression
    )
    model, _, start, chunk = _planned(state, name, body)
    stream = start(rows_counter.inc)
    headers = {
        "Content-Disposition": f"attachment; filename={filename}",
        "X-Model-Version": str(model.manifest.version),
    }
    if request.headers.get(digests.WANT_DIGEST_HEADER, "").lower().startswith("sha-256"):
        version, fields = model.manifest.version, body.model_dump(mode="json")
        key = digests.cache_key(name, version, fields)

        def on_cut(prefixes: list[digests.Digest]) -> None:
            assert chunk is not None
            for prefix, digest in zip(
                digests.prefix_bodies(fields, chunk, len(prefixes)), prefixes, strict=True
            ):
                state.digests.put(digests.cache_key(name, version, prefix), digest)

        stream = digests.hashed(
            stream,
            lambda digest: state.digests.put(key, digest),
            on_cut if chunk is not None else None,
            running=(state.digests, digests.stream_key(name, version, fields)),
        )
        if chunk is not None:
            headers["X-Chunk-Series"] = str(chunk)
    return StreamingResponse(
        streaming.in_threads(stream, name),
        media_type=streaming.media_type(body.format, body.compression),
        headers=headers,
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
    model, rows, start, _ = _planned(state, name, body)
    version, fields = model.manifest.version, body.model_dump(mode="json")
    key = digests.cache_key(name, version, fields)
    found = state.digests.get(key)
    if found is None:  # a download of this set still streaming may be about to record it
        state.digests.wait_ended(digests.stream_key(name, version, fields), _WAIT_S)
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
