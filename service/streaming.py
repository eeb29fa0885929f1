"""Series → chunks → encoded bytes: the bulk data sets of the `/datasets` route and
`rnngan generate`, which both call `dataset_stream` on a checked plan (service/plans.py), so
both produce the same bytes for the same parameters. Long format (`series_id, step,
<features>`), or a table model's own layout; generated and encoded chunk by chunk so memory
stays flat whatever `n` is.

- csv: header only when `offset == 0`, so shards concatenate to the bytes of one big request.
- ndjson: one JSON object per row; shards concatenate the same way.
- parquet: one row group per chunk, written as it is generated.
- gzip (csv, ndjson): compressed as it streams, tuned for speed, with ISA-L's igzip when the
  `isal` package is there, else zlib (service/compression.py).
Numbers are written at full float32 precision (shortest round-trip form, by Arrow).

The stages overlap: the next chunk is generated in a worker thread while the current one is
encoded (and, for gzip, encoding runs ahead of compression in another). ONNX Runtime, Arrow and
igzip/zlib release the GIL, so on two cores the download runs at about the rate of its slowest
stage instead of the sum of all of them. Closing the stream stops each stage after the chunk in
flight.
"""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from typing import Literal, TypeVar

import anyio
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from rnngan.core.tables.codec import arrow_schema
from service.compression import gzip_compressor
from service.inference import generate, table_series
from service.memory import release_free_memory
from service.plans import DatasetPlan, TablePlan
from service.registry import LoadedModel

Format = Literal["csv", "parquet", "ndjson"]
MEDIA_TYPES = {
    "csv": "text/csv",
    "ndjson": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
}

T = TypeVar("T")
_END = object()
log = logging.getLogger("rnngan.datasets")


def file_name(model: str, seed: int, offset: int, n: int, fmt: str, compression: str) -> str:
    return f"{model}-{seed}-{offset}-{n}.{fmt}" + (".gz" if compression == "gzip" else "")


def media_type(fmt: str, compression: str) -> str:
    return "application/gzip" if compression == "gzip" else MEDIA_TYPES[fmt]


def schema(features: list[str]) -> pa.Schema:
    fields = [pa.field("series_id", pa.int64()), pa.field("step", pa.int32())]
    fields += [pa.field(name, pa.float32()) for name in features]
    return pa.schema(fields)


def long_table(start: int, block: np.ndarray, features: list[str]) -> pa.Table:
    """(k, T, F) float32 block of series `start …` -> long table, one row per (series, step)."""
    k, length, n_features = block.shape
    series_id = np.repeat(np.arange(start, start + k, dtype=np.int64), length)
    step = np.tile(np.arange(length, dtype=np.int32), k)
    # One transposed copy, (F, k·T); each feature row then goes to Arrow without a copy.
    columns = np.ascontiguousarray(block.reshape(k * length, n_features).T, dtype=np.float32)
    arrays = [pa.array(series_id), pa.array(step), *(pa.array(c) for c in columns)]
    return pa.Table.from_arrays(arrays, schema=schema(features))


def prefetch(items: Iterable[T]) -> Generator[T, None, None]:
    """Yield `items`, producing the next one in a worker thread while the caller uses this one.

    Closing the returned iterator (or dropping it) cancels what is not started; the item in
    flight finishes in the background and `items` is then closed in its own thread, so closing
    never waits on the work (an event loop may close it)."""
    source = iter(items)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rnngan-prefetch")
    ahead = pool.submit(next, source, _END)
    try:
        while True:
            item = ahead.result()
            if item is _END:
                return
            ahead = pool.submit(next, source, _END)
            yield item  # type: ignore[misc]
    finally:
        ahead.cancel()
        close = getattr(source, "close", None)
        try:
            if close is not None:
                pool.submit(close)
            pool.submit(release_free_memory, True)  # after the chunk in flight: give it back
        except RuntimeError:  # the interpreter is exiting: its threads are being stopped
            pass
        pool.shutdown(wait=False)


def _csv_encode(table: pa.Table, header: bool) -> bytes:
    sink = io.BytesIO()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=header))
    return sink.getvalue()


