"""Own tables: type inference, encoding, and the round trip table -> train -> export -> serve ->
table (samples, datasets, conditioning, gaps)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from examples.tables import etth1_entities, mixed_table
from rnngan.core.manifest import Manifest
from rnngan.core.tables.codec import decode, encode_entities
from rnngan.core.tables.infer import infer_kind, infer_spec
from rnngan.core.tables.sample import resolve_condition, synthesize
from rnngan.core.tables.spec import TableError, TableSpec, channel_layout
from rnngan.core.tables.stamps import snap_times
from tests.training.helpers import tiny_table_forecast
from training.config import ConfigError, RunConfig, from_dict


def test_type_inference_on_a_mixed_table() -> None:
    spec, frame = infer_spec(
        mixed_table(), id_column="store", time_column="date", bounds=["humidity=0:100"]
    )
    kinds = {c.name: (c.kind, c.static) for c in spec.columns}
    assert kinds == {
        "region": ("categorical", True),
        "size": ("count", True),
        "weather": ("categorical", False),
        "visitors": ("count", False),
        "open": ("boolean", False),
        "humidity": ("bounded", False),
    }
    humidity = next(c for c in spec.columns if c.name == "humidity")
    assert (humidity.low, humidity.high) == (0.0, 100.0)
    assert humidity.masked and 0.05 < humidity.missing_share < 0.2
    assert spec.time is not None and spec.time.regular and spec.time.freq == "h"
    assert sum(spec.length_counts) == 12 and min(spec.length_values) >= 30
    # Sorted by entity then time; the parsed time kept for encoding.
    assert frame.groupby("store")["__t"].apply(lambda t: t.is_monotonic_increasing).all()


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        ([1.5, -2.0, 3.0], "continuous"),
        ([1.5, 2.0, None], "nonnegative"),
        ([0, 3, 7, None], "count"),
        ([-1, 3, 7], "integer"),
        ([0, 1, 1, 0], "boolean"),
        (["yes", "no", None], "boolean"),
        ([True, False], "boolean"),
        (["a", "b", "c"], "categorical"),
        (["1.5", "2", "3"], "nonnegative"),  # numbers stored as text
    ],
)
def test_infer_kind(values: list[object], kind: str) -> None:
    assert infer_kind(pd.Series(values)) == kind


def test_overrides_and_clear_errors() -> None:
    table = mixed_table(entities=4)
    spec, _ = infer_spec(table, id_column="store", time_column="date", types=["size=categorical"])
    assert next(c for c in spec.columns if c.name == "size").kind == "categorical"
    spec, _ = infer_spec(table, id_column="store", time_column="date", static=[])
    assert not spec.static  # nothing static when the user says so
    bad = [
        ({"id_column": "shop"}, "column 'shop' is not in the table"),
        ({"id_column": "store", "types": ["visitors=money"]}, "must be one of"),
        ({"id_column": "store", "types": ["nope=count"]}, "'nope', which is not a column"),
        ({"id_column": "store", "bounds": ["humidity=0:50"]}, "outside its bounds"),
        ({"id_column": "store", "bounds": ["humidity=9"]}, "low:high"),
        ({"id_column": "store", "static": ["visitors"]}, "changes within an entity"),
        ({"id_column": "store", "types": ["weather=count"]}, "declared count but holds"),
    ]
    for kwargs, message in bad:
        with pytest.raises(TableError, match=message):
            infer_spec(table, time_column="date", **kwargs)  # type: ignore[arg-type]
    dup = pd.concat([table, table.iloc[:1]])
    with pytest.raises(TableError, match="has two rows at date"):
        infer_spec(dup, id_column="store", time_column="date")


def test_etth1_columns_as_entities_of_different_lengths() -> None:
    spec, _ = infer_spec(etth1_entities(rows=1200), id_column="sensor", time_column="date")
    assert [c.name for c in spec.static] == ["group"]
    assert [c.kind for c in spec.dynamic] in (["continuous"], ["nonnegative"])
    assert len(spec.length_values) == 7 and spec.length_values[0] == 1200 - 6 * 150
    assert {tuple(c.values): c.count for c in spec.static_combos} == {("load",): 6, ("oil",): 1}


def test_encode_then_decode_gives_the_table_back() -> None:
    """Exact channels decode to the original values, gaps, categories and stamps."""
    table = mixed_table(entities=3)
    spec, frame = infer_spec(table, id_column="store", time_column="date")
    layout = channel_layout(spec)
    for (x, _), (_, entity) in zip(
        encode_entities(spec, frame), frame.groupby("store", sort=False), strict=True
    ):
        length = len(x)
        raw = x[None].copy()
        # Discrete channels are exact 0/1 here, so any uniform in (0, 1) samples them back.
        uniforms = np.full((1, length, layout.uniforms_per_step(spec)), 0.5)
        static = [[entity["region"].iloc[0], float(entity["size"].iloc[0])]]
        start = entity["__t"].iloc[0]
        out = decode(
            spec,
            raw,
            uniforms=uniforms,
            lengths=np.array([length]),
            static=static,
            starts=np.array([start]),
            ids=["store-x"],
        )
        back = out.to_arrow(spec).to_pandas()
        assert list(back["weather"]) == list(entity["weather"])
        assert list(back["visitors"]) == list(entity["visitors"])
        assert list(back["open"]) == list(entity["open"])
        assert back["humidity"].isna().tolist() == entity["humidity"].isna().tolist()
        np.testing.assert_allclose(
            back["humidity"].dropna(), entity["humidity"].dropna(), rtol=1e-5
        )
        assert list(back["date"]) == list(entity["date"])


def _calendar_table(freq: str, periods: int = 36) -> tuple[TableSpec, pd.DatetimeIndex]:
    stamps = pd.date_range("2020-01-01", periods=periods, freq=freq)
    table = pd.DataFrame(
        {
            "shop": np.repeat(["a", "b"], periods),
            "date": np.tile(stamps, 2),
            "sales": np.arange(2.0 * periods),
        }
    )
    spec, _ = infer_spec(table, id_column="shop", time_column="date")
    assert spec.time is not None and spec.time.freq and not spec.time.regular
    assert pd.tseries.frequencies.to_offset(spec.time.freq).is_on_offset(stamps[1])
    return spec, stamps


def _constant_generator(spec: TableSpec, value: float) -> Callable[..., np.ndarray]:
    """A generator (noise, condition) -> (n, T, D) whose every output is `value`."""
    width = channel_layout(spec).width

    def run(noise: np.ndarray, condition: np.ndarray) -> np.ndarray:
        return np.full((noise.shape[0], noise.shape[1], width), value, dtype=np.float32)

    return run


def _synthetic_stamps(spec: TableSpec, gap: float, *, start: float | None = None) -> pd.Series:
    """Stamps of 4 series of 36 steps from a generator whose every output is `gap` (the gap
    channel's scaled value among them)."""
    run = _constant_generator(spec, gap)
    out = synthesize(spec, run, latent_dim=4, n=4, seed=0, length=36, start=start)
    return pd.to_datetime(out.to_arrow(spec).to_pandas()["date"])


@pytest.mark.parametrize("gap", [0.0, 0.5, 1.0])
def test_synthetic_stamps_of_a_calendar_frequency_stay_on_it(gap: float) -> None:
    """Month starts are 28 to 31 days apart: whatever gap a generator puts out (the shortest,
    a mid-range one, the longest seen), a monthly table's synthetic stamps are month starts,
    as every real one is, one month apart (no gap of this table is two months)."""
    spec, _ = _calendar_table("MS")
    stamps = _synthetic_stamps(spec, gap)
    assert stamps.dt.is_month_start.all() and (stamps.dt.normalize() == stamps).all()
    months = stamps.dt.year * 12 + stamps.dt.month
    assert set(np.diff(months.to_numpy().reshape(4, 36), axis=1).ravel()) == {1}


def test_decode_itself_puts_a_calendar_tables_stamps_on_the_calendar() -> None:
    """`decode` is what makes the stamps: called on its own (not through `synthesize`), a
    monthly table's decoded stamps are month starts one month apart too."""
    spec, months = _calendar_table("MS")
    layout = channel_layout(spec)
    raw = np.full((2, 12, layout.width), 0.3, dtype=np.float32)
    out = decode(
        spec,
        raw,
        uniforms=np.full((2, 12, max(1, layout.uniforms_per_step(spec))), 0.5),
        lengths=np.array([12, 12]),
        static=[[], []],
        starts=np.array([months[0].timestamp(), months[3].timestamp()]),
        ids=["a", "b"],
        levels=np.tile([0.0, 1.0], (2, len(spec.level_columns))),
    )
    stamps = pd.DatetimeIndex(pd.to_datetime(np.concatenate(out.times), unit="s"))
    assert stamps.is_month_start.all() and (stamps.normalize() == stamps).all()
    assert set(np.diff((stamps.year * 12 + stamps.month).to_numpy().reshape(2, 12)).ravel()) == {1}


@pytest.mark.parametrize("gap", [0.0, 1.0])
def test_quarterly_stamps_are_quarter_starts_one_quarter_apart(gap: float) -> None:
    spec, _ = _calendar_table("QS-JAN")
    stamps = _synthetic_stamps(spec, gap)
    assert stamps.dt.is_quarter_start.all() and (stamps.dt.normalize() == stamps).all()
    quarter = (stamps.dt.year * 4 + stamps.dt.quarter).to_numpy().reshape(4, 36)
    assert set(np.diff(quarter, axis=1).ravel()) == {1}


def test_a_gap_of_two_periods_skips_one() -> None:
    """Gaps in seconds become whole months: 28 to 31 days one, 59 to 62 two."""
    day = 86400.0
    start = pd.Timestamp("2021-01-01").timestamp()
    times = [start + np.cumsum([0.0, 28 * day, 62 * day, 31 * day, 59 * day])]
    (out,) = snap_times(pd.offsets.MonthBegin(), times)
    assert list(pd.to_datetime(out, unit="s").strftime("%Y-%m-%d")) == [
        "2021-01-01", "2021-02-01", "2021-04-01", "2021-05-01", "2021-07-01"
    ]  # fmt: skip


def test_business_days_skip_weekends_and_a_start_is_rolled_onto_the_frequency() -> None:
    """Business days are 1 or 3 days apart: every synthetic stamp is a weekday, each the next
    business day after the one before; a requested Saturday start begins on the Monday."""
    spec, _ = _calendar_table("B", periods=60)
    saturday = pd.Timestamp("2021-03-06").timestamp()
    for gap, start in ((0.0, None), (0.5, None), (1.0, saturday)):
        stamps = _synthetic_stamps(spec, gap, start=start).to_numpy().reshape(4, 36)
        days = pd.DatetimeIndex(stamps.ravel())
        assert (days.dayofweek < 5).all()
        steps = np.diff(stamps, axis=1).astype("timedelta64[D]").astype(int)
        assert set(steps.ravel()) <= {1, 3}
        if start is not None:
            assert (pd.DatetimeIndex(stamps[:, 0]) == pd.Timestamp("2021-03-08")).all()


def test_business_hours_stay_in_office_hours_and_a_start_rolls_to_the_next_one() -> None:
    """Business hours are 1 hour apart, 17 overnight, 65 over a weekend: every synthetic stamp
    is a weekday hour from 09:00 to 16:00; a Saturday 14:00 start begins on Monday at 09:00
    and a Tuesday 14:00 one at that hour (a business hour keeps no time of day of the data's)."""
    spec, _ = _calendar_table("bh", periods=60)
    starts = {
        "2024-03-09T14:00:00": "2024-03-11T09:00:00",
        "2024-03-12T14:00:00": "2024-03-12T14:00:00",
    }
    for gap, start in ((0.0, None), (0.5, None), *((0.0, s) for s in starts)):
        first = None if start is None else pd.Timestamp(start).timestamp()
        stamps = pd.DatetimeIndex(_synthetic_stamps(spec, gap, start=first))
        assert (stamps.dayofweek < 5).all() and ((stamps.hour >= 9) & (stamps.hour <= 16)).all()
        if start is not None:
            assert stamps[0] == pd.Timestamp(starts[start])


def test_calendar_starts_are_drawn_on_the_frequency_within_the_training_span() -> None:
    spec, months = _calendar_table("MS")
    assert spec.time is not None
    spec = spec.model_copy(
        update={"time": spec.time.model_copy(update={"start_high": months[5].timestamp()})}
    )
    out = synthesize(spec, _constant_generator(spec, 0.5), latent_dim=4, n=32, seed=3, length=3)
    firsts = pd.to_datetime(np.array([t[0] for t in out.times]), unit="s")
    assert firsts.is_month_start.all() and firsts.min() >= months[0] and firsts.max() <= months[5]
    assert firsts.nunique() > 1  # drawn, not all the earliest


def test_nan_everywhere_does_not_crash_encoding() -> None:
    table = mixed_table(entities=3)
    table.loc[table["store"] == "store-1", "humidity"] = np.nan  # a whole entity's column
    table.loc[::7, "weather"] = None
    spec, frame = infer_spec(table, id_column="store", time_column="date")
    for x, cond in encode_entities(spec, frame):
        assert np.isfinite(x).all() and np.isfinite(cond).all()
        assert x.min() >= 0 and x.max() <= 1


def test_config_rules_for_tables() -> None:
    with pytest.raises(ConfigError, match="needs data.path and data.id_col"):
        from_dict(RunConfig, {"name": "x", "task": "generate", "data": {"dataset": "table"}})


# --- round trip: table -> train -> evaluate -> export -> serve -> table ---


def _irregular_table(seed: int = 1) -> pd.DataFrame:
    """Sensors read at irregular times (gaps of 1 to 30 minutes), numeric ids."""
    rng = np.random.default_rng(seed)
    rows = []
    for e in range(6):
        t = pd.Timestamp("2024-05-01") + pd.to_timedelta(np.cumsum(rng.integers(1, 31, 40)), "min")
        for k, stamp in enumerate(t):
            rows.append({"sensor": e, "time": stamp, "reading": float(np.sin(k / 5) + e)})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, pd.DataFrame]]:
    """A small model trained on the mixed table, evaluated, exported and served."""
    from fastapi.testclient import TestClient

    from service.config import Settings
    from service.main import create_app
    from training.evaluate.run import evaluate_run
    from training.export import export
    from training.train import train

    root = tmp_path_factory.mktemp("table")
    table = mixed_table(seed=3, entities=24)
    table.to_csv(root / "stores.csv", index=False)
    config: RunConfig = from_dict(
        RunConfig,
        {
            "name": "stores",
            "task": "generate",
            "out_dir": str(root / "runs"),
            "data": {
                "dataset": "table",
                "path": str(root / "stores.csv"),
                "id_col": "store",
                "time_col": "date",
                "bounds": ["humidity=0:100"],
                "seq_len": 24,
                "stride": 4,
            },
            "model": {
                "latent_dim": 4,
                "hidden_size": 16,
                "num_layers": 1,
                "disc_hidden_size": 16,
                "disc_num_layers": 1,
                "table_head": "coupled",  # as `rnngan train --data`
            },
            "train": {
                "steps": 300,
                "batch_size": 32,
                "lr_g": 0.005,
                "moment_weight": 5.0,
                "log_every": 100,
                "threads": 1,
            },
            "eval": {"runs": 1, "disc_steps": 30, "pred_steps": 30, "batch_size": 32},
        },
    )
    train(config, progress=False)
    metrics = evaluate_run(config.run_dir)
    assert set(metrics["columns"]) == {c for c in table.columns if c not in ("store", "date")}
    export(config.run_dir, root / "models", force=True)  # a 300-step model; the round trip
    app = create_app(Settings(models_dir=root / "models", _env_file=None))  # type: ignore[call-arg]
    with TestClient(app) as client:
        yield client, table


