"""A bound on the memory of inference: generator rows (series, or series × sample paths) in
ONNX Runtime calls at once, over all requests.

One GRU row costs a roughly fixed amount of working memory (the forecast graph keeps every
encoder step of its history: about 27 KB per row for etth1_ot, `make bench-memory`), so rows in
flight bound the peak. A call waits for room up to `timeout_s`, then the request gets a 503 with
`Retry-After` instead of taking the host's memory."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from service.errors import Busy
from service.memory import release_free_memory


class RowBudget:
    def __init__(self, capacity: int, timeout_s: float) -> None:
        self.capacity = capacity
        self.timeout_s = timeout_s
        self.used = 0
        self._cond = threading.Condition()

    @contextmanager
    def hold(self, rows: int) -> Iterator[None]:
        """Hold `rows` (at most the capacity) while the block runs."""
        rows = max(1, min(rows, self.capacity))
        deadline = time.monotonic() + self.timeout_s
        with self._cond:
            while self.used + rows > self.capacity:
                left = deadline - time.monotonic()
                if left <= 0 or not self._cond.wait(left):
                    if self.used + rows <= self.capacity:
                        break
                    raise Busy(
                        "The service is at its inference capacity "
                        f"({self.capacity} generator rows in flight); retry shortly.",
                        retry_after_s=max(1, round(self.timeout_s / 10)),
                    )
            self.used += rows
        try:
            yield
        finally:
            with self._cond:
                self.used -= rows
                idle = self.used == 0
                self._cond.notify_all()
            if idle:
                release_free_memory()  # inference went idle: give its working memory back
