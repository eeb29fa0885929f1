"""Checksums of bulk downloads: how a client verifies a streamed `/datasets` response.

The body is streamed, so its digest is known only once the last byte has gone. HTTP trailers
(RFC 9530's `Content-Digest` sent after the body) would be the natural carrier, but neither
Starlette nor the usual Python clients (httpx, requests) send or read trailers, and a header
computed up front would mean generating the whole set twice. So:

- A `/datasets` request that sends `Want-Content-Digest: sha-256` has its bytes hashed as they
  stream (sha-256 runs at ~700 MB/s, a few per cent of a core at the stream's ~35 MB/s); when the
  stream completes, the digest is kept in a per-process LRU cache keyed by the model, its version
  and the request body. A stream cut short is never cached.
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

# The request header that asks for the digest to be kept (RFC 9530 names the field).
WANT_DIGEST_HEADER = "want-content-digest"


@dataclass(frozen=True)
class Digest:
    sha256: str
    bytes: int


def cache_key(name: str, version: int, body: dict[str, object]) -> str:
    """The model, its version and the body with every field (defaults included), canonical."""
    return f"{name}/{version}/" + json.dumps(body, sort_keys=True, separators=(",", ":"))


class DigestCache:
    """A thread-safe LRU of completed downloads' digests (a few hundred bytes per entry)."""

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[str, Digest] = OrderedDict()
        self._lock = threading.Lock()

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


def hashed(stream: Iterator[bytes], on_complete: Callable[[Digest], object]) -> Iterator[bytes]:
    """`stream`, hashing what passes; `on_complete` gets the digest only if the stream ends by
    itself (a client that disconnects, or an error, closes it early: nothing is recorded)."""

    def run() -> Generator[bytes, None, None]:
        sha = hashlib.sha256()
        size = 0
        try:
            for data in stream:
                sha.update(data)
                size += len(data)
                yield data
        finally:
            _close(stream)
        on_complete(Digest(sha.hexdigest(), size))

    return run()


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