def test_manifest_carries_the_table(served: tuple[object, pd.DataFrame]) -> None:
    client, _ = served
    body = client.get("/v1/models/stores").json()  # type: ignore[attr-defined]
    assert body.pop("versions") == [1]  # the route adds the versions that can be pinned
    manifest = Manifest.model_validate(body)
    assert manifest.table is not None and manifest.table.id_column == "store"
    assert manifest.onnx.inputs == ["noise", "condition"]
    assert manifest.features == ["weather", "visitors", "open", "humidity"]
    assert "columns" in manifest.metrics and "lengths" in manifest.metrics


def test_report_route_serves_the_quality_report(served: tuple[object, pd.DataFrame]) -> None:
    client, _ = served
    r = client.get("/v1/models/stores/report")  # type: ignore[attr-defined]
    assert r.status_code == 200
    body = r.json()
    assert body["model"] == "stores" and body["evaluated"] is True
    assert set(body["verdict"]) == {"passed", "line", "failed", "collapse_suspected"}
    assert any(c["name"].startswith("visitors: per-entity") for c in body["checks"])
    missing = client.get("/v1/models/nope/report")  # type: ignore[attr-defined]
    assert missing.status_code == 404


def test_dataset_round_trip_keeps_the_layout(served: tuple[object, pd.DataFrame]) -> None:
    client, table = served
    r = client.post(  # type: ignore[attr-defined]
        "/v1/models/stores/datasets", json={"n": 40, "seed": 5, "format": "parquet"}
    )
    assert r.status_code == 200, r.text
    out = pd.read_parquet(io.BytesIO(r.content))
    assert list(out.columns) == list(table.columns)
    assert pd.api.types.is_datetime64_any_dtype(out["date"])
    assert out["visitors"].dtype == np.int64 and (out["visitors"] >= 0).all()
    assert out["size"].dtype == np.int64 and set(out["size"]) <= set(table["size"])
    assert out["open"].dtype == bool
    assert set(out["weather"].dropna()) <= {"sun", "cloud", "rain"}
    assert set(out["region"]) <= {"north", "south", "east"}
    assert out["humidity"].dropna().between(0, 100).all()
    # One static value per entity, hourly stamps inside each entity, drawn lengths.
    per = out.groupby("store")
    assert (per["region"].nunique() == 1).all() and out["store"].nunique() == 40
    assert (per["date"].apply(lambda d: d.diff().dropna().eq(pd.Timedelta("1h")).all())).all()
    lengths = per.size()
    lo, hi = table.groupby("store").size().agg(["min", "max"])
    assert lengths.between(lo, hi).all() and lengths.nunique() > 1
    # Same body, same bytes; csv reads back with the same columns.
    csv = client.post("/v1/models/stores/datasets", json={"n": 3, "seed": 5})  # type: ignore[attr-defined]
    again = client.post("/v1/models/stores/datasets", json={"n": 3, "seed": 5})  # type: ignore[attr-defined]
    assert csv.content == again.content
    assert list(pd.read_csv(io.StringIO(csv.text)).columns) == list(table.columns)


