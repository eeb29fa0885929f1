"""Series shorter than the forecaster's context: the history is NaN-padded on the left, filled
inside the graph one season at a time and left out of the window's scale; training pads short
series and cuts some histories the same way."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from training.data.forecast_panel import first_named
from training.export import OPSET
from training.families.panel_forecast import PanelData
from training.networks_forecast import (
    PanelForecastGraph,
    PanelGenerator,
    fill_history,
    scaled_window,
    window_scale,
)

SEASON, CONTEXT, HORIZON = 4, 16, 4


def _graph() -> PanelForecastGraph:
    torch.manual_seed(0)
    return PanelForecastGraph(
        PanelGenerator(
            context=CONTEXT,
            horizon=HORIZON,
            season=SEASON,
            latent_dim=2,
            hidden=8,
            patch=2,
            enc_patch=SEASON,
        )
    ).eval()


def test_fill_repeats_the_earliest_season_backwards() -> None:
    short = torch.tensor([[np.nan] * 10 + [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]])
    filled, observed = fill_history(short, SEASON)
    # observed 1..6 at indices 10..15; index i takes index i + 4 (filled first when missing):
    # the earliest observed season 1, 2, 3, 4 repeats back to the start, phase-aligned
    assert filled[0].tolist() == [3, 4, 1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4, 5, 6]
    assert observed[0].tolist() == [0.0] * 10 + [1.0] * 6
    full = torch.arange(16.0).reshape(1, -1)
    same, all_observed = fill_history(full, SEASON)
    assert torch.equal(same, full) and bool(all_observed.all())


def test_scale_uses_only_observed_pairs() -> None:
    values = torch.tensor([[np.nan] * 8 + [0.0, 1.0, 0.0, 1.0, 2.0, 3.0, 2.0, 3.0]])
    z, loc, scale = scaled_window(values, CONTEXT, SEASON)
    # observed pairs one season apart: |2-0|, |3-1|, |2-0|, |3-1| -> MAE 2; loc: mean of 2,3,2,3
    assert float(scale) == pytest.approx(2.0) and float(loc) == pytest.approx(2.5)
    assert torch.isfinite(z).all()
    full = torch.randn(5, CONTEXT, dtype=torch.float64)
    plain = window_scale(full, SEASON)
    masked = window_scale(full, SEASON, torch.ones_like(full))
    for a, b in zip(plain, masked, strict=True):
        assert torch.allclose(a, b, rtol=1e-12, atol=1e-12)


def test_an_untrained_forecaster_is_the_seasonal_naive_of_a_short_series() -> None:
    graph = _graph()
    history = torch.full((2, CONTEXT), float("nan"))
    history[0, -6:] = torch.tensor([5.0, 7.0, 1.0, 2.0, 3.0, 4.0])
    history[1] = torch.arange(CONTEXT, dtype=torch.float32)
    noise = torch.randn(2, 3, HORIZON, 2)
    with torch.no_grad():
        out = graph(history, noise)
    assert torch.isfinite(out).all()
    assert torch.allclose(out[0], torch.tensor([1.0, 2.0, 3.0, 4.0]).expand(3, -1), atol=1e-5)
    assert torch.allclose(out[1], history[1, -SEASON:].expand(3, -1), atol=1e-4)


def test_onnx_graph_takes_nan_padded_histories(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    graph = _graph()
    with torch.no_grad():  # a trained-looking head, so the output is not just the lag
        graph.generator.head[-1].weight.normal_(0, 0.1)
    history = torch.randn(3, CONTEXT)
    history[0, :9] = float("nan")
    history[2, :12] = float("nan")
    noise = torch.randn(3, 5, HORIZON, 2)
    path = tmp_path / "g.onnx"
    torch.onnx.export(
        graph,
        (history, noise),
        str(path),
        input_names=["history", "noise"],
        output_names=["forecast"],
        dynamic_axes={"history": {0: "s"}, "noise": {0: "s", 1: "n", 2: "h"}},
        opset_version=OPSET,
        dynamo=False,
    )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"history": history.numpy(), "noise": noise.numpy()})[0]
    with torch.no_grad():
        want = graph(history, noise).numpy()
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_panel_data_pads_short_series_and_cuts_histories() -> None:
    long = np.arange(40, dtype=np.float32)
    short = np.arange(10, dtype=np.float32)  # a season + horizon + 2, less than the span 20
    tiny = np.arange(5, dtype=np.float32)  # less than a season + horizon: left out
    span = CONTEXT + HORIZON
    data = PanelData([long, short, tiny], span, min_span=SEASON + HORIZON)
    assert len(data.trains) == 2 and data.n_short == 1
    # padded so that every origin from a season on is a window: span - (season + horizon) NaN
    assert np.isnan(data.trains[1][:12]).all() and np.array_equal(data.trains[1][12:], short)
    assert data.n_windows == (40 - span + 1) + (10 - SEASON - HORIZON + 1)
    only_short = PanelData([short], span, min_span=SEASON + HORIZON)
    windows, _ = only_short.batch(torch.Generator().manual_seed(0), 256)
    futures = {tuple(w[CONTEXT:].tolist()) for w in windows}
    origins = range(SEASON, len(short) - HORIZON + 1)
    assert futures == {tuple(short[o : o + HORIZON].tolist()) for o in origins}
    assert int((~torch.isnan(windows[:, :CONTEXT])).sum(dim=1).min()) == SEASON
    with pytest.raises(ValueError, match="a season"):
        PanelData([tiny], span, min_span=SEASON + HORIZON)
    cut = PanelData([long], span, cut=(1.0, CONTEXT, SEASON))
    windows, _ = cut.batch(torch.Generator().manual_seed(0), 64)
    observed = (~torch.isnan(windows[:, :CONTEXT])).sum(dim=1)
    assert int(observed.min()) >= SEASON and int(observed.max()) <= CONTEXT
    assert len(set(observed.tolist())) > 3
    assert not torch.isnan(windows[:, CONTEXT:]).any()
    plain = PanelData([long], span)
    first, _ = plain.batch(torch.Generator().manual_seed(0), 8)
    assert not torch.isnan(first).any()
    # the rule the own-table trainer names its untrained entities by (families/table_forecast.py)
    assert PanelData.least_rows(span, SEASON + HORIZON) == SEASON + HORIZON
    assert PanelData.least_rows(span) == span
    kept = [len(t) >= PanelData.least_rows(span, SEASON + HORIZON) for t in (long, short, tiny)]
    assert kept == [True, True, False]


def test_first_named_counts_the_names_it_leaves_out() -> None:
    assert first_named(["a", "b"]) == "a, b"
    names = [f"s{i}" for i in range(12)]
    assert first_named(names) == ", ".join(names[:10]) + " and 2 more"
    assert first_named(names, first=3) == "s0, s1, s2 and 9 more"


def test_origins_of_short_histories_start_with_nan() -> None:
    from training.data.forecast_panel import EntitySplit, TableForecastData

    values = np.arange(100, dtype=np.float32)
    cov = np.stack([values, -values], axis=1)
    entity = EntitySplit(values, train_end=10, val_end=40, scale=1.0, name="e", covariates=cov)
    stats = (np.zeros(2), np.ones(2))
    # five alike entities: enough windows (FEW_WINDOWS) for origins one horizon apart
    panel = [entity] * 5
    full = TableForecastData(panel, "y", "h", "f.csv", "0", SEASON, covariate_stats=stats)
    short = TableForecastData(
        panel, "y", "h", "f.csv", "0", SEASON, covariate_stats=stats, shortest=SEASON
    )
    # validation origins every HORIZON rows in [10, 40): full ones need CONTEXT rows before
    assert [o.tolist() for _, o in full.entity_origins("validation", CONTEXT, HORIZON)] == [
        [16, 20, 24, 28, 32, 36]
    ] * 5
    assert [o.tolist() for _, o in short.entity_origins("validation", CONTEXT, HORIZON)] == [
        [10, 14, 18, 22, 26, 30, 34]
    ] * 5
    hist, truth, _ = short.origins("validation", CONTEXT, HORIZON)
    assert np.isnan(hist[0, :6]).all() and hist[0, 6:].tolist() == list(range(10))
    assert truth[0].tolist() == [10, 11, 12, 13]
    assert not np.isnan(hist[2:7]).any()  # the first entity's later windows
    covs = short.origin_covariates("validation", CONTEXT, HORIZON)
    assert covs is not None and covs.shape == (35, CONTEXT + HORIZON, 2)
    assert covs[0, :7, 0].tolist() == [0.0] * 7 and covs[0, 7:, 0].tolist() == list(range(1, 14))


@pytest.mark.parametrize(("context", "season"), [(168, 24), (50, 24), (60, 7), (10, 1), (40, 12)])
def test_fill_matches_repeating_one_season_later(context: int, season: int) -> None:
    rng = np.random.default_rng(context + season)
    for n in range(season, context + 1):
        values = rng.normal(size=context)
        values[: context - n] = np.nan
        want = values.copy()
        for i in range(context - n - 1, -1, -1):  # back to front: one season later is filled
            want[i] = want[i + season]
        got, observed = fill_history(torch.from_numpy(values).unsqueeze(0), season)
        np.testing.assert_array_equal(got[0].numpy(), want)
        assert int(observed.sum()) == n


def test_under_two_seasons_scales_by_the_std() -> None:
    """One season and a few values more: too few seasonal pairs for their mean, the std."""
    values = torch.tensor([[np.nan] * 10 + [0.0, 1.0, 0.0, 1.0, 0.5, 1.0]], dtype=torch.float64)
    _, _, scale = scaled_window(values, CONTEXT, SEASON)
    observed = values[0, 10:]
    assert float(scale) == pytest.approx(float(observed.std(unbiased=False)))


def test_cut_histories_pad_their_covariates_like_the_service() -> None:
    long = np.arange(40, dtype=np.float32)
    cov = np.stack([np.arange(40), np.arange(40) * 2], axis=1).astype(np.float32)
    data = PanelData([long], CONTEXT + HORIZON, [cov], cut=(1.0, CONTEXT, SEASON))
    windows, covs = data.batch(torch.Generator().manual_seed(1), 16)
    assert covs is not None
    for w, c in zip(windows, covs, strict=True):
        first = int(torch.isnan(w).sum())
        assert torch.equal(c[:first], c[first].expand(first, -1))
        assert not torch.equal(c[first], c[first + 1])


def test_exported_fill_does_not_grow_with_the_context() -> None:
    """The fill is one gather: the exported graph's size does not depend on C / season."""
    import io

    import onnx

    sizes = []
    for season in (24, 1):
        graph = PanelForecastGraph(
            PanelGenerator(
                context=48, horizon=4, season=season, latent_dim=2, hidden=8, patch=2, enc_patch=4
            )
        ).eval()
        buffer = io.BytesIO()
        torch.onnx.export(
            graph,
            (torch.randn(2, 48), torch.randn(2, 3, 4, 2)),
            buffer,
            input_names=["history", "noise"],
            output_names=["forecast"],
            opset_version=OPSET,
            dynamo=False,
        )
        sizes.append(len(onnx.load_from_string(buffer.getvalue()).graph.node))
    assert sizes[1] <= sizes[0] + 5, sizes
