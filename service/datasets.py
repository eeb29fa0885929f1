"""Bulk synthetic data sets in long format (`series_id, step, <features>`), encoded chunk by
chunk so memory stays flat whatever `n` is. Used by the `/datasets` route and `rnngan generate`,
so both produce the same bytes for the same parameters.

- csv: header only when `offset == 0`, so shards concatenate to the bytes of one big request.
- ndjson: one JSON object per row; shards concatenate the same way.
- parquet: one row group per chunk, written as it is generated.
Numbers are written at full float32 precision (shortest round-trip form, by Arrow).
"""

from __future__ import annotations

import io
import json
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

Format = Literal["csv", "parquet", "ndjson"]
MEDIA_TYPES = {
    "csv": "text/csv",
    "ndjson": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
}


def file_name(model: str, seed: int, offset: int, n: int, fmt: str, compression: str) -> str:
    return f"{model}-{seed}-{offset}-{n}.{fmt}" + (".gz" if compression == "gzip" else "")


def media_type(fmt: str, compression: str) -> str:
    return "application/gzip" if compression == "gzip" else MEDIA_TYPES[fmt]


def long_table(start: int, block: np.ndarray, features: list[str]) -> pa.Table:
    """(k, T, F) block of series `start …` -> long table, one row per (series, step)."""
    k, length, n_features = block.shape
    columns: dict[str, pa.Array] = {
        "series_id": pa.array(np.repeat(np.arange(start, start + k, dtype=np.int64), length)),
        "step": pa.array(np.tile(np.arange(length, dtype=np.int32), k)),
    }
    flat = block.reshape(k * length, n_features)
    for f, name in enumerate(features):
        columns[name] = pa.array(np.ascontiguousarray(flat[:, f]), type=pa.float32())
    return pa.table(columns)


def schema(features: list[str]) -> pa.Schema:
    fields = [pa.field("series_id", pa.int64()), pa.field("step", pa.int32())]
    fields += [pa.field(name, pa.float32()) for name in features]
    return pa.schema(fields)


def _csv_encoder(header: bool) -> Callable[[pa.Table], bytes]:
    state = {"header": header}

    def encode(table: pa.Table) -> bytes:
        sink = io.BytesIO()
        pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=state["header"]))
        state["header"] = False
        return sink.getvalue()

    return encode


def _ndjson_encode(table: pa.Table) -> bytes:
    parts: list[object] = []
    for i, name in enumerate(table.column_names):
        parts.append(("{" if i == 0 else ",") + json.dumps(name) + ":")
        parts.append(pc.cast(table.column(i), pa.string()))
    parts.append("}\n")
    lines = pc.binary_join_element_wise(*parts, "").combine_chunks()
    # The joined lines are contiguous in the string array's data buffer: take them whole.
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset :]
    data = lines.buffers()[2]
    return data.to_pybytes()[offsets[0] : offsets[len(lines)]]


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


def encode_stream(
    chunks: Iterable[tuple[int, np.ndarray]],
    *,
    features: list[str],
    fmt: Format,
    header: bool,
    compression: Literal["none", "gzip"] = "none",
) -> Iterator[bytes]:
    """Encode (first series id, block) chunks to bytes as they arrive."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31) if compression == "gzip" else None

    def out(data: bytes) -> bytes:
        return compressor.compress(data) if compressor is not None else data

    if fmt == "parquet":
        if compressor is not None:
            raise ValueError("gzip applies to csv and ndjson; parquet is compressed inside")
        sink = _Drain()
        with pq.ParquetWriter(sink, schema(features), compression="snappy") as writer:
            for start, block in chunks:
                writer.write_table(long_table(start, block, features))
                yield sink.take()
        yield sink.take()
        return
    encode = _csv_encoder(header) if fmt == "csv" else _ndjson_encode
    for start, block in chunks:
        data = out(encode(long_table(start, block, features)))
        if data:
            yield data
    if compressor is not None:
        yield compressor.flush()