def test_shards_concatenate_to_the_whole(served: tuple[object, pd.DataFrame]) -> None:
    client, _ = served
    whole = client.post("/v1/models/stores/datasets", json={"n": 6, "seed": 2}).content  # type: ignore[attr-defined]
    first = client.post("/v1/models/stores/datasets", json={"n": 4, "seed": 2}).content  # type: ignore[attr-defined]
    rest = client.post(  # type: ignore[attr-defined]
        "/v1/models/stores/datasets", json={"n": 2, "seed": 2, "offset": 4}
    ).content
    assert first + rest == whole


def test_missing_share_is_reproduced(served: tuple[object, pd.DataFrame]) -> None:
    client, table = served
    r = client.post("/v1/models/stores/datasets", json={"n": 300, "seed": 1, "format": "parquet"})  # type: ignore[attr-defined]
    out = pd.read_parquet(io.BytesIO(r.content))
    real, synthetic = table["humidity"].isna().mean(), out["humidity"].isna().mean()
    assert abs(real - synthetic) < 0.05, (real, synthetic)
    assert out["visitors"].notna().all()  # a column without gaps gets none
    imputed = client.post(  # type: ignore[attr-defined]
        "/v1/models/stores/datasets",
        json={"n": 300, "seed": 1, "format": "parquet", "impute": True},
    )
    assert pd.read_parquet(io.BytesIO(imputed.content))["humidity"].notna().all()


