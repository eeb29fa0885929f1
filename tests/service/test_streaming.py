"""service.streaming without HTTP: exact bytes of each format on fixed values, the gzip stream,
and the prefetch pipeline (order, errors, and that closing it stops the work behind it)."""

from __future__ import annotations

import dataclasses
import gzip
import io
import threading
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from service.config import Settings
from service.inference import generate
from service.registry import Registry
from service.streaming import encode_stream, generate_chunks, long_table, prefetch
from tests.conftest import MODELS

FEATURES = ["a", "b"]
# Two series × two steps × two features, values chosen to show float32 round-trip formatting.
BLOCK = np.array([[[0.1, 1 / 3], [2.0, -0.5]], [[1e-8, 123456.79], [0.0, 7.25]]], np.float32)


def _encode(blocks: list[tuple[int, np.ndarray]], fmt: str, **kw: object) -> bytes:
    return b"".join(encode_stream(iter(blocks), features=FEATURES, fmt=fmt, **kw))  # type: ignore[arg-type]


def test_long_table_rows_columns_and_dtypes() -> None:
    table = long_table(5, BLOCK, FEATURES)
    assert table.schema == pa.schema(
        [("series_id", pa.int64()), ("step", pa.int32()), ("a", pa.float32()), ("b", pa.float32())]
    )
    assert table.column("series_id").to_pylist() == [5, 5, 6, 6]
    assert table.column("step").to_pylist() == [0, 1, 0, 1]
    np.testing.assert_array_equal(table.column("a").to_numpy(), BLOCK[:, :, 0].ravel())
    np.testing.assert_array_equal(table.column("b").to_numpy(), BLOCK[:, :, 1].ravel())


def test_encode_stream_csv_exact_bytes() -> None:
    halves = [(0, BLOCK[:1]), (1, BLOCK[1:])]
    assert _encode(halves, "csv", header=True) == (
        b'"series_id","step","a","b"\n'
        b"0,0,0.1,0.33333334\n0,1,2,-0.5\n1,0,1e-8,123456.79\n1,1,0,7.25\n"
    )
    assert _encode(halves, "csv", header=False).startswith(b"0,0,0.1,")


def test_encode_stream_ndjson_exact_bytes() -> None:
    assert _encode([(3, BLOCK[:1])], "ndjson", header=True) == (
        b'{"series_id":3,"step":0,"a":0.1,"b":0.33333334}\n'
        b'{"series_id":3,"step":1,"a":2,"b":-0.5}\n'
    )


def test_encode_stream_parquet_one_row_group_per_chunk() -> None:
    data = _encode([(0, BLOCK[:1]), (1, BLOCK[1:])], "parquet", header=True)
    parquet = pq.ParquetFile(io.BytesIO(data))
    assert parquet.metadata.num_row_groups == 2
    assert parquet.read().equals(long_table(0, BLOCK, FEATURES))


def test_encode_stream_gzip_shards_decompress_to_whole() -> None:
    blocks = [(i, np.full((1, 3, 2), i / 7, np.float32)) for i in range(6)]
    for fmt in ("csv", "ndjson"):
        plain = _encode(blocks, fmt, header=True)
        shards = _encode(blocks[:2], fmt, header=True, compression="gzip") + _encode(
            blocks[2:], fmt, header=False, compression="gzip"
        )
        assert gzip.decompress(shards) == plain
        assert shards[:2] == b"\x1f\x8b"


def test_encode_stream_parquet_gzip_is_refused() -> None:
    with pytest.raises(ValueError, match="gzip applies to csv and ndjson"):
        _encode([(0, BLOCK)], "parquet", header=True, compression="gzip")


class _Source:
    """A chunk source that counts what it produced, can hold an item until released, and
    signals when it is closed."""

    def __init__(self, total: int, hold_from: int | None = None) -> None:
        self.produced = 0
        self.total = total
        self.hold_from = hold_from
        self.release = threading.Event()
        self.holding = threading.Event()
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        try:
            for i in range(self.total):
                if self.hold_from is not None and i >= self.hold_from:
                    self.holding.set()
                    assert self.release.wait(10), "the test never released the source"
                self.produced += 1
                yield i, BLOCK[:1]
        finally:
            self.closed.set()


def test_prefetch_yields_every_item_in_order() -> None:
    assert list(prefetch(iter(range(50)))) == list(range(50))


def test_prefetch_reraises_source_error() -> None:
    def source() -> Iterator[int]:
        yield 1
        raise RuntimeError("boom")

    items = prefetch(source())
    assert next(items) == 1
    with pytest.raises(RuntimeError, match="boom"):
        next(items)


def test_prefetch_close_stops_source_after_item_in_flight() -> None:
    source = _Source(total=1000)
    items = prefetch(iter(source))
    assert [next(items)[0] for _ in range(3)] == [0, 1, 2]
    items.close()
    assert source.closed.wait(10)
    assert source.produced <= 4  # three taken, at most one produced ahead


def test_prefetch_close_does_not_wait_for_item_in_flight() -> None:
    source = _Source(total=1000, hold_from=1)
    items = prefetch(iter(source))
    assert next(items)[0] == 0
    assert source.holding.wait(10)  # item 1 is in flight, held by the source
    items.close()  # returns although the item in flight cannot finish yet
    assert not source.closed.is_set() and source.produced == 1
    source.release.set()
    assert source.closed.wait(10)
    assert source.produced == 2


def test_encode_stream_close_stops_generation() -> None:
    source = _Source(total=10_000)
    stream = encode_stream(iter(source), features=FEATURES, fmt="csv", header=True)
    next(stream)
    next(stream)
    stream.close()  # what the /datasets route does when the client disconnects
    assert source.closed.wait(10)
    assert source.produced <= 3


class _CountingBatcher:
    def __init__(self) -> None:
        self.calls = 0

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        self.calls += 1
        raise AssertionError("bulk chunks must not queue behind the micro-batcher")


def test_generate_chunks_bypass_micro_batcher() -> None:
    registry = Registry(Settings(models_dir=MODELS, _env_file=None))  # type: ignore[call-arg]
    registry.reload()
    model = registry.get("sines")
    assert model is not None
    batcher = _CountingBatcher()
    model = dataclasses.replace(model, batcher=batcher)  # type: ignore[arg-type]
    chunks = list(generate_chunks(model, n=10, length=6, seed=3, offset=2, chunk_series=4))
    assert [start for start, _ in chunks] == [2, 6, 10]
    assert [block.shape for _, block in chunks] == [(4, 6, 5), (4, 6, 5), (2, 6, 5)]
    assert batcher.calls == 0
    unbatched = dataclasses.replace(model, batcher=None)
    whole = generate(unbatched, n=10, length=6, seed=3, offset=2)
    np.testing.assert_array_equal(np.concatenate([b for _, b in chunks]), whole)