def _ndjson_encode(table: pa.Table) -> bytes:
    parts: list[object] = []
    for i, name in enumerate(table.column_names):
        parts.append(("{" if i == 0 else ",") + json.dumps(name) + ":")
        parts.append(pc.cast(table.column(i), pa.string()))
    parts.append("}\n")
    lines = pc.binary_join_element_wise(*parts, "").combine_chunks()
    # The joined lines are contiguous in the string array's data buffer: take them whole.
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset :]
    start, end = int(offsets[0]), int(offsets[len(lines)])
    return lines.buffers()[2].slice(start, end - start).to_pybytes()


Blocks = Generator[tuple[int, np.ndarray | pa.Table], None, None]


def _as_table(start: int, block: np.ndarray | pa.Table, features: list[str]) -> pa.Table:
    """A block as a long table: Arrow tables (models trained on a user's table, already in the
    user's layout) pass through; (k, T, F) arrays become `series_id, step, <features>`."""
    return block if isinstance(block, pa.Table) else long_table(start, block, features)


def _text_chunks(
    blocks: Blocks, features: list[str], fmt: Format, header: bool
) -> Generator[bytes, None, None]:
    with closing(blocks) as source:
        for start, block in source:
            table = _as_table(start, block, features)
            data = _csv_encode(table, header) if fmt == "csv" else _ndjson_encode(table)
            header = False
            if data:
                yield data


class _Drain(io.RawIOBase):
    """A write-only sink whose bytes are taken out after each parquet row group."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out, self._parts = b"".join(self._parts), []
        return out


def _parquet_chunks(
    blocks: Blocks, features: list[str], table_schema: pa.Schema | None
) -> Iterator[bytes]:
    sink = _Drain()
    with closing(blocks) as source:
        layout = table_schema if table_schema is not None else schema(features)
        with pq.ParquetWriter(sink, layout, compression="snappy") as writer:
            for start, block in source:
                writer.write_table(_as_table(start, block, features))
                yield sink.take()
    yield sink.take()


def encode_stream(
    chunks: Iterable[tuple[int, np.ndarray | pa.Table]],
    *,
    features: list[str],
    fmt: Format,
    header: bool,
    compression: Literal["none", "gzip"] = "none",
    table_schema: pa.Schema | None = None,
) -> Iterator[bytes]:
    """Encode (first series id, (k, T, F) block or Arrow table) chunks to bytes as they arrive;
    the next chunk is drawn from `chunks` in a worker thread while this one is encoded.
    `table_schema`: the Arrow schema of table blocks (needed up front for parquet)."""
    if fmt == "parquet" and compression != "none":
        raise ValueError("gzip applies to csv and ndjson; parquet is compressed inside")
    blocks = prefetch(chunks)
    if fmt == "parquet":
        yield from _parquet_chunks(blocks, features, table_schema)
        return
    text = _text_chunks(blocks, features, fmt, header)
    if compression != "gzip":
        yield from text
        return
    compressor = gzip_compressor(fmt)
    with closing(prefetch(text)) as encoded:
        for data in encoded:
            packed = compressor.compress(data)
            if packed:
                yield packed
    yield compressor.flush()


# --- series → chunks ---


def generate_chunks(
    model: LoadedModel, *, n: int, length: int, seed: int, offset: int, chunk_series: int
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (first series id, (k, length, F) block) in bounded chunks.

    A chunk is a full batch already, so it goes to the session directly, not through the
    micro-batcher: queued there, a small /samples call would wait behind a whole chunk (p90
    0.2-0.7 s instead of ~11 ms while a download ran, measured on 2 busy cores)."""
    for start in range(offset, offset + n, chunk_series):
        count = min(chunk_series, offset + n - start)
        yield start, generate(model, n=count, length=length, seed=seed, offset=start, batched=False)