def test_conditioning(served: tuple[object, pd.DataFrame]) -> None:
    client, table = served
    post = client.post  # type: ignore[attr-defined]
    r = post("/v1/models/stores/samples", json={"n": 30, "condition": {"region": "east"}})
    assert r.status_code == 200
    body = r.json()
    assert {s["region"] for s in body["static"]} == {"east"}
    east_sizes = set(table.loc[table["region"] == "east", "size"])
    assert {s["size"] for s in body["static"]} <= east_sizes  # partial: size from east's own
    both = post(
        "/v1/models/stores/samples",
        json={"n": 5, "condition": {"region": "east", "size": min(east_sizes)}},
    ).json()
    assert {(s["region"], s["size"]) for s in both["static"]} == {("east", min(east_sizes))}
    # Samples come back typed, with stamps and ids.
    row = body["samples"][0][0]
    assert isinstance(row[0], str) and isinstance(row[1], int) and isinstance(row[2], bool)
    assert len(body["timestamps"][0]) == len(body["samples"][0])
    assert body["ids"][0] == "synthetic-0"
    start = post(
        "/v1/models/stores/samples", json={"n": 1, "length": 3, "start": "2030-02-01T06:00:00"}
    ).json()
    assert start["timestamps"] == [
        ["2030-02-01T06:00:00", "2030-02-01T07:00:00", "2030-02-01T08:00:00"]
    ]


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"condition": {"region": "west"}}, 422, "region='west' is not a known category"),
        ({"condition": {"colour": "red"}}, 422, "'colour' is not a column"),
        ({"condition": {"weather": "sun"}}, 422, "'weather' varies in time"),
        ({"condition": {"size": 1.5}}, 422, "whole number"),
        ({"condition": {"region": 3}}, 422, "region=3"),
        ({"start": "not a date"}, 422, "'start'"),
        ({"start": 12}, 422, "ISO-8601"),
        ({"start": "1500-01-01"}, 422, "outside the date-times this service represents"),
        ({"start": "9999-12-31T23:00:00"}, 422, "(1677-09-22 to 2262-04-11)"),
        ({"n": 10**9}, 413, "limit"),
        ({"length": 10**6}, 413, "limit"),
    ],
)
def test_bad_table_requests(
    served: tuple[object, pd.DataFrame], body: dict[str, object], status: int, says: str
) -> None:
    client, _ = served
    r = client.post("/v1/models/stores/samples", json=body)  # type: ignore[attr-defined]
    assert r.status_code == status, r.text
    assert says in r.json()["detail"]
    r = client.post("/v1/models/stores/datasets", json=body)  # type: ignore[attr-defined]
    assert r.status_code == status, r.text


