"""Dynamic micro-batching: concurrent calls to one ONNX Runtime session are gathered and run
as one call, then split back.

A call that finds no other request in flight runs at once (a lone caller pays nothing); while
other requests are in flight the batcher waits up to `max_wait_s` for them, until the batch
holds `max_rows` generator rows (series × sample paths). Rows of a GRU graph are independent, so
each caller's result is what it would get alone (tests/service/test_batching.py checks it bit
for bit).

Why a small `max_rows` (default 256): a GRU call is compute-bound, and past a few hundred rows
its cost per row grows (the working set leaves the cache). `make bench-batch-cost`, shipped
etth1_ot forecaster, one thread, per 100-path request: 1.95 ms alone, 2.05 ms two per call,
2.45 ms eight per call, 2.78 ms 32 per call; a small Sines request (4 rows) falls from 0.25 ms
alone to 0.18 ms 32 per call, so small requests still gather (64 per call at the default).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger("rnngan.batching")

RunFn = Callable[[dict[str, np.ndarray]], np.ndarray]


@dataclass
class _Job:
    inputs: dict[str, np.ndarray]
    future: Future[np.ndarray] = field(default_factory=Future)

    @property
    def rows(self) -> int:
        """Entries on the batch axis (what the output is split by)."""
        return int(next(iter(self.inputs.values())).shape[0])

    @property
    def work(self) -> int:
        """Generator rows the call runs: series × sample paths for a forecast (noise
        (S, N, H, L)), series for generation (noise (B, T, L)). What `max_rows` limits."""
        noise = self.inputs.get("noise")
        if noise is None or noise.ndim < 3:
            return self.rows
        return int(np.prod(noise.shape[:-2]))

    @property
    def key(self) -> tuple[tuple[int, ...], ...]:
        """Jobs can share a call when their inputs agree on every axis but the batch axis."""
        return tuple(v.shape[1:] for v in self.inputs.values())


class MicroBatcher:
    def __init__(self, run: RunFn, *, max_rows: int, max_wait_s: float, name: str = "") -> None:
        self._run = run
        self.max_rows = max_rows
        self.max_wait_s = max_wait_s
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._in_flight = 0
        self._closed = False
        self.calls = 0  # session calls made (for tests and metrics)
        self.jobs = 0
        self._thread = threading.Thread(target=self._loop, name=f"batcher-{name}", daemon=True)
        self._thread.start()

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Run one request's inputs, batched with whatever else is in flight."""
        job = _Job(inputs)
        if job.work >= self.max_rows:  # already a full batch: no reason to wait for company
            return self._run(inputs)
        with self._lock:
            if self._closed:  # retired (its model was replaced): run alone, never queue
                closed = True
            else:
                closed = False
                self._in_flight += 1
                self._queue.put(job)  # under the lock: never behind the stop marker
        if closed:
            return self._run(inputs)
        try:
            return job.future.result()
        finally:
            with self._lock:
                self._in_flight -= 1

    def close(self) -> None:
        """Stop the batching thread once the queued jobs are done; later calls run alone."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._thread.join(timeout=5)

    def _others_pending(self, gathered: int) -> bool:
        with self._lock:
            return self._in_flight > gathered

    def _gather(self, first: _Job) -> list[_Job]:
        batch, work = [first], first.work
        deadline = time.monotonic() + self.max_wait_s
        while work < self.max_rows:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._others_pending(len(batch)):
                    break
                try:
                    job = self._queue.get(timeout=min(remaining, 0.0005))
                except queue.Empty:
                    continue
            if job is None:
                self._queue.put(None)  # let the loop see the stop marker
                break
            batch.append(job)
            work += job.work
        return batch

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = self._gather(first)
            groups: dict[tuple[tuple[int, ...], ...], list[_Job]] = {}
            for job in batch:
                groups.setdefault(job.key, []).append(job)
            for jobs in groups.values():
                self._execute(jobs)

    def _execute(self, jobs: list[_Job]) -> None:
        try:
            if len(jobs) == 1:
                results = [self._run(jobs[0].inputs)]
            else:
                names = list(jobs[0].inputs)
                merged = {n: np.concatenate([j.inputs[n] for j in jobs]) for n in names}
                out = self._run(merged)
                bounds = np.cumsum([0] + [j.rows for j in jobs])
                results = [out[bounds[i] : bounds[i + 1]] for i in range(len(jobs))]
            self.calls += 1
            self.jobs += len(jobs)
        except Exception as exc:  # hand the failure to every caller rather than hang them
            for job in jobs:
                job.future.set_exception(exc)
            return
        for job, result in zip(jobs, results, strict=True):
            job.future.set_result(result)
