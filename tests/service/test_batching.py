from __future__ import annotations

import threading

import numpy as np
import onnxruntime as ort
import pytest

from rnngan.core.noise import series_noise
from service.batching import MicroBatcher, _Job
from tests.conftest import MODELS, SHIPPED


@pytest.fixture(scope="module")
def session() -> ort.InferenceSession:
    path = MODELS / "sines" / str(SHIPPED["sines"]) / "model.onnx"
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _runner(session: ort.InferenceSession):  # type: ignore[no-untyped-def]
    def run(inputs: dict[str, np.ndarray]) -> np.ndarray:
        return session.run(["samples"], inputs)[0]

    return run


def test_batching_concurrent_results_equal_alone_bit_for_bit(session) -> None:  # type: ignore[no-untyped-def]
    run = _runner(session)
    latent = session.get_inputs()[0].shape[2]
    inputs = [series_noise(seed, 0, 1 + seed % 5, 24, latent) for seed in range(32)]
    alone = [run({"noise": x}) for x in inputs]
    batcher = MicroBatcher(run, max_rows=256, max_wait_s=0.05, name="test")
    results: list[np.ndarray | None] = [None] * len(inputs)
    start = threading.Barrier(len(inputs))

    def call(i: int) -> None:
        start.wait()
        results[i] = batcher.run({"noise": inputs[i]})

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    batcher.close()
    for got, want in zip(results, alone, strict=True):
        np.testing.assert_array_equal(got, want)
    assert batcher.jobs == len(inputs)
    assert batcher.calls < len(inputs)  # some calls were actually shared


def test_batching_lone_caller_runs_at_once(session) -> None:  # type: ignore[no-untyped-def]
    batcher = MicroBatcher(_runner(session), max_rows=256, max_wait_s=5.0, name="lone")
    import time

    started = time.perf_counter()
    batcher.run({"noise": series_noise(1, 0, 2, 24, session.get_inputs()[0].shape[2])})
    assert time.perf_counter() - started < 1.0  # did not wait max_wait_s for company
    batcher.close()


def test_batching_different_lengths_run_separately(session) -> None:  # type: ignore[no-untyped-def]
    run = _runner(session)
    latent = session.get_inputs()[0].shape[2]
    batcher = MicroBatcher(run, max_rows=256, max_wait_s=0.05, name="mixed")
    a, b = series_noise(1, 0, 2, 24, latent), series_noise(2, 0, 3, 30, latent)
    out: dict[str, np.ndarray] = {}
    ta = threading.Thread(target=lambda: out.__setitem__("a", batcher.run({"noise": a})))
    tb = threading.Thread(target=lambda: out.__setitem__("b", batcher.run({"noise": b})))
    ta.start(), tb.start(), ta.join(), tb.join()
    batcher.close()
    assert out["a"].shape == (2, 24, 5) and out["b"].shape == (3, 30, 5)
    np.testing.assert_array_equal(out["b"], run({"noise": b}))


def test_batching_error_reaches_the_caller() -> None:
    def broken(inputs: dict[str, np.ndarray]) -> np.ndarray:
        raise RuntimeError("session failed")

    batcher = MicroBatcher(broken, max_rows=8, max_wait_s=0.0, name="broken")
    with pytest.raises(RuntimeError, match="session failed"):
        batcher.run({"x": np.zeros((1, 2), np.float32)})
    batcher.close()


def test_batching_concurrent_forecasts_equal_sequential(client) -> None:  # type: ignore[no-untyped-def]
    from concurrent.futures import ThreadPoolExecutor

    history = [float(20 + 5 * np.sin(i / 24 * 2 * np.pi)) for i in range(200)]
    bodies = [
        {
            "series": [{"id": str(k), "values": [v + k for v in history]}],
            "num_samples": 50,
            "seed": k,
        }
        for k in range(16)
    ]
    alone = [client.post("/v1/models/etth1_ot/forecast", json=b).json() for b in bodies]
    with ThreadPoolExecutor(max_workers=16) as pool:
        together = list(
            pool.map(lambda b: client.post("/v1/models/etth1_ot/forecast", json=b).json(), bodies)
        )
    assert together == alone
    model = client.app.state.rnngan.registry.get("etth1_ot")
    assert model.batcher is not None and model.batcher.jobs >= 32


def test_batch_size_counts_generator_rows() -> None:
    """A forecast job's size is series × sample paths, a generate job's its series."""
    forecast = _Job({"history": np.zeros((2, 168)), "noise": np.zeros((2, 100, 24, 8))})
    generate = _Job({"noise": np.zeros((4, 24, 5))})
    table = _Job({"noise": np.zeros((3, 24, 5)), "condition": np.zeros((3, 2))})
    assert (forecast.rows, forecast.work) == (2, 200)
    assert (generate.rows, generate.work) == (4, 4)
    assert (table.rows, table.work) == (3, 3)
