"""The default forecaster (training/families/panel_forecast.py): untrained it IS the seasonal
naive, its graph scales each window itself, takes any horizon, and the v1 model stays trainable;
the season is inferred from the time column; the evaluation says when it does not beat the
seasonal naive."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from rnngan.core.tables.spec import TableError
from tests.training.helpers import tiny_forecast
from training.checkpoint import load_run
from training.config import RunConfig, from_dict
from training.data.forecast_calendar import infer_season
from training.data.forecast_panel import FEW_WINDOWS, EntitySplit, TableForecastData
from training.evaluate.versus import (
    RATIO_FLOOR,
    block,
    block_from_paths,
    compare,
    geometric_mean,
    seasonal_naive_point,
)
from training.export import export
from training.families import build_graph, panel_selection
from training.families import panel_forecast as panel
from training.train import train


def _graph() -> panel.PanelForecastGraph:
    torch.manual_seed(0)
    gen = panel.PanelGenerator(
        context=48, horizon=12, season=24, latent_dim=2, hidden=8, patch=4, enc_patch=24
    )
    return panel.PanelForecastGraph(gen).eval()


def test_untrained_generator_is_the_seasonal_naive() -> None:
    graph = _graph()
    hist = 10.0 + torch.randn(3, 48, generator=torch.Generator().manual_seed(1))
    noise = torch.randn(3, 4, 12, 2)
    with torch.no_grad():
        out = graph(hist, noise).numpy()
    expected = seasonal_naive_point(hist.numpy(), 12, 24)
    np.testing.assert_allclose(out, np.repeat(expected[:, None], 4, axis=1), atol=1e-4)


def test_graph_scales_each_window_and_takes_shorter_horizons() -> None:
    graph = _graph()
    for p in graph.parameters():  # a non-trivial correction
        p.data.add_(0.1 * torch.randn_like(p))
    hist = 5.0 + torch.rand(2, 48)
    noise = torch.randn(2, 3, 12, 2)
    with torch.no_grad():
        small = graph(hist, noise).numpy()
        big = graph(hist * 1000.0, noise).numpy()
        short = graph(hist, noise[:, :, :5]).numpy()
    np.testing.assert_allclose(big, small * 1000.0, rtol=1e-4)
    assert short.shape == (2, 3, 5) and np.isfinite(short).all()
    with torch.no_grad():  # a constant history stays finite (scale falls back to 1)
        assert np.isfinite(graph(torch.full((1, 48), 7.0), noise[:1]).numpy()).all()


def test_season_is_inferred_from_the_spacing() -> None:
    assert infer_season(3600.0, "datetime", True) == 24
    assert infer_season(300.0, "datetime", True) == 288
    assert infer_season(86400.0, "datetime", True) == 7
    assert infer_season(7 * 86400.0, "datetime", True) == 52
    assert infer_season(30.4 * 86400.0, "datetime", False) == 12
    assert infer_season(1.0, "numeric", True) == 1
    # calendar frequencies (rnngan/core/calendar.py): business days, month starts, quarters
    assert infer_season(86400.0, "datetime", False, "B") == 5
    assert infer_season(2678400.0, "datetime", False, "MS") == 12
    assert infer_season(7862400.0, "datetime", False, "QS-JAN") == 4


def test_selection_keeps_step_zero_as_a_candidate(tmp_path: Path) -> None:
    config = tiny_forecast(tmp_path)
    config = dataclasses.replace(
        config, train=dataclasses.replace(config.train, select_every=1, select_samples=4)
    )
    train(config, progress=False)
    ckpt = load_run(config.run_dir)
    assert ckpt.selection is not None and ckpt.selection.step in (0, 1, 2)
    assert panel.is_panel_state(ckpt.generator)


def test_validation_and_export_use_the_moving_average_of_the_weights(tmp_path: Path) -> None:
    from training.families.forgan import ForGAN

    config = tiny_forecast(tmp_path)
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, select_every=1))
    trainer = ForGAN().trainer(config, torch.Generator().manual_seed(0))
    assert isinstance(trainer, panel.PanelTrainer)
    first = trainer.members[0]
    assert all(m.selector is not None and m.selector.graph is m.ema for m in trainer.members)
    params = dict(first.graph.generator.named_parameters())
    for _ in range(3):
        before = {k: v.clone() for k, v in first.ema.generator.state_dict().items()}
        trainer.step()
        raw = first.graph.generator.state_dict()
        for name in params:
            avg = first.ema.generator.state_dict()[name]
            expected = panel.EMA_DECAY * before[name] + (1 - panel.EMA_DECAY) * raw[name]
            torch.testing.assert_close(avg, expected, rtol=1e-6, atol=1e-7)
        head = first.ema.generator.state_dict()["head.2.weight"]
        assert not torch.equal(head, before["head.2.weight"])  # the average moved
    # Without selection, export writes each member's average as it is at the end.
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, select_every=0))
    trainer = ForGAN().trainer(config, torch.Generator().manual_seed(0))
    assert isinstance(trainer, panel.PanelTrainer)
    for _ in range(3):
        trainer.step()
    exported = trainer.checkpoint(3).generator
    head = "head.2.weight"  # starts at zero: after 3 steps the raw head has moved, the average less
    for j, m in enumerate(trainer.members):
        name = f"members.{j}.generator.{head}" if len(trainer.members) > 1 else head
        torch.testing.assert_close(exported[name], m.ema.generator.state_dict()[head])
        assert not torch.equal(exported[name], m.graph.generator.state_dict()[head])


def test_v1_kind_still_trains_and_exports(tmp_path: Path) -> None:
    config = tiny_forecast(tmp_path)
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, kind="forgan_v1"))
    train(config, progress=False)
    ckpt = load_run(config.run_dir)
    assert not panel.is_panel_state(ckpt.generator)
    assert not isinstance(build_graph(ckpt), panel.PanelForecastGraph)
    export(config.run_dir, tmp_path / "models")


def test_more_columns_of_the_file_are_more_training_series(tmp_path: Path) -> None:
    """`data.columns` of a built-in series: their train rows join the target's as training
    series; validation, the features and the graph stay the target's alone."""
    from training.families.forgan import ForGAN

    config = tiny_forecast(tmp_path)
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, select_every=1))
    rng = torch.Generator().manual_seed(0)
    alone = ForGAN().trainer(config, rng)
    more = dataclasses.replace(
        config, data=dataclasses.replace(config.data, columns=("HUFL", "OT"))
    )
    both = ForGAN().trainer(more, rng)
    assert isinstance(alone, panel.PanelTrainer) and isinstance(both, panel.PanelTrainer)
    assert len(alone.data.trains) == 1 and len(both.data.trains) == 2
    assert both.data.n_windows == 2 * alone.data.n_windows
    np.testing.assert_array_equal(both.data.trains[0], alone.data.trains[0])  # OT first
    assert both.dataset.columns == ["OT", "HUFL"] and both.features == ["OT"]
    assert both.dataset.n_windows == both.data.n_windows
    picks = [t.members[0].selector for t in (both, alone)]
    assert picks[0] is not None and picks[1] is not None
    np.testing.assert_array_equal(picks[0].w.v.histories, picks[1].w.v.histories)
    wrong = dataclasses.replace(config, data=dataclasses.replace(config.data, columns=("nope",)))
    with pytest.raises(ValueError, match=r"data.columns \['nope'\] not in ETTh1.csv"):
        ForGAN().trainer(wrong, rng)
    v1 = dataclasses.replace(more, model=dataclasses.replace(config.model, kind="forgan_v1"))
    with pytest.raises(ValueError, match="needs the default forecaster"):
        ForGAN().trainer(v1, rng)


