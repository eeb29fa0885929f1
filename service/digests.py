"""Checksums of bulk downloads: how a client verifies a streamed `/datasets` response.

The body is streamed, so its digest is known only once the last byte has gone. HTTP trailers
(RFC 9530's `Content-Digest` sent after the body) would be the natural carrier, but neither
Starlette nor the usual Python clients (httpx, requests) send or read trailers, and a header
computed up front would mean generating the whole set twice. So:

- A `/datasets` request that sends `Want-Content-Digest: sha-256` has its bytes hashed as they
  stream (sha-256 runs at ~700 MB/s, a few per cent of a core at the stream's ~35 MB/s); when the
  stream completes, the digest is kept in a per-process LRU cache keyed by the model, its version
  and the request body. For csv or ndjson without gzip (a plain model), the digest of each whole
  chunk sent is kept too, under the body of the request whose answer is that prefix (`n` = k ×
  the chunk's series, announced in `X-Chunk-Series`), so a client that resumes from a chunk
  boundary after a break gets its kept part checked from the cache (about 100 entries for 10 M
  rows; the cache holds 16,384, a few MB).
- `POST /v1/models/{name}/datasets/checksum` with the same body answers `{sha256, bytes, rows,
  version}`: from the cache when this process streamed that body, else by generating and hashing
  the same bytes without sending them (the same cost as the download, minus the network; another
  worker process, or a restart, lands here). Same body => same bytes, so either way the digest
  is that of the bytes a complete download of that body has.

`rows` comes from the plan and costs nothing: a client can check a shard's row count before it
asks for the digest.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

# The request header that asks for the digest to be kept (RFC 9530 names the field).
WANT_DIGEST_HEADER = "want-content-digest"


@dataclass(frozen=True)
class Digest:
    sha256: str
    bytes: int


def cache_key(name: str, version: int, body: dict[str, object]) -> str:
    """The model, its version and the body with every field (defaults included), canonical."""
    return f"{name}/{version}/" + json.dumps(body, sort_keys=True, separators=(",", ":"))


def stream_key(name: str, version: int, body: dict[str, object]) -> str:
    """The set a download belongs to whatever its `n` (a resumed piece asks about a prefix)."""
    return cache_key(name, version, {**body, "n": None})


class DigestCache:
    """A thread-safe LRU of completed downloads' digests (a few hundred bytes per entry), and
    the downloads being hashed right now: a checksum request that misses waits for a running
    download of the same set (other `n`) to end, so a client that resumes right after its
    connection broke finds the digests the server records when it notices the break."""

    def __init__(self, max_entries: int = 16384) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[str, Digest] = OrderedDict()
        self._lock = threading.Lock()
        self._running: dict[str, int] = {}
        self._ended = threading.Condition(self._lock)

    def started(self, stream_key: str) -> None:
        with self._lock:
            self._running[stream_key] = self._running.get(stream_key, 0) + 1

    def ended(self, stream_key: str) -> None:
        with self._lock:
            left = self._running.get(stream_key, 1) - 1
            if left > 0:
                self._running[stream_key] = left
            else:
                self._running.pop(stream_key, None)
            self._ended.notify_all()

    def wait_ended(self, stream_key: str, timeout_s: float) -> None:
        """Wait (at most `timeout_s`) until no download of `stream_key` is being hashed."""
        with self._lock:
            self._ended.wait_for(lambda: stream_key not in self._running, timeout=timeout_s)

    def get(self, key: str) -> Digest | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: str, digest: Digest) -> None:
        with self._lock:
            self._items[key] = digest
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)


def hashed(
    stream: Iterator[bytes],
    on_complete: Callable[[Digest], object],
    on_cut: Callable[[list[Digest]], object] | None = None,
    running: tuple[DigestCache, str] | None = None,
) -> Iterator[bytes]:
    """`stream`, hashing what passes; `on_complete` gets the digest only if the stream ends by
    itself (a client gone, or an error, closes it early). `on_cut` gets the digests of its
    prefixes, one after each item sent (for csv/ndjson without gzip, item i is chunk i: see
    `prefix_bodies`), whether it ended or was cut: a client killed with the last bytes still in
    flight resumes from a whole chunk of a stream that the server saw complete. `running`: the
    cache told when the hashing starts and ends (after the digests are recorded)."""

    def run() -> Generator[bytes, None, None]:
        sha = hashlib.sha256()
        size = 0
        prefixes: list[Digest] = []
        if running is not None:
            running[0].started(running[1])
        try:
            for data in stream:
                sha.update(data)
                size += len(data)
                if on_cut is not None:
                    prefixes.append(Digest(sha.copy().hexdigest(), size))
                yield data
            on_complete(Digest(sha.hexdigest(), size))
        finally:
            _close(stream)
            if on_cut is not None and prefixes:
                on_cut(prefixes)
            if running is not None:
                running[0].ended(running[1])

    return run()


def prefix_bodies(body: dict[str, Any], chunk_series: int, count: int) -> list[dict[str, Any]]:
    """The bodies whose whole answer is the first 1 … `count` chunks of `body`'s: the same body
    with `n` = k × chunk_series. True of csv and ndjson without gzip (a chunk's bytes depend
    only on its series; the header is the first chunk's), not of parquet or gzip."""
    n = int(body["n"])
    return [{**body, "n": min(n, k * chunk_series)} for k in range(1, count + 1)]


def digest_of(stream: Iterator[bytes]) -> Digest:
    """Hash a whole stream without keeping it (the checksum route on a cache miss)."""
    sha = hashlib.sha256()
    size = 0
    try:
        for data in stream:
            sha.update(data)
            size += len(data)
    finally:
        _close(stream)
    return Digest(sha.hexdigest(), size)


def _close(stream: Iterator[bytes]) -> None:
    close = getattr(stream, "close", None)
    if close is not None:
        close()
