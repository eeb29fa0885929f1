"""service.plans without HTTP: what a checked request becomes, and which fault answers first
when a request has several (the order is fixed, so the answer is too)."""

from __future__ import annotations

import numpy as np
import pytest

from service.config import Settings
from service.errors import InvalidInput, TooLarge
from service.plans import SamplesPlan, plan_dataset, plan_forecast, plan_samples
from service.registry import LoadedModel, Registry
from service.schemas import DatasetRequest, ForecastRequest, SamplesRequest
from tests.conftest import MODELS

SETTINGS = Settings(models_dir=MODELS, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def models() -> dict[str, LoadedModel]:
    registry = Registry(SETTINGS)
    registry.reload()
    return dict(registry.models)


def test_plan_samples_plain_default_length(models: dict[str, LoadedModel]) -> None:
    plan = plan_samples(models["sines"], SamplesRequest(n=3, seed=2), SETTINGS)
    assert plan == SamplesPlan(n=3, length=24, seed=2)
    assert plan.rows == 72


def test_plan_samples_table_options_refused_before_limits(models: dict[str, LoadedModel]) -> None:
    body = SamplesRequest(n=10**9, length=10**9, impute=True)
    with pytest.raises(InvalidInput, match="'impute' apply to models trained on a table"):
        plan_samples(models["sines"], body, SETTINGS)


def test_plan_dataset_chunks_and_header(models: dict[str, LoadedModel]) -> None:
    body = DatasetRequest(n=10_000, length=24, seed=1, offset=0, format="csv")
    plan = plan_dataset(models["sines"], body, SETTINGS)
    assert (plan.length, plan.chunk, plan.header, plan.table) == (24, 4096, True, None)
    shard = plan_dataset(models["sines"], body.model_copy(update={"offset": 5}), SETTINGS)
    assert shard.header is False
    assert plan_dataset(models["sines"], body, SETTINGS, chunk_series=64).chunk == 64


def test_plan_dataset_parquet_gzip_refused_first(models: dict[str, LoadedModel]) -> None:
    body = DatasetRequest(n=10**9, length=10**9, format="parquet", compression="gzip")
    with pytest.raises(InvalidInput, match="compression applies to csv and ndjson"):
        plan_dataset(models["sines"], body, SETTINGS)


def test_plan_forecast_keeps_most_recent_context(models: dict[str, LoadedModel]) -> None:
    values = [float(i) for i in range(200)]
    body = ForecastRequest(series=[{"id": "a", "values": values}], num_samples=10)  # type: ignore[list-item]
    plan = plan_forecast(models["etth1_ot"], body, SETTINGS)
    np.testing.assert_array_equal(plan.histories, [values[-168:]])
    assert (plan.ids, plan.horizon, plan.values) == (["a"], 24, 10 * 24)


def test_plan_forecast_horizon_answers_before_limits(models: dict[str, LoadedModel]) -> None:
    series = [{"id": str(i), "values": [1.0]} for i in range(300)]
    body = ForecastRequest(series=series, horizon=48, num_samples=5000)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="horizon 48 is beyond this model's limit of 24"):
        plan_forecast(models["etth1_ot"], body, SETTINGS)
    body = body.model_copy(update={"horizon": 24})
    with pytest.raises(TooLarge, match="300 series in one request is over"):
        plan_forecast(models["etth1_ot"], body, SETTINGS)