def _exact(truth: np.ndarray, coverage: float = 0.8) -> dict[str, np.ndarray]:
    """A block of exact points whose 80 % interval covers `coverage` of the values."""
    out = block(truth[None], truth, truth)
    out["cov"] = np.full(len(truth), coverage)
    return out


def test_verdict_says_when_it_does_not_beat_seasonal_naive() -> None:
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(6, 4))
    sn = truth + 0.1
    worse = truth + 1.0
    ids = np.array([0, 0, 1, 1, 2, 2])
    blocks = {
        "gan": block(worse[None], worse, truth),
        "seasonal_naive": block(sn[None], sn, truth),
    }
    out = compare(blocks, ids, ["a", "b", "c"], calibrated=False)
    assert not out["verdict"]["passed"] and "does NOT beat" in out["verdict"]["line"]
    assert "NOT CALIBRATED" in out["verdict"]["line"]
    assert out["vs_seasonal_naive"]["gan"]["share_beating_mase"] == 0.0
    assert [r["series"] for r in out["per_series"]] == ["a", "b", "c"]
    blocks["gan"] = _exact(truth)
    assert compare(blocks, ids, ["a", "b", "c"], calibrated=True)["verdict"]["passed"]


def test_verdict_counts_its_test_windows_and_says_when_they_are_few() -> None:
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(FEW_WINDOWS, 4))
    sn = truth + 0.5
    blocks = {"gan": _exact(truth), "seasonal_naive": block(sn[None], sn, truth)}
    many = compare(blocks, np.arange(FEW_WINDOWS) % 2, ["a", "b"], calibrated=True)["verdict"]
    assert f"on the same {FEW_WINDOWS} test windows" in many["line"]
    assert many["passed"] and not many["few_windows"] and "too few" not in many["line"]
    assert many["warnings"] == []
    few_blocks = {k: {n: v[:6] for n, v in b.items()} for k, b in blocks.items()}
    few = compare(few_blocks, np.arange(6) % 2, ["a", "b"], calibrated=True)["verdict"]
    assert few["passed"] and few["few_windows"] and few["test_windows"] == 6
    assert "only 6 test windows one horizon apart: too few for a firm verdict" in few["line"]
    assert few["warnings"] == ["only 6 test windows one horizon apart: too few for a firm verdict"]
    # overlapping windows: the verdict counts the non-overlapping ones they cover
    ids = np.arange(FEW_WINDOWS) % 2
    close = compare(blocks, ids, ["a", "b"], calibrated=True, independent=7)["verdict"]
    assert close["few_windows"] and close["independent_windows"] == 7
    assert f"same {FEW_WINDOWS} test windows, overlapping: 7 one horizon apart" in close["line"]
    assert "only 7 test windows one horizon apart" in close["line"]