def table_chunks(
    model: LoadedModel, plan: TablePlan, *, seed: int, offset: int, n: int, chunk_rows: int
) -> Iterator[tuple[int, pa.Table]]:
    """(first series id, Arrow table in the user's layout) in chunks of about `chunk_rows`."""
    first = 0
    while first < n:
        # As many series as fit in chunk_rows (at least one).
        cum = np.cumsum(plan.lengths[first:])
        count = max(1, int(np.searchsorted(cum, chunk_rows, side="right")))
        decoded = table_series(model, plan, seed=seed, offset=offset + first, n=count)
        yield offset + first, decoded.to_arrow(plan.spec)
        first += count


# --- chunks → bytes ---


def dataset_stream(
    model: LoadedModel, plan: DatasetPlan, *, on_rows: Callable[[int], object] = lambda rows: None
) -> Iterator[bytes]:
    """The bytes of a checked /datasets request (also `rnngan generate`). `on_rows` is told each
    chunk's row count as it is generated."""
    table, table_schema = plan.table, None

    def blocks() -> Iterator[tuple[int, np.ndarray | pa.Table]]:
        if table is not None:
            for first, arrow in table_chunks(
                model, table, seed=plan.seed, offset=plan.offset, n=plan.n, chunk_rows=plan.chunk
            ):
                on_rows(arrow.num_rows)
                yield first, arrow
            return
        for first, block in generate_chunks(
            model,
            n=plan.n,
            length=plan.length,
            seed=plan.seed,
            offset=plan.offset,
            chunk_series=plan.chunk,
        ):
            on_rows(block.shape[0] * plan.length)
            yield first, block

    if table is not None:
        table_schema = arrow_schema(table.spec)
    return encode_stream(
        blocks(),
        features=model.manifest.features,
        fmt=plan.format,
        header=plan.header,
        compression=plan.compression,
        table_schema=table_schema,
    )


def primed(stream: Iterator[bytes]) -> Iterator[bytes]:
    """`stream` with its first bytes already made: an error in the first chunk (a bad condition,
    non-finite model output) is raised here, while a proper error status can still be sent. An
    error in a later chunk ends the response without its final chunk, so the client sees an
    incomplete download, never a complete-looking file."""
    first = next(stream, None)

    def rest() -> Generator[bytes, None, None]:
        with closing(stream):  # type: ignore[type-var]
            if first is not None:
                yield first
            yield from stream

    return rest()


class _Stepper:
    """Advances a blocking stream from worker threads and closes it in whichever thread may: a
    generator cannot be closed while another thread is inside it ("generator already
    executing"), which is where a cancelled response (client gone, or the end of the shutdown
    grace period) would otherwise close it."""

    def __init__(self, stream: Iterator[bytes]) -> None:
        self.stream = stream
        self.closing = False
        self._lock = threading.Lock()

    def step(self) -> bytes | None:
        with self._lock:
            if self.closing:
                self._close()
                return None
            data = next(self.stream, None)
            if self.closing:  # closed from the event loop while this chunk was made
                self._close()
                return None
            return data

    def close(self) -> None:
        """Never blocks: closes now when no step runs, else the running step closes after its
        chunk."""
        self.closing = True
        if self._lock.acquire(blocking=False):
            try:
                self._close()
            finally:
                self._lock.release()

    def _close(self) -> None:
        close = getattr(self.stream, "close", None)
        if close is not None:
            close()


async def in_threads(stream: Iterator[bytes], model: str) -> AsyncIterator[bytes]:
    """Iterate the (blocking) stream in the threadpool, as Starlette does for a sync iterator,
    but close it as soon as the response ends early. When the client disconnects (or shutdown
    cuts the stream), the response task is cancelled: the `finally` below closes the stream at
    once or, when a chunk is being made in a thread, right after it, so `encode_stream` stops
    generating (one chunk in flight at most) instead of leaving the generator suspended until
    garbage collection."""
    stepper = _Stepper(stream)
    finished = False
    try:
        while True:
            data = await anyio.to_thread.run_sync(stepper.step)
            if data is None:
                finished = True
                return
            yield data
    finally:
        stepper.close()
        if not finished:
            log.info(
                "dataset stream ended early (client gone or server stopping); generation stopped",
                extra={"model": model},
            )
