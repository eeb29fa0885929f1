"""gzip for the bulk data sets (`/datasets`, `rnngan generate`): ISA-L's igzip through the `isal`
package when it is installed (it is in the serving set), else the standard library's zlib.

Why: zlib's deflate is single-threaded and was the slowest stage of a csv+gzip download
(0.92 M rows/s for the writer, under the 1 M target); igzip compresses the same csv 2-3 times
faster and a little smaller (`make bench-datasets --only csv+gzip`, docs/datasets.md).

Bytes: a given body gives the same bytes for a given backend and library version (both are
deterministic, and the gzip header carries no time stamp). igzip and zlib write different,
equally valid gzip streams, so a file made with one is not byte-identical to one made with the
other; `describe()` names the one in use (`make bench-datasets` records it).
`RNNGAN_GZIP=zlib` forces the standard library.
"""

from __future__ import annotations

import os
import zlib
from types import ModuleType
from typing import Literal, Protocol

isal_zlib: ModuleType | None
try:  # optional: the fallback below keeps gzip working without it
    from isal import isal_zlib
except ImportError:  # pragma: no cover - isal is in the serving set
    isal_zlib = None

Backend = Literal["isal", "zlib"]

# zlib: (level, strategy) per format. zlib's default, level 6, compressed csv of a 5-feature model
# at ~0.2 M rows/s; csv is mostly float digits that LZ matching barely shortens, so Huffman
# coding alone (27.7 bytes/row) ran ~1.6x as fast as level 1 (26.7). ndjson repeats its keys on
# every row, which LZ matching needs (Huffman alone: 70 bytes/row, level 1: 35.8).
ZLIB_SETTINGS = {"csv": (6, zlib.Z_HUFFMAN_ONLY), "ndjson": (1, zlib.Z_DEFAULT_STRATEGY)}
# igzip: level per format (0..3; its strategies are fixed). Measured on a 98 k-row sines chunk:
# csv 4.8 M rows/s at level 2 (26.9 bytes/row) vs zlib Huffman-only 2.3 M (27.9); ndjson 3.7 M
# rows/s at level 1 (33.3 bytes/row) vs zlib level 1 0.7 M (35.7).
ISAL_LEVELS = {"csv": 2, "ndjson": 1}


class Compressor(Protocol):
    def compress(self, data: bytes, /) -> bytes: ...

    def flush(self) -> bytes: ...


def backend() -> Backend:
    """The gzip library in use: `isal` unless it is missing or RNNGAN_GZIP=zlib."""
    if isal_zlib is None or os.environ.get("RNNGAN_GZIP", "").strip().lower() == "zlib":
        return "zlib"
    return "isal"


def describe() -> str:
    """The backend and its version, e.g. 'isal 1.9.1' or 'zlib 1.2.13'."""
    if backend() == "isal":
        from importlib.metadata import version

        return f"isal {version('isal')}"
    return f"zlib {zlib.ZLIB_RUNTIME_VERSION}"


def gzip_compressor(fmt: str, use: Backend | None = None) -> Compressor:
    """A streaming gzip compressor (wbits 31: gzip header and trailer) tuned for `fmt`."""
    use = use or backend()
    if use == "isal" and isal_zlib is not None:
        return isal_zlib.compressobj(ISAL_LEVELS[fmt], isal_zlib.DEFLATED, 31)
    level, strategy = ZLIB_SETTINGS[fmt]
    return zlib.compressobj(level, zlib.DEFLATED, 31, 8, strategy)