@pytest.mark.parametrize(
    ("coverage", "passed", "warned"),
    [
        (0.8, True, False),
        (0.75, True, False),
        (0.85, True, False),
        (0.749, True, True),
        (0.851, True, True),
        (0.6, True, True),
        (0.95, True, True),
        (0.599, False, False),
        (0.951, False, False),
        (0.0, False, False),
        (1.0, False, False),
        (float("nan"), False, False),
    ],
)
def test_verdict_judges_the_interval_coverage(coverage: float, passed: bool, warned: bool) -> None:
    """A forecaster that beats the seasonal naive on the centre but whose 80 % interval covers
    far too little (a constant or collapsed model: its interval is a point) or far too much
    fails; a coverage just off 0.75-0.85 is a warning. The bounds are inclusive."""
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(FEW_WINDOWS, 4))
    sn = truth + 0.5
    blocks = {"gan": _exact(truth, coverage), "seasonal_naive": block(sn[None], sn, truth)}
    v = compare(blocks, np.arange(FEW_WINDOWS) % 2, ["a", "b"], calibrated=True)["verdict"]
    assert v["beats_seasonal_naive"] and v["calibrated"]
    assert v["passed"] is passed
    assert v["coverage_80"] == pytest.approx(coverage, nan_ok=True)
    assert v["coverage_in_range"] is (0.75 <= coverage <= 0.85)
    assert bool(v["warnings"]) is warned
    if warned:
        assert f"80 % coverage {coverage:.3f} (outside 0.75–0.85: a warning)" in v["line"]
        assert v["warnings"] == [f"80 % coverage {coverage:.3f} outside 0.75–0.85"]
    if not passed:
        assert v["line"].startswith("FAIL, INTERVAL OFF: beats the seasonal naive")
        assert v["line"].endswith("(outside 0.60–0.95)")
        assert v["failed"] == [f"80 % coverage {coverage:.3f}, far from 0.80 (outside 0.60–0.95)"]


def test_verdict_lists_every_failure() -> None:
    """Uncalibrated, worse than the seasonal naive and covering nothing, on few windows: each
    reason in `failed`, the few windows a warning."""
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(6, 4))
    sn = truth + 0.1
    worse = truth + 1.0
    blocks = {"gan": block(worse[None], worse, truth), "seasonal_naive": block(sn[None], sn, truth)}
    v = compare(blocks, np.arange(6) % 2, ["a", "b"], calibrated=False)["verdict"]
    assert not v["passed"] and v["coverage_80"] == 0.0
    assert v["failed"] == [
        "does not beat the seasonal naive",
        "not calibrated (eval.calibrate = false)",
        "80 % coverage 0.000, far from 0.80 (outside 0.60–0.95)",
    ]
    assert v["warnings"] == ["only 6 test windows one horizon apart: too few for a firm verdict"]
    assert v["line"].startswith("FAIL, INTERVAL OFF: does NOT beat the seasonal naive")
    assert "NOT CALIBRATED" in v["line"]


def test_verdict_fails_a_point_forecaster() -> None:
    """Every path the same (a collapsed generator): the interval is a point, its coverage 0."""
    rng = np.random.default_rng(1)
    truth = rng.normal(size=(FEW_WINDOWS, 6))
    sn = truth + 1.0
    paths = np.repeat((truth + 0.1)[:, None], 20, axis=1)  # close to the truth, no spread
    blocks = {"gan": block_from_paths(paths, truth), "seasonal_naive": block(sn[None], sn, truth)}
    v = compare(blocks, np.arange(FEW_WINDOWS) % 3, list("abc"), calibrated=True)["verdict"]
    assert v["beats_seasonal_naive"] and not v["passed"] and v["coverage_80"] == 0.0


def test_few_windows_bring_the_origins_closer_together() -> None:
    """One series whose test part holds 3 windows one horizon apart: its origins come closer
    together until the part holds FEW_WINDOWS windows; a panel with enough keeps the horizon."""
    horizon, context = 12, 24

    def data(n_entities: int, rows: int) -> TableForecastData:
        values = np.arange(rows, dtype=np.float32)
        entity = EntitySplit(values, train_end=rows - 80, val_end=rows - 40, scale=1.0)
        return TableForecastData([entity] * n_entities, "y", "h", "f.csv", "0", 24)

    one = data(1, 300)
    # test part: rows [260, 300); origins 260 ... 288, 29 possible
    assert one.origin_stride("test", context, horizon) == 1
    ((_, origins),) = one.entity_origins("test", context, horizon)
    assert origins.tolist() == list(range(260, 289))  # all of them: still fewer than 30
    hist, truth, _ = one.origins("test", context, horizon)
    assert hist.shape == (29, context) and truth[1].tolist() == list(range(261, 273))
    assert data(1, 300).origin_stride("validation", context, horizon) == 1
    # 10 entities: 3 windows each one horizon apart = 30, enough
    assert data(10, 300).origin_stride("test", context, horizon) == horizon
    # 5 entities: 15 windows one horizon apart; every 6 rows gives 5 each (25), every 5: 6 (30)
    five = data(5, 300)
    assert five.origin_stride("test", context, horizon) == 5
    assert five.window_count("test", context, horizon, horizon) == 15  # one horizon apart
    assert all(np.diff(o).tolist() == [5] * 5 for _, o in five.entity_origins("test", 24, 12))