def test_table_options_refused_by_plain_models(client: object) -> None:
    r = client.post("/v1/models/sines/samples", json={"condition": {"a": "b"}})  # type: ignore[attr-defined]
    assert r.status_code == 422 and "trained on a table" in r.json()["detail"]
    r = client.post("/v1/models/sines/datasets", json={"impute": True})  # type: ignore[attr-defined]
    assert r.status_code == 422


def test_irregular_timestamps_round_trip(tmp_path: Path) -> None:
    """Numeric ids and irregular stamps: the gap is learned, stamps come back increasing."""
    from rnngan.core.tables.sample import synthesize
    from training.families.table_gan import TableGraph, build

    table = _irregular_table()
    spec, _ = infer_spec(table, id_column="sensor", time_column="time")
    assert spec.time is not None and not spec.time.regular and spec.id_integer
    config: RunConfig = from_dict(
        RunConfig,
        {
            "name": "sensors",
            "task": "generate",
            "data": {"dataset": "table", "path": "unused.csv", "id_col": "sensor"},
            "model": {"latent_dim": 2, "hidden_size": 8, "num_layers": 1},
        },
    )
    graph = TableGraph(build(config, spec)[0]).eval()

    def run(noise: np.ndarray, condition: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            return graph(torch.from_numpy(noise), torch.from_numpy(condition)).numpy()

    out = synthesize(spec, run, latent_dim=2, n=4, seed=0).to_arrow(spec).to_pandas()
    assert list(out.columns) == ["sensor", "time", "reading"]
    assert out["sensor"].tolist()[0] == 0 and out["sensor"].dtype == np.int64
    gaps = out.groupby("sensor")["time"].apply(lambda t: t.diff().dropna())
    assert (gaps >= pd.Timedelta("1min")).all() and (gaps <= pd.Timedelta("30min")).all()
    json.dumps(synthesize(spec, run, latent_dim=2, n=2, seed=0).to_json(spec))  # serialisable


def _monthly_config(tmp_path: Path) -> RunConfig:
    """Four shops' monthly sales (48 month starts each) and a tiny generator's config for them."""
    months = pd.date_range("2015-01-01", periods=48, freq="MS")
    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        {
            "shop": np.repeat([f"s{i}" for i in range(4)], 48),
            "date": np.tile(months, 4),
            "sales": rng.gamma(4.0, 10.0, 4 * 48).round(1),
        }
    )
    table.to_csv(tmp_path / "monthly.csv", index=False)
    return from_dict(  # type: ignore[no-any-return]
        RunConfig,
        {
            "name": "monthly",
            "task": "generate",
            "out_dir": str(tmp_path / "runs"),
            "data": {
                "dataset": "table",
                "path": str(tmp_path / "monthly.csv"),
                "id_col": "shop",
                "time_col": "date",
                "seq_len": 12,
            },
            "model": {"latent_dim": 2, "hidden_size": 8, "num_layers": 1},
            "train": {"steps": 4, "batch_size": 8, "log_every": 2, "threads": 1},
        },
    )


