"""The default forecaster (training/families/panel_forecast.py): untrained it IS the seasonal
naive, its graph scales each window itself, takes any horizon, and the v1 model stays trainable;
the season is inferred from the time column; the evaluation says when it does not beat the
seasonal naive."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from tests.training.helpers import tiny_forecast
from training.checkpoint import load_run
from training.data.tables import infer_season
from training.evaluate.versus import block, compare, seasonal_naive_point
from training.export import export
from training.families import build_graph
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


def test_selection_keeps_step_zero_as_a_candidate(tmp_path: Path) -> None:
    config = tiny_forecast(tmp_path)
    config = dataclasses.replace(
        config, train=dataclasses.replace(config.train, select_every=1, select_samples=4)
    )
    train(config, progress=False)
    ckpt = load_run(config.run_dir)
    assert ckpt.selection is not None and ckpt.selection.step in (0, 1, 2)
    assert panel.is_panel_state(ckpt.generator)


def test_v1_kind_still_trains_and_exports(tmp_path: Path) -> None:
    config = tiny_forecast(tmp_path)
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, kind="forgan_v1"))
    train(config, progress=False)
    ckpt = load_run(config.run_dir)
    assert not panel.is_panel_state(ckpt.generator)
    assert not isinstance(build_graph(ckpt), panel.PanelForecastGraph)
    export(config.run_dir, tmp_path / "models")


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
    blocks["gan"] = block(truth[None], truth, truth)
    assert compare(blocks, ids, ["a", "b", "c"], calibrated=True)["verdict"]["passed"]