def test_baselines_score_overlapping_windows_one_fit_each() -> None:
    """Origins closer together than the horizon: statsforecast's windows are a horizon apart, so
    each origin is fit on its own, and its windows are the GAN's (the truth is checked)."""
    from types import SimpleNamespace

    from training.evaluate.panel_baselines import baseline_blocks

    rng = np.random.default_rng(0)
    rows, horizon = 120, 6
    values = (10 + np.sin(np.arange(rows) / 3) + rng.normal(0, 0.1, rows)).astype(np.float32)
    entity = EntitySplit(values, train_end=84, val_end=102, scale=1.0, name="e")
    data = TableForecastData([entity], "y", None, "f.csv", "0", 1)
    pairs = data.entity_origins("test", 24, horizon)
    ((_, origins),) = pairs
    assert origins.tolist() == list(range(102, 115))  # every row: 13 windows
    config = SimpleNamespace(
        data=SimpleNamespace(horizon=horizon, season=1),
        eval=SimpleNamespace(baselines=("AutoETS",), baseline_input_size=0),
    )
    blocks, mask, info = baseline_blocks(data, pairs, config)  # type: ignore[arg-type]
    assert blocks["AutoETS"]["err"].shape == (13,) and mask.all()
    assert info["fits"].startswith("one per origin")


def test_baselines_refit_after_a_window_left_out_over_a_gap() -> None:
    """Origins one horizon apart with one left out over a missing value: two runs, each fit on
    the history before its first origin, not a fit per origin (and not one run across the
    hole, where statsforecast's windows would no longer be the GAN's)."""
    from types import SimpleNamespace

    from training.evaluate.panel_baselines import baseline_blocks
    from training.evaluate.scores import statsforecast_quantiles

    rng = np.random.default_rng(0)
    rows, horizon = 420, 6  # a test part of 188 rows: 31 windows one horizon apart
    values = (10 + np.sin(np.arange(rows) / 3) + rng.normal(0, 0.1, rows)).astype(np.float32)
    gaps = np.zeros(rows, dtype=bool)
    gaps[245] = True  # in the test part's third window
    entity = EntitySplit(values, train_end=100, val_end=232, scale=1.0, name="e", gaps=gaps)
    data = TableForecastData([entity], "y", None, "f.csv", "0", 1)
    assert data.origin_stride("test", 24, horizon) == horizon
    pairs = data.entity_origins("test", 24, horizon)
    ((_, origins),) = pairs
    assert 244 not in origins and origins[:3].tolist() == [232, 238, 250]
    assert data.gap_windows("test", 24, horizon, horizon) == 1
    assert data.gap_entities("test", 24, horizon, horizon) == []
    config = SimpleNamespace(
        data=SimpleNamespace(horizon=horizon, season=1),
        eval=SimpleNamespace(baselines=("AutoETS",), baseline_input_size=0),
    )
    blocks, _, info = baseline_blocks(data, pairs, config)  # type: ignore[arg-type]
    assert info["fits"].startswith("2 on 1 entities: one per run")
    first, rest = origins[:2], origins[2:]
    _, point = statsforecast_quantiles(values, rest, horizon, 1, "AutoETS", 0)
    tail = np.abs(point - np.stack([values[o : o + horizon] for o in rest])).mean(axis=1)
    assert np.allclose(blocks["AutoETS"]["err"][len(first) :], tail, rtol=1e-5)