def test_a_monthly_tables_verdict_leaves_the_raw_gap_channel_out(tmp_path: Path) -> None:
    """A calendar frequency's stamps are put on the calendar when a table is decoded, so the
    generator's raw gap channel (continuous where the real one takes 28 to 31 days) is not
    scored: no window check names it, and the decoded gaps are the real ones."""
    from training.checkpoint import load_run
    from training.evaluate.run import evaluate_run
    from training.train import train

    config = _monthly_config(tmp_path)
    config = replace(config, eval=replace(config.eval, runs=1, disc_steps=5, pred_steps=5))
    train(config, progress=False)
    assert load_run(config.run_dir).config.eval.disc_steps == 5
    metrics = evaluate_run(config.run_dir)
    names = [c["name"] for c in metrics["quality"]["checks"]]
    assert any(n.startswith("sales") for n in names)
    assert not [n for n in names if n.startswith("gap")]
    assert metrics["lengths"]["median_gap_synthetic"] == metrics["lengths"]["median_gap_real"]


def test_a_monthly_model_serves_month_starts(tmp_path: Path) -> None:
    """Train (a few steps) -> export -> serve a monthly table's generator: /samples and
    /datasets stamps are month starts at the data's midnight, and a start off them begins at
    the next one (an offset start converted to UTC first)."""
    from fastapi.testclient import TestClient

    from service.config import Settings
    from service.main import create_app
    from training.export import export
    from training.train import train

    config = _monthly_config(tmp_path)
    train(config, progress=False)
    export(config.run_dir, tmp_path / "models", force=True)
    app = create_app(Settings(models_dir=tmp_path / "models", _env_file=None))  # type: ignore[call-arg]
    with TestClient(app) as client:
        body = client.post("/v1/models/monthly/samples", json={"n": 3, "length": 12}).json()
        stamps = pd.to_datetime([t for series in body["timestamps"] for t in series])
        assert stamps.is_month_start.all() and (stamps.normalize() == stamps).all()
        for start in ("2030-01-15", "2030-02-01T02:00:00+02:00", "2030-02-01T00:00:00"):
            late = client.post(
                "/v1/models/monthly/samples", json={"n": 2, "length": 3, "start": start}
            ).json()
            assert late["timestamps"][0] == [
                "2030-02-01T00:00:00", "2030-03-01T00:00:00", "2030-04-01T00:00:00"
            ]  # fmt: skip
        # A start later on a month's first day than the data's stamps: the next month's first.
        late = client.post(
            "/v1/models/monthly/samples", json={"n": 1, "length": 1, "start": "2030-02-01T06:00"}
        ).json()
        assert late["timestamps"] == [["2030-03-01T00:00:00"]]
        r = client.post("/v1/models/monthly/datasets", json={"n": 5, "format": "csv"})
        assert r.status_code == 200, r.text
        dates = pd.read_csv(io.StringIO(r.text), parse_dates=["date"])["date"]
        assert len(dates) == 5 * 48 and dates.dt.is_month_start.all()


