"""Per-entity levels and log1p for heavy-tailed columns (rnngan/core/tables, issue #15): what
inference decides, that encode -> decode gives the table back, that sampling draws levels
reproducibly, and that specs without levels decode exactly as before (pinned bytes)."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pandas as pd
import pyarrow.csv as pc
import pytest

from examples.tables import mixed_table
from rnngan.core.tables.codec import decode, encode_entities
from rnngan.core.tables.infer import infer_spec
from rnngan.core.tables.sample import draw_series, synthesize
from rnngan.core.tables.spec import TableSpec, channel_layout


def _panel(entities: int = 12, length: int = 48, seed: int = 0) -> pd.DataFrame:
    """Daily-cycle entities whose levels span 1e-2 … 1e3, plus a static region."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    rows = []
    for k, level in enumerate(10 ** np.linspace(-2, 3, entities)):
        values = (
            level * (1.5 + np.sin(2 * np.pi * t / 24)) * np.exp(0.05 * rng.standard_normal(length))
        )
        rows.append(
            pd.DataFrame(
                {
                    "site": f"s{k:02d}",
                    "hour": pd.date_range("2025-01-01", periods=length, freq="h"),
                    "region": "north" if k % 2 else "south",
                    "traffic": values,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def _run(spec: TableSpec):  # type: ignore[no-untyped-def]
    d = spec.channels

    def run(noise: np.ndarray, cond: np.ndarray) -> np.ndarray:
        w = np.linspace(-1, 1, noise.shape[-1] * d).reshape(noise.shape[-1], d)
        v = np.linspace(0.5, -0.5, cond.shape[-1] * d).reshape(cond.shape[-1], d)
        return 1 / (1 + np.exp(-(noise @ w + (cond @ v)[:, None, :])))

    return run


def test_levels_inferred_for_a_heavy_tailed_panel() -> None:
    spec, _ = infer_spec(_panel(), id_column="site", time_column="hour")
    (traffic,) = spec.dynamic
    assert traffic.kind == "nonnegative" and traffic.log_scale and traffic.level
    assert len(spec.entity_levels) == 12
    assert {e.combo for e in spec.entity_levels} == {0, 1}  # north, south
    assert spec.condition_dim == 2 + 2 + 1  # region one-hot, level mean and log std, constant
    means = [e.values[0] for e in spec.entity_levels]
    assert means == sorted(means)  # entity k has level 10 ** (...k...), in log1p space


def test_levels_not_inferred_for_alike_entities() -> None:
    spec, _ = infer_spec(mixed_table(seed=3, entities=6), id_column="store", time_column="date")
    assert not spec.level_columns and not spec.entity_levels
    assert spec.condition_dim == sum(c.width for c in spec.static) + 1


def test_levels_encode_then_decode_gives_the_values_back() -> None:
    spec, frame = infer_spec(_panel(), id_column="site", time_column="hour")
    entities = encode_entities(spec, frame)
    for e, ((x, cond), (_, entity)) in enumerate(
        zip(entities, frame.groupby("site", sort=False), strict=True)
    ):
        assert 0.0 <= x.min() and x.max() <= 1.0 and cond.shape == (spec.condition_dim,)
        out = decode(
            spec,
            x[None].astype(np.float64),
            uniforms=np.full((1, len(x), 1), 0.5),
            lengths=np.array([len(x)]),
            static=[[entity["region"].iloc[0]]],
            starts=np.array([entity["__t"].iloc[0]]),
            ids=["a"],
            levels=np.asarray([spec.entity_levels[e].values]),
        )
        np.testing.assert_allclose(out.columns["traffic"][0], entity["traffic"], rtol=2e-5)


def test_levels_channels_are_relative_to_each_entity() -> None:
    """Every entity uses the channel's range, whatever its level (no collapse onto 0)."""
    spec, frame = infer_spec(_panel(), id_column="site", time_column="hour")
    spreads = [float(x[:, 0].std()) for x, _ in encode_entities(spec, frame)]
    assert min(spreads) > 0.1


def test_levels_sampling_same_seed_same_bytes_and_series_independent_of_n() -> None:
    spec, _ = infer_spec(_panel(), id_column="site", time_column="hour")
    run = _run(spec)
    a = synthesize(spec, run, latent_dim=3, n=6, seed=4).to_arrow(spec)
    b = synthesize(spec, run, latent_dim=3, n=6, seed=4).to_arrow(spec)
    assert a.equals(b)
    part = synthesize(spec, run, latent_dim=3, n=2, seed=4, offset=3).to_arrow(spec).to_pandas()
    whole = a.to_pandas()
    tail = whole[whole["site"].isin(["synthetic-3", "synthetic-4"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(part, tail)
    *_, levels = draw_series(spec, run, latent_dim=3, n=200, seed=4)
    assert levels is not None
    trained = {tuple(e.values) for e in spec.entity_levels}
    assert {tuple(row) for row in levels} <= trained  # drawn from the training levels
    assert len({tuple(row) for row in levels}) >= 10  # ... and many of them


def test_levels_follow_the_condition() -> None:
    spec, _ = infer_spec(_panel(), id_column="site", time_column="hour")
    run = _run(spec)
    raw, _, static, _, levels = draw_series(
        spec, run, latent_dim=3, n=40, seed=1, condition={"region": "north"}
    )
    north = {tuple(e.values) for e in spec.entity_levels if e.combo == 0}
    assert {row[0] for row in static} == {"north"}
    assert {tuple(row) for row in levels} <= north  # type: ignore[union-attr]


@pytest.mark.parametrize("field", ["level", "z_low", "z_high"])
def test_levels_old_specs_have_no_level_fields(field: str) -> None:
    spec, _ = infer_spec(mixed_table(seed=3, entities=6), id_column="store", time_column="date")
    dumped = spec.model_dump(exclude_defaults=True)
    assert all(field not in c for c in dumped["columns"])
    assert "entity_levels" not in dumped
    assert TableSpec.model_validate(dumped) == spec


def test_levels_spec_without_levels_decodes_as_before() -> None:
    """Pinned: the bytes the code before issue #15 produced for this spec and graph."""
    table = mixed_table(seed=3, entities=6)
    spec, _ = infer_spec(table, id_column="store", time_column="date", bounds=["humidity=0:100"])
    assert channel_layout(spec).width == spec.channels
    out = synthesize(spec, _run(spec), latent_dim=3, n=5, seed=11, offset=2).to_arrow(spec)
    buf = io.BytesIO()
    pc.write_csv(out, buf)
    digest = hashlib.sha256(buf.getvalue()).hexdigest()
    assert digest == "0861bb8cba0c50e1cd92518c7f7d377f30137649f31aadc774e7eefb9ed51816"