def test_a_season_longer_than_ets_fits_gets_a_seasonal_baseline_beside_autoets() -> None:
    """Above a season of 24 an AutoETS baseline is reported twice: AutoETS as statsforecast
    fits it and MSTL-AutoETS, which follows the season where AutoETS's own selection gives it
    up (on this series, a weekly pattern over a wandering level, AutoETS at season 52 errs by
    1.10 on average); at 24 and below it is AutoETS alone. Each baseline is fit once."""
    from types import SimpleNamespace

    from training.evaluate.panel_baselines import baseline_blocks
    from training.evaluate.scores import baseline_labels

    assert baseline_labels(["AutoETS"], 24) == ["AutoETS"]
    assert baseline_labels(["AutoETS", "AutoARIMA"], 52) == ["AutoETS", "MSTL-AutoETS", "AutoARIMA"]
    assert baseline_labels(["MSTL-AutoETS", "AutoETS"], 52) == ["MSTL-AutoETS", "AutoETS"]
    assert baseline_labels(["AutoARIMA"], 52) == ["AutoARIMA"]
    rng = np.random.default_rng(0)
    rows, season, horizon = 520, 52, 13
    t = np.arange(rows)
    wander = 0.5 * np.cumsum(rng.normal(0, 0.1, rows))
    values = 10 + 0.03 * t + 3 * np.sin(2 * np.pi * t / season) + wander
    values = (values + rng.normal(0, 0.2, rows)).astype(np.float32)
    entity = EntitySplit(values, train_end=300, val_end=390, scale=1.0, name="e")
    data = TableForecastData([entity], "y", None, "f.csv", "0", 1)
    pairs = data.entity_origins("test", 60, horizon)
    config = SimpleNamespace(
        data=SimpleNamespace(horizon=horizon, season=season),
        eval=SimpleNamespace(baselines=("AutoETS",), baseline_input_size=0),
    )
    blocks, _, info = baseline_blocks(data, pairs, config)  # type: ignore[arg-type]
    assert set(blocks) == {"AutoETS", "MSTL-AutoETS"}
    assert "drops the season" in info["MSTL-AutoETS"]
    assert blocks["MSTL-AutoETS"]["err"].mean() < 0.5  # 0.21
    assert 0.5 < blocks["MSTL-AutoETS"]["cov"].mean() <= 1.0
    assert blocks["AutoETS"]["err"].mean() > 2 * blocks["MSTL-AutoETS"]["err"].mean()  # 1.10


def test_an_unknown_baseline_is_refused_when_the_config_is_read() -> None:
    from training.config import ConfigError, RunConfig, from_dict

    raw = {"name": "x", "task": "forecast", "data": {"dataset": "etth1_ot"}}
    with pytest.raises(ConfigError, match=r"eval.baselines: unknown \['Prophet'\]; choose from"):
        from_dict(RunConfig, {**raw, "eval": {"baselines": ["AutoETS", "Prophet"]}})
    config = from_dict(RunConfig, {**raw, "eval": {"baselines": ["AutoTheta", "MSTL-AutoETS"]}})
    assert config.eval.baselines == ("AutoTheta", "MSTL-AutoETS")


def test_an_entity_whose_test_part_is_all_gaps_is_named() -> None:
    """An entity that loses every test window to missing values is in no test score: the
    protocol names it (`gap_entities`); one with no test window at all is not counted."""
    values = np.ones(200, dtype=np.float32)
    holed = np.zeros(200, dtype=bool)
    holed[170:] = True
    a = EntitySplit(values, train_end=140, val_end=170, scale=1.0, name="a", gaps=holed)
    b = EntitySplit(values, train_end=140, val_end=170, scale=1.0, name="b")
    data = TableForecastData([a, b], "y", None, "f.csv", "0", 1)
    stride = data.origin_stride("test", 24, 6)
    assert data.gap_entities("test", 24, 6, stride) == ["a"]
    assert [e.name for e, _ in data.entity_origins("test", 24, 6)] == ["b"]


def test_one_exact_series_does_not_decide_the_geometric_mean() -> None:
    """A model exact on one series (error 0) and twice the seasonal naive's error on the other
    two: its ratio there counts as RATIO_FLOOR, not ~0, so the mean stays above 1."""
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(6, 4))
    sn = truth + 0.5
    model = np.concatenate([truth[:2], truth[2:] + 1.0])
    ids = np.array([0, 0, 1, 1, 2, 2])
    blocks = {
        "gan": block(model[None], model, truth),
        "seasonal_naive": block(sn[None], sn, truth),
    }
    out = compare(blocks, ids, ["a", "b", "c"], calibrated=True)
    assert out["per_series"][0]["gan_mase_ratio"] < 1e-6  # the row keeps the true ratio
    want = (RATIO_FLOOR * 2.0 * 2.0) ** (1 / 3)
    assert out["vs_seasonal_naive"]["gan"]["mase_ratio"] == pytest.approx(want)
    assert geometric_mean(np.array([1e-9, 1e9])) == pytest.approx(1.0)


# --- covariates (#16.2) ---


def _cov_graph(n_cov: int = 3) -> panel.PanelForecastGraph:
    torch.manual_seed(0)
    gen = panel.PanelGenerator(
        context=48,
        horizon=12,
        season=24,
        latent_dim=2,
        hidden=8,
        patch=4,
        enc_patch=24,
        n_cov=n_cov,
    )
    return panel.PanelForecastGraph(gen).eval()


def test_untrained_generator_with_covariates_is_the_seasonal_naive() -> None:
    graph = _cov_graph()
    hist = 10.0 + torch.randn(3, 48, generator=torch.Generator().manual_seed(1))
    cov = torch.randn(3, 48 + 12, 3)
    with torch.no_grad():
        out = graph(hist, torch.randn(3, 4, 12, 2), cov).numpy()
        short = graph(hist, torch.randn(3, 4, 5, 2), cov[:, : 48 + 5]).numpy()
    expected = seasonal_naive_point(hist.numpy(), 12, 24)
    np.testing.assert_allclose(out, np.repeat(expected[:, None], 4, axis=1), atol=1e-4)
    assert short.shape == (3, 4, 5)


