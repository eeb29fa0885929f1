"""service.compression: igzip (isal) when installed, zlib otherwise or with RNNGAN_GZIP=zlib;
either way a valid gzip stream, the same bytes for the same input."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from service import compression
from service.streaming import encode_stream

FEATURES = ["a", "b", "c"]
BLOCKS = [(i, np.random.default_rng(i).random((50, 24, 3), dtype=np.float32)) for i in range(4)]


def _dataset(fmt: str, packing: str) -> bytes:
    stream = encode_stream(
        iter(BLOCKS), features=FEATURES, fmt=fmt, header=True, compression=packing
    )  # type: ignore[arg-type]
    return b"".join(stream)


def test_compression_backend_is_isal_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("isal")
    monkeypatch.delenv("RNNGAN_GZIP", raising=False)
    assert compression.backend() == "isal"
    assert compression.describe().startswith("isal ")
    monkeypatch.setenv("RNNGAN_GZIP", "zlib")
    assert compression.backend() == "zlib"
    assert compression.describe().startswith("zlib ")


def test_compression_falls_back_to_zlib_without_isal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RNNGAN_GZIP", raising=False)
    monkeypatch.setattr(compression, "isal_zlib", None)
    assert compression.backend() == "zlib"
    for fmt in ("csv", "ndjson"):
        packed = _dataset(fmt, "gzip")
        assert gzip.decompress(packed) == _dataset(fmt, "none")


@pytest.mark.parametrize("fmt", ["csv", "ndjson"])
@pytest.mark.parametrize("use", ["isal", "zlib"])
def test_compression_same_input_same_bytes(
    monkeypatch: pytest.MonkeyPatch, fmt: str, use: str
) -> None:
    if use == "isal":
        pytest.importorskip("isal")
    monkeypatch.setenv("RNNGAN_GZIP", use)
    first, second = _dataset(fmt, "gzip"), _dataset(fmt, "gzip")
    assert first == second
    assert first[:2] == b"\x1f\x8b"
    assert gzip.decompress(first) == _dataset(fmt, "none")
