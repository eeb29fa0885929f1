"""Bulk synthetic data sets, streamed: POST /v1/models/{name}/datasets."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import anyio
from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from service import datasets
from service.deps import AppState, app_state, lookup
from service.inference import dataset_stream
from service.schemas import DatasetRequest

router = APIRouter(tags=["generate"])
log = logging.getLogger("rnngan.datasets")


async def _in_threads(stream: Iterator[bytes], model: str) -> AsyncIterator[bytes]:
    """Iterate the (blocking) stream in the threadpool, as Starlette does for a sync iterator,
    but close it as soon as the response ends early. When the client disconnects, Starlette
    cancels the response task: the chunk being encoded finishes, the `finally` below closes the
    stream, and `encode_stream` stops generating (one chunk in flight at most) instead of
    leaving the generator suspended until garbage collection."""
    finished = False
    try:
        while True:
            data = await anyio.to_thread.run_sync(next, stream, None)
            if data is None:
                finished = True
                return
            yield data
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()  # cheap: it never waits for the chunk in flight (see datasets.prefetch)
        if not finished:
            log.info(
                "dataset stream ended early (client gone); generation stopped",
                extra={"model": model},
            )


@router.post(
    "/v1/models/{name}/datasets",
    response_class=StreamingResponse,
    responses={
        200: {"content": {t: {} for t in datasets.MEDIA_TYPES.values()}},
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
    carry a header only when `offset` is 0, so shards concatenate to one big file."""
    model = lookup(state, name, "generate")
    rows_counter = state.metrics.rows.labels("/v1/models/{name}/datasets", name)
    stream = dataset_stream(model, body, state.settings, on_rows=rows_counter.inc)
    filename = datasets.file_name(
        name, body.seed, body.offset, body.n, body.format, body.compression
    )
    return StreamingResponse(
        _in_threads(stream, name),
        media_type=datasets.media_type(body.format, body.compression),
        headers={"Content-Disposition": f"attachment; filename={filename}"},
    )