def test_covariates_reach_the_forecast() -> None:
    graph = _cov_graph(1)
    for p in graph.parameters():
        p.data.add_(0.1 * torch.randn_like(p))
    hist = 5.0 + torch.rand(2, 48)
    noise = torch.randn(2, 3, 12, 2)
    on, off = torch.ones(2, 60, 1), torch.zeros(2, 60, 1)
    off[:, :48] = 1.0  # the same history, another future
    with torch.no_grad():
        assert not torch.allclose(graph(hist, noise, on), graph(hist, noise, off))


def test_covariate_config_errors(tmp_path: Path) -> None:
    from tests.training.helpers import tiny_table_forecast
    from training.config import ConfigError, RunConfig, from_dict

    raw = tiny_table_forecast(tmp_path).to_dict()
    for data, message in [
        ({"calendar": ["season"]}, "data.calendar"),
        ({"calendar": ["auto", "hour"]}, "data.calendar"),
        ({"future_cols": ["value"]}, "must not include the target"),
    ]:
        with pytest.raises(ConfigError, match=message):
            from_dict(RunConfig, {**raw, "data": {**raw["data"], **data}})
    generate = tiny_forecast(tmp_path).to_dict()
    with pytest.raises(ConfigError, match="own table"):
        from_dict(RunConfig, {**generate, "data": {**generate["data"], "future_cols": ["HUFL"]}})


def test_table_covariates_are_loaded_and_standardised(tmp_path: Path) -> None:
    from examples.tables import promo_panel
    from rnngan.core.tables.spec import TableError
    from training.config import RunConfig, from_dict
    from training.data.table_forecast import load_table_forecast

    promo_panel(entities=2, rows=24 * 10).assign(note="x").to_csv(tmp_path / "p.csv", index=False)
    base = {"dataset": "table", "path": str(tmp_path / "p.csv"), "id_col": "store"}
    base |= {"time_col": "time", "target": "sales", "context_len": 48, "horizon": 12, "season": 0}
    config = from_dict(
        RunConfig,
        {
            "name": "p",
            "task": "forecast",
            "data": {**base, "future_cols": ["promo"], "calendar": ["auto"]},
        },
    )
    data = load_table_forecast(config.data)
    assert data.calendar == ("hour", "weekday") and data.future == ("promo",) and data.season == 24
    e = data.entities[0]
    assert e.covariates is not None and e.covariates.shape == (240, 5)
    assert set(np.unique(e.covariates[:, 4])) <= {0.0, 1.0}
    mean, std = data.covariate_stats  # type: ignore[misc]
    assert mean[:4].tolist() == [0.0] * 4 and std[:4].tolist() == [1.0] * 4 and std[4] > 0
    cov = data.origin_covariates("validation", 48, 12)
    hist, _, _ = data.origins("validation", 48, 12)
    assert cov is not None and cov.shape == (len(hist), 60, 5)
    bad = {**base, "future_cols": ["note"]}
    with pytest.raises(TableError, match="future column 'note' must be numeric"):
        load_table_forecast(
            from_dict(RunConfig, {"name": "p", "task": "forecast", "data": bad}).data
        )


def test_an_exact_seasonal_naive_on_one_series_does_not_block_selection() -> None:
    """A validation series whose seasonal naive is exact (a constant stretch): the model's
    ratio there counts as 1 / RATIO_FLOOR, not ~1e12, and where both are exact as 1."""
    from training.evaluate.versus import series_ratio

    model = np.array([0.5, 0.9, 0.9, 0.0])
    base = np.array([0.0, 1.0, 1.0, 0.0])
    ratios = series_ratio(model, base)
    assert ratios[0] > 1e9 and ratios[3] == 1.0
    want = ((1 / RATIO_FLOOR) * 0.9 * 0.9 * 1.0) ** (1 / 4)
    assert panel_selection._geo(model, base) == pytest.approx(want)


