"""Bounded memory: big requests run in chunks with the same results, concurrent work beyond the
row budget waits or gets a 503 with Retry-After, and no answer is ever made of nulls."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.budget import RowBudget
from service.config import Settings
from service.errors import Busy
from service.inference import forecast_samples, generate
from service.main import create_app
from service.registry import LoadedModel, Registry


def _registry(models_dir: Path, **settings: Any) -> Registry:
    registry = Registry(Settings(models_dir=models_dir, _env_file=None, **settings))  # type: ignore[call-arg]
    registry.reload()
    return registry


def _history(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 20 + 5 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 0.5, n)


@pytest.mark.parametrize("rows", [7, 25])
def test_forecast_in_chunks_equals_one_call(models_copy: Path, rows: int) -> None:
    """etth1_ot is an ensemble whose members take turns over a call's paths: a series' paths
    split over calls (23 or 50 paths, 7 or 25 rows a call) are still each drawn by the member
    and from the noise they get in one call."""
    whole = _registry(models_copy, max_call_rows=10**6, batch_max_rows=0).get("etth1_ot")
    small = _registry(models_copy, max_call_rows=rows, batch_max_rows=0).get("etth1_ot")
    assert whole is not None and small is not None
    context = int(whole.manifest.context_len or 0)
    histories = np.stack([_history(context, s) for s in range(3)])
    for samples in (5, 23, 50):  # whole series per call, and one series in path chunks
        a = forecast_samples(whole, histories, horizon=24, num_samples=samples, seed=3)
        b = forecast_samples(small, histories, horizon=24, num_samples=samples, seed=3)
        np.testing.assert_array_equal(a, b)


def test_generate_in_chunks_equals_one_call(models_copy: Path) -> None:
    whole = _registry(models_copy, max_call_rows=10**6).get("sines")
    small = _registry(models_copy, max_call_rows=5).get("sines")
    assert whole is not None and small is not None
    a = generate(whole, n=17, length=24, seed=2, offset=9, batched=False)
    b = generate(small, n=17, length=24, seed=2, offset=9, batched=False)
    np.testing.assert_array_equal(a, b)


def test_row_budget_waits_then_refuses() -> None:
    budget = RowBudget(10, timeout_s=0.2)
    with budget.hold(8):
        with pytest.raises(Busy) as caught:
            with budget.hold(5):
                pass
        assert caught.value.retry_after_s >= 1
        with budget.hold(2):  # what fits still runs
            assert budget.used == 10
    assert budget.used == 0
    with budget.hold(50):  # a call bigger than the whole budget runs alone
        assert budget.used == 10


def test_row_budget_releases_waiters() -> None:
    budget = RowBudget(4, timeout_s=5)
    ran: list[int] = []
    with budget.hold(4):
        worker = threading.Thread(target=lambda: budget.hold(4).__enter__() and None)

        def waiter() -> None:
            with budget.hold(3):
                ran.append(1)

        worker = threading.Thread(target=waiter)
        worker.start()
        worker.join(0.2)
        assert ran == []  # still waiting
    worker.join(5)
    assert ran == [1]


@pytest.fixture()
def tight(models_copy: Path) -> Iterator[TestClient]:
    settings = Settings(  # type: ignore[call-arg]
        models_dir=models_copy, max_inflight_rows=4, queue_timeout_s=0.1, _env_file=None
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_over_capacity_is_503_with_retry_after(tight: TestClient) -> None:
    state = tight.app.state.rnngan  # type: ignore[attr-defined]
    with state.registry.budget.hold(4):  # all of it, held by "another request"
        r = tight.post("/v1/models/sines/samples", json={"n": 2, "length": 8, "seed": 0})
    assert r.status_code == 503
    assert int(r.headers["retry-after"]) >= 1
    assert "capacity" in r.json()["detail"]
    again = tight.post("/v1/models/sines/samples", json={"n": 2, "length": 8, "seed": 0})
    assert again.status_code == 200


@pytest.mark.parametrize("model", ["etth1_ot", "traffic_a5m"])
@pytest.mark.parametrize("level", [5e18, 1e25, -3e29])
def test_forecasts_of_huge_histories_are_finite(
    client: TestClient, model: str, level: float
) -> None:
    context = client.get(f"/v1/models/{model}").json()["context_len"]
    values = (level * (1 + 0.01 * np.sin(np.arange(context) / 3))).tolist()
    r = client.post(
        f"/v1/models/{model}/forecast",
        json={"series": [{"id": "big", "values": values}], "horizon": 4, "num_samples": 20},
    )
    assert r.status_code == 200, r.text
    mean = r.json()["forecasts"][0]["mean"]
    assert all(v is not None and np.isfinite(v) for v in mean)
    assert all(abs(v / level - 1) < 0.2 for v in mean)  # in the history's units and level


def test_non_finite_model_output_is_an_error_not_nulls(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_run = LoadedModel.run

    def broken(self: LoadedModel, inputs: dict[str, Any], **options: Any) -> Any:
        out = np.array(real_run(self, inputs, **options), dtype=np.float32)
        out.flat[0] = np.nan
        return out

    monkeypatch.setattr(LoadedModel, "run", broken)
    samples = client.post("/v1/models/sines/samples", json={"n": 2, "length": 8, "seed": 0})
    assert samples.status_code == 422 and "non-finite" in samples.json()["detail"]
    context = client.get("/v1/models/etth1_ot").json()["context_len"]
    forecast = client.post(
        "/v1/models/etth1_ot/forecast",
        json={"series": [{"id": "a", "values": _history(context).tolist()}], "horizon": 4},
    )
    assert forecast.status_code == 422 and "non-finite" in forecast.json()["detail"]
    dataset = client.post(
        "/v1/models/sines/datasets", json={"n": 3, "length": 8, "seed": 0, "format": "csv"}
    )
    assert dataset.status_code == 422 and "non-finite" in dataset.json()["detail"]
