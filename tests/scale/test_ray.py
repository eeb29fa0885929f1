"""The Ray engine on a local cluster of 2 CPUs writes the same parts (and the same `_SUCCESS`)
as the local engine, and `synthetic_dataset` yields the same rows. Skipped without Ray
(`pip install 'rnngan[ray]'`); one cluster start, well under 2 minutes on 2 cores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rnngan.scale.output import SUCCESS, LocalEngine, run_job
from rnngan.scale.parts import load_model, offline_settings, plan_job
from tests.conftest import MODELS

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'rnngan[ray]'")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Ray Data's own settings


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        object_store_memory=128 * 2**20,
        runtime_env={"env_vars": {"OMP_WAIT_POLICY": "PASSIVE"}},
    )
    try:
        yield
    finally:
        ray.shutdown()


def test_ray_parts_equal_local_engine_parts(cluster: None, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from rnngan.ray import RayEngine, synthetic_dataset

    settings = offline_settings(MODELS)
    job = plan_job(
        load_model(settings, "sines"), settings, n=500, seed=9, offset=3, rows_per_file=2400
    )
    local, remote = tmp_path / "local", tmp_path / "ray"
    run_job(job, local, LocalEngine(settings))
    with RayEngine(settings) as engine:  # joins the cluster above (2 CPUs: 2 actors)
        summary = run_job(job, remote, engine)
        stats = engine.stats()
    assert len(stats) == 2 and all(s["providers"] == ["CPUExecutionProvider"] for s in stats)
    assert sorted(summary.written) == [f"part-0000{k}.parquet" for k in range(5)]
    names = sorted(p.name for p in local.iterdir())
    assert names == sorted(p.name for p in remote.iterdir())
    for name in names:  # every part and _SUCCESS, byte for byte
        assert (local / name).read_bytes() == (remote / name).read_bytes(), name
    assert ray.is_initialized()  # the engine left the cluster it did not start running

    ds = synthetic_dataset("sines", n=500, seed=9, offset=3, models_dir=MODELS, rows_per_block=2400)
    rows = pa.concat_tables(ray.get(ds.to_arrow_refs())).sort_by(
        [("series_id", "ascending"), ("step", "ascending")]
    )
    parts = pa.concat_tables(pq.read_table(local / f"part-0000{k}.parquet") for k in range(5))
    assert rows.equals(parts)
    assert (local / SUCCESS).is_file()