def test_skipped_entities_are_named_with_the_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A series the forecaster cannot train on is named in the warning, not only counted."""
    from training.config import RunConfig, from_dict
    from training.data.table_forecast import load_table_forecast

    t = np.arange(24 * 10)
    rows = [("long", k, float(np.sin(k / 3.8))) for k in t]
    rows += [("tiny", k, 1.0) for k in t[:20]] + [("empty", k, np.nan) for k in t[:60]]
    pd.DataFrame(rows, columns=["id", "step", "y"]).to_csv(tmp_path / "p.csv", index=False)
    data = {"dataset": "table", "path": str(tmp_path / "p.csv"), "id_col": "id"}
    data |= {"time_col": "step", "target": "y", "context_len": 48, "horizon": 12, "season": 24}
    config = from_dict(RunConfig, {"name": "p", "task": "forecast", "data": data})
    with caplog.at_level("WARNING", logger="rnngan.train"):
        loaded = load_table_forecast(config.data)
    assert [e.name for e in loaded.entities] == ["long"]
    assert "2 of 3 entities skipped" in caplog.text
    assert "tiny (20 rows: a train part of 14 <= season 24)" in caplog.text
    assert "empty (no y value)" in caplog.text


def test_when_every_entity_is_skipped_the_error_names_them(tmp_path: Path) -> None:
    from training.config import RunConfig, from_dict
    from training.data.table_forecast import load_table_forecast

    rows = [(name, k, 1.0) for name in ("a", "b") for k in range(20)]
    pd.DataFrame(rows, columns=["id", "step", "y"]).to_csv(tmp_path / "p.csv", index=False)
    data = {"dataset": "table", "path": str(tmp_path / "p.csv"), "id_col": "id"}
    data |= {"time_col": "step", "target": "y", "context_len": 48, "horizon": 12, "season": 24}
    config = from_dict(RunConfig, {"name": "p", "task": "forecast", "data": data})
    with pytest.raises(TableError, match=r"a \(20 rows: a train part of 14 <= season 24\), b "):
        load_table_forecast(config.data)


def test_entities_too_short_to_train_on_are_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An entity whose train part spans a season but not a season + horizon is read, not
    trained on (PanelData keeps it out) and named in a warning."""
    from training.config import RunConfig, from_dict
    from training.families.table_forecast import TableForecast

    t = np.arange(24 * 10)
    rows = [("long", k, float(np.sin(k / 3.8))) for k in t]
    rows += [("mid", k, float(np.cos(k / 3.8))) for k in t[:44]]  # train part 31 rows
    pd.DataFrame(rows, columns=["id", "step", "y"]).to_csv(tmp_path / "p.csv", index=False)
    data = {"dataset": "table", "path": str(tmp_path / "p.csv"), "id_col": "id"}
    data |= {"time_col": "step", "target": "y", "context_len": 48, "horizon": 12, "season": 24}
    data |= {"short_histories": True}
    train = {"steps": 1, "batch_size": 4, "select_every": 0}
    config = from_dict(RunConfig, {"name": "p", "task": "forecast", "data": data, "train": train})
    with caplog.at_level("WARNING", logger="rnngan.train"):
        trainer = TableForecast().trainer(config, torch.Generator().manual_seed(0))
    assert isinstance(trainer, panel.PanelTrainer) and len(trainer.data.trains) == 1
    assert "1 of 2 entities have a train part under 36 rows (a season + horizon)" in caplog.text
    assert caplog.text.rstrip().endswith(": mid")


def test_when_no_entity_can_be_trained_on_the_error_names_them(tmp_path: Path) -> None:
    """Every train part spans a season (the reader keeps them) but not context + horizon."""
    from training.config import RunConfig, from_dict
    from training.families.table_forecast import TableForecast

    t = np.arange(80)  # train parts of 56 rows: a season, not context_len 48 + horizon 12
    rows = [(name, k, float(np.sin(k / 3.8))) for name in ("north", "south") for k in t]
    pd.DataFrame(rows, columns=["id", "step", "y"]).to_csv(tmp_path / "p.csv", index=False)
    data = {"dataset": "table", "path": str(tmp_path / "p.csv"), "id_col": "id"}
    data |= {"time_col": "step", "target": "y", "context_len": 48, "horizon": 12, "season": 24}
    config = from_dict(RunConfig, {"name": "p", "task": "forecast", "data": data})
    with pytest.raises(TableError, match=r"train part of 60 rows .*: north, south; lower"):
        TableForecast().trainer(config, torch.Generator().manual_seed(0))


@pytest.mark.parametrize(("future_cols", "share"), [([], 1.0), (["promo"], 0.0)])
def test_windows_are_mixed_only_without_covariates(
    tmp_path: Path, future_cols: list[str], share: float
) -> None:
    """A small panel without covariates mixes every window (`mix_share`); with a known-future
    column none is mixed, since a mixed window would contradict its covariates."""
    from examples.tables import promo_panel
    from training.config import RunConfig, from_dict
    from training.families import family_for
    from training.networks_forecast import MIX_ALL_BELOW

    promo_panel(entities=2, rows=24 * 10).to_csv(tmp_path / "p.csv", index=False)
    data = {"dataset": "table", "path": str(tmp_path / "p.csv"), "id_col": "store"}
    data |= {"time_col": "time", "target": "sales", "context_len": 48, "horizon": 12}
    data |= {"season": 0, "future_cols": future_cols}
    model = {"latent_dim": 2, "hidden_size": 8, "disc_hidden_size": 8, "patch_len": 4}
    config = from_dict(
        RunConfig,
        {"name": "p", "task": "forecast", "out_dir": str(tmp_path), "data": data, "model": model},
    )
    trainer = family_for(config).trainer(config, torch.Generator().manual_seed(0))
    assert trainer.data.n_windows <= MIX_ALL_BELOW  # type: ignore[attr-defined]
    assert trainer.mix == share  # type: ignore[attr-defined]


def _step_table(frame: pd.DataFrame, tmp_path: Path) -> RunConfig:
    """The run config of a forecaster of `y` in `frame` (id, step, y), written to p.csv."""
    frame.to_csv(tmp_path / "p.csv", index=False)
    data = {"dataset": "table", "path": str(tmp_path / "p.csv"), "id_col": "id"}
    data |= {"time_col": "step", "target": "y", "context_len": 48, "horizon": 12, "season": 24}
    return from_dict(RunConfig, {"name": "p", "task": "forecast", "data": data})