def _stores_graph(head: str) -> tuple[TableSpec, object, int]:
    """An untrained generator for the stores table with `head`, its numpy runner and noise width."""
    import torch

    from training.families.table_gan import TableGraph, build

    spec, _ = infer_spec(mixed_table(entities=6), id_column="store", time_column="date")
    config: RunConfig = from_dict(
        RunConfig,
        {
            "name": "stores",
            "task": "generate",
            "data": {"dataset": "table", "path": "unused.csv", "id_col": "store"},
            "model": {"latent_dim": 3, "hidden_size": 8, "num_layers": 1, "table_head": head},
        },
    )
    torch.manual_seed(0)
    graph = TableGraph(build(config, spec)[0]).eval()

    def run(noise: np.ndarray, condition: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return graph(torch.from_numpy(noise), torch.from_numpy(condition)).numpy()

    return spec, run, graph.generator.noise_dim


def test_coupled_head_draws_the_discrete_channels_itself() -> None:
    """A coupled generator reads one more noise value per category and per Bernoulli channel,
    and its discrete channels come out exactly 0 or 1 (one category per column), so the
    sampler's own uniforms change nothing; an independent one emits probabilities."""
    from rnngan.core.noise import series_noise
    from rnngan.core.tables.codec import decode, series_ids

    spec, run, width = _stores_graph("coupled")
    layout = channel_layout(spec)
    # weather: 3 categories; open and humidity's mask: Bernoulli
    assert width == 3 + 3 + 2
    assert _stores_graph("independent")[2] == 3
    noise = series_noise(0, 0, 5, 20, width)
    condition = np.zeros((5, spec.condition_dim), dtype=np.float32)
    raw = run(noise, condition)
    weather = raw[..., layout.values["weather"]]
    assert set(np.unique(weather)) == {0.0, 1.0}
    assert np.array_equal(weather.sum(axis=-1), np.ones(weather.shape[:2]))
    for flag in (layout.values["open"].start, layout.masks["humidity"]):
        assert set(np.unique(raw[..., flag])) <= {0.0, 1.0}
    visitors = raw[..., layout.values["visitors"]]
    assert ((visitors > 0) & (visitors < 1)).all()

    def decoded(seed: int) -> pd.DataFrame:
        per_step = layout.uniforms_per_step(spec)
        u = np.random.default_rng(seed).uniform(1e-6, 1 - 1e-6, (5, 20, per_step))
        return (
            decode(
                spec,
                raw,
                uniforms=u,
                lengths=np.full(5, 20),
                static=[["east", 1]] * 5,
                starts=np.zeros(5),
                ids=series_ids(spec, 0, 5),
                levels=np.tile([3.0, 1.0] * len(spec.level_columns), (5, 1)),
            )
            .to_arrow(spec)
            .to_pandas()
        )

    pd.testing.assert_frame_equal(decoded(1), decoded(2))
    _, independent, _ = _stores_graph("independent")
    soft = independent(noise[..., :3], condition)[..., layout.values["weather"]]
    assert ((soft > 0) & (soft < 1)).all()


def test_coupled_numbers_follow_the_drawn_flag() -> None:
    """The numbers of a step are computed from that step's draws: flipping only the discrete
    noise of one step changes the numeric channels from that step on, never before it."""
    import torch

    spec, run, width = _stores_graph("coupled")
    layout = channel_layout(spec)
    g = torch.Generator().manual_seed(3)
    noise = torch.randn(1, 12, width, generator=g).numpy()
    condition = np.zeros((1, spec.condition_dim), dtype=np.float32)
    # The discrete noise: weather's 3 Gumbel values, then one per Bernoulli channel in channel
    # order (open, humidity's mask); a noise of -8 draws the flag, +8 does not.
    bernoulli = sorted([layout.values["open"].start, layout.masks["humidity"]])
    open_noise = 3 + 3 + bernoulli.index(layout.values["open"].start)
    noise[0, 6, open_noise] = -8.0
    changed = noise.copy()
    changed[0, 6, open_noise] = 8.0
    base, other = run(noise, condition), run(changed, condition)
    flag, visitors = layout.values["open"].start, layout.values["visitors"].start
    assert base[0, 6, flag] == 1.0 and other[0, 6, flag] == 0.0
    assert np.array_equal(base[0, :6], other[0, :6])
    assert base[0, 6, visitors] != other[0, 6, visitors]


def test_unknown_condition_is_named() -> None:
    spec, _ = infer_spec(mixed_table(entities=4), id_column="store", time_column="date")
    with pytest.raises(TableError, match="'north2' is not a known category; known: east"):
        resolve_condition(spec, {"region": "north2"})


def test_forecast_a_target_column_of_a_table(tmp_path: Path) -> None:
    """Forecasting on an own table: one model over every entity, scored per entity split,
    exported and served by the forecast route."""
    from fastapi.testclient import TestClient

    from service.config import Settings
    from service.main import create_app
    from training.evaluate.run import evaluate_run
    from training.export import export
    from training.train import train

    config = tiny_table_forecast(tmp_path, steps=20)  # sensors.csv: etth1_entities(rows=1200)
    train_config = replace(config.train, select_every=10, select_samples=50, log_every=100)
    config = replace(config, name="sensors_fc", out_dir=str(tmp_path / "runs"), train=train_config)
    train(config, progress=False)
    metrics = evaluate_run(config.run_dir)
    assert metrics["entities"] == 7 and metrics["n_windows"] > 7
    assert set(metrics["test"]) == {"gan", "gan_uncalibrated", "seasonal_naive", "AutoETS"}
    export(config.run_dir, tmp_path / "models")
    manifest = Manifest.read(tmp_path / "models" / "sensors_fc" / "1" / "manifest.json")
    assert manifest.task == "forecast" and manifest.freq == "h" and manifest.context_len == 48
    app = create_app(Settings(models_dir=tmp_path / "models", _env_file=None))  # type: ignore[call-arg]
    with TestClient(app) as client:
        r = client.post(
            "/v1/models/sensors_fc/forecast",
            json={"series": [{"id": "a", "values": [float(v) for v in range(60)]}]},
        )
        assert r.status_code == 200 and len(r.json()["forecasts"][0]["mean"]) == 12
    with pytest.raises(TableError, match="is not in the table"):
        from training.data.table_forecast import load_table_forecast

        load_table_forecast(
            from_dict(
                RunConfig,
                {**config.to_dict(), "data": {**config.to_dict()["data"], "target": "nope"}},
            ).data
        )


def test_cli_inspect_and_clear_cli_errors(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from rnngan.cli import app

    mixed_table(entities=4).to_csv(tmp_path / "stores.csv", index=False)
    runner = CliRunner()
    data = str(tmp_path / "stores.csv")
    out = runner.invoke(app, ["inspect", "--data", data, "--id-col", "store", "--time-col", "date"])
    assert out.exit_code == 0, out.output
    assert "visitors" in out.output and "count" in out.output and "static" in out.output
    # Without --id-col a file is one series, but these stores' hours overlap: asked for it.
    bad = runner.invoke(app, ["train", "--data", data, "--time-col", "date"])
    assert bad.exit_code == 2 and "--id-col" in bad.output
    bad = runner.invoke(app, ["train", "--data", data, "--id-col", "shop"])
    assert bad.exit_code == 2 and "column 'shop' is not in the table" in bad.output
    bad = runner.invoke(app, ["train", "--data", data, "--id-col", "store", "--task", "forecast"])
    assert bad.exit_code == 2 and "--target" in bad.output


def test_cli_generate_for_a_table_model(
    served: tuple[object, pd.DataFrame], tmp_path: Path
) -> None:
    """`rnngan generate` writes the bytes of the /datasets route, options included."""
    from typer.testing import CliRunner

    from rnngan.cli import app

    client, _ = served
    models_dir = Path(client.app.state.rnngan.settings.models_dir)  # type: ignore[attr-defined]
    out = tmp_path / "out.csv"
    args = ["generate", "--model", "stores", "--n", "7", "--seed", "3", "--out", str(out)]
    args += [
        "--condition",
        "region=north",
        "--start",
        "2031-01-01",
        "--models-dir",
        str(models_dir),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    body = {"n": 7, "seed": 3, "condition": {"region": "north"}, "start": "2031-01-01"}
    http = client.post("/v1/models/stores/datasets", json=body)  # type: ignore[attr-defined]
    assert out.read_bytes() == http.content
    bad = CliRunner().invoke(app, [*args, "--condition", "region=west"])
    assert bad.exit_code == 2 and "not a known category" in bad.output
    bad = CliRunner().invoke(app, [*args, "--condition", "region"])
    assert bad.exit_code == 2 and "expected column=value" in bad.output
    bad = CliRunner().invoke(app, [*args, "--start", "soon"])
    assert bad.exit_code == 2 and "'start'" in bad.output
    assert out.read_bytes() == http.content  # a refused request leaves the earlier file alone
