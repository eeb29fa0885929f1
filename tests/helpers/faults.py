"""A transport for rnngan.client that breaks one download midway, as a dropped connection would
(tests/e2e/test_client.py, benchmarks/client_download.py):

    transport = BreakingTransport(offset=2500, after_bytes=1_000_000)
    Client(server.base, transport=transport)     # the /datasets request at offset 2500 breaks
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx


class _Broken(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, after_bytes: int) -> None:
        self.inner = inner
        self.after_bytes = after_bytes

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        for data in self.inner:
            if sent + len(data) >= self.after_bytes:
                yield data[: self.after_bytes - sent]
                raise httpx.ReadError("connection dropped (test fault)")
            sent += len(data)
            yield data

    def close(self) -> None:
        self.inner.close()


class BreakingTransport(httpx.HTTPTransport):
    """The first `times` /datasets responses for `offset` end with a ReadError after
    `after_bytes` bytes; `broken` counts them."""

    def __init__(self, *, offset: int, after_bytes: int, times: int = 1) -> None:
        super().__init__()
        self.offset = offset
        self.after_bytes = after_bytes
        self.times = times
        self.broken = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.url.path.endswith("/datasets") and self.broken < self.times:
            if json.loads(request.content).get("offset", 0) == self.offset:
                self.broken += 1
                assert isinstance(response.stream, httpx.SyncByteStream)
                response.stream = _Broken(response.stream, self.after_bytes)
        return response