def test_windows_over_a_missing_target_value_are_not_scored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A gap in the target is filled for training and histories, said in a warning, and no
    validation or test window whose horizon holds it is scored (its truth would be made up)."""
    from training.data.table_forecast import load_table_forecast

    t = np.arange(24 * 20)
    y = np.sin(t / 3.8) + 5.0
    frame = pd.DataFrame({"id": "a", "step": t, "y": y})
    frame = pd.concat([frame, pd.DataFrame({"id": "b", "step": t, "y": y + 1.0})])
    # 'a': one gap in training, one in the test part (rows 408 ... 479)
    frame.loc[(frame.id == "a") & frame.step.isin([100, 101, 450]), "y"] = np.nan
    config = _step_table(frame, tmp_path)
    with caplog.at_level("WARNING", logger="rnngan.train"):
        loaded = load_table_forecast(config.data)
    assert "3 missing y values in 1 of 2 entities (a: 3) filled by linear interpolation" in (
        caplog.text
    )
    a, b = loaded.entities
    assert a.gaps is not None and np.flatnonzero(a.gaps).tolist() == [100, 101, 450]
    assert b.gaps is None and not np.isnan(a.values).any()
    stride = loaded.origin_stride("test", 48, 12)
    pairs = dict((e.name, o) for e, o in loaded.entity_origins("test", 48, 12))
    every = np.arange(408, 480 - 12 + 1, stride)
    assert pairs["b"].tolist() == every.tolist()
    kept = [o for o in every if not o <= 450 < o + 12]
    assert pairs["a"].tolist() == kept and len(kept) < len(every)
    assert loaded.gap_windows("test", 48, 12, stride) == len(every) - len(kept)
    assert loaded.window_count("test", 48, 12, stride) == len(every) + len(kept)
    _, truth, _ = loaded.origins("test", 48, 12)
    assert len(truth) == len(every) + len(kept)
    # a table whose test part is all gaps: the error says why
    frame.loc[frame.step >= 400, "y"] = np.nan
    frame.loc[frame.step == 479, "y"] = 1.0  # the part exists, every horizon holds a gap
    frame.to_csv(tmp_path / "p.csv", index=False)
    with pytest.raises(TableError, match="its horizon holds a missing y value"):
        load_table_forecast(config.data).entity_origins("test", 48, 12)


def test_evaluation_says_what_missing_values_left_out(tmp_path: Path) -> None:
    """`rnngan evaluate` on a table with missing target values: the protocol counts the test
    windows left out and names the entity that lost all of them, the calibration counts the
    validation windows left out, and the baselines refit after a hole."""
    from tests.training.helpers import tiny_table_forecast
    from training.evaluate.run import evaluate_run
    from training.train import train

    config = tiny_table_forecast(tmp_path)
    frame = pd.read_csv(tmp_path / "sensors.csv")
    hufl = frame.index[frame.sensor == "HUFL"]
    frame.loc[hufl[[900, 1100]], "value"] = np.nan  # one in validation, one in test
    hull = frame.index[frame.sensor == "HULL"]
    frame.loc[hull[-150:-1], "value"] = np.nan  # the whole test part but its last row
    frame.to_csv(tmp_path / "sensors.csv", index=False)
    train(config, progress=False)
    metrics = evaluate_run(config.run_dir)
    protocol = metrics["protocol"]
    assert "test windows left out: their horizon holds a 'value' value missing" in protocol
    assert "1 entity lost every test window to them: no test score holds them (HULL)" in protocol
    assert "HULL" not in {row["series"] for row in metrics["per_series"]}
    assert "over a missing 'value' value left out" in metrics["calibration"]["fit_on"]
    assert "one per run of origins one horizon apart" in metrics["baselines"]["fits"]


def test_a_series_that_starts_late_or_ends_early_is_trimmed_not_filled(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A long table on one calendar for all (fpp3's us_employment: half its rows blank before
    a series begins): an entity runs from its first to its last value, said in a warning; the
    blank rows are not a flat run of its first value to train on, nor gaps."""
    from training.data.table_forecast import load_table_forecast

    t = np.arange(24 * 20)
    y = np.sin(t / 3.8) + 5.0
    late = np.where(t < 100, np.nan, y + 1.0)
    late[-10:] = np.nan  # and ends early
    frame = pd.concat(
        [
            pd.DataFrame({"id": "a", "step": t, "y": y}),
            pd.DataFrame({"id": "b", "step": t, "y": late}),
        ]
    )
    config = _step_table(frame, tmp_path)
    with caplog.at_level("WARNING", logger="rnngan.train"):
        loaded = load_table_forecast(config.data)
    assert "1 of 2 entities start later or end earlier than the table: their 110 rows" in (
        caplog.text
    )
    assert "(b: 110)" in caplog.text and "missing y values" not in caplog.text
    a, b = loaded.entities
    assert len(a.values) == len(t) and len(b.values) == len(t) - 110
    assert np.allclose(b.values, y[100:-10] + 1.0) and b.gaps is None
    assert b.train_end == round(len(b.values) * 0.7)
