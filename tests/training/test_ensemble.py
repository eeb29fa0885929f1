"""The default forecaster's ensemble (training/networks_forecast.py EnsembleGraph): path i of a
request is member i mod K's, for any number of paths, in torch and in the exported graph."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from unittest import mock

import numpy as np
import onnxruntime as ort
import pytest
import torch

from tests.training.helpers import tiny_forecast
from training.checkpoint import load_run
from training.export import export
from training.families import build_graph
from training.families import panel_forecast as panel
from training.networks_forecast import EnsembleGraph
from training.train import train


def _members(k: int, n_cov: int = 0) -> list[panel.PanelForecastGraph]:
    config = tiny_forecast(Path("unused"))
    channels = [f"c{i}" for i in range(n_cov)]
    graphs = []
    for j in range(k):
        torch.manual_seed(j)
        with mock.patch.object(panel, "covariate_columns", lambda _config: channels):
            generator = panel.build_generator(config)
        if n_cov:  # the same train-part statistics in every member, as training gives them
            generator.cov_loc.copy_(torch.arange(n_cov, dtype=torch.float32))
            generator.cov_scale.copy_(torch.full((n_cov,), 2.0))
        g = panel.PanelForecastGraph(generator)
        g.generator.head[-1].weight.data.normal_(0, 0.5)  # members that differ from the naive
        graphs.append(g.eval())
    return graphs


@pytest.mark.parametrize("n_cov", [0, 2])
@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_path_i_is_member_i_mod_k(k: int, n: int, n_cov: int) -> None:
    """Scaled once for all members, path i equals member i mod k's own forward."""
    members = _members(k, n_cov)
    ensemble = EnsembleGraph(members).eval()
    context = members[0].generator.context
    history = torch.randn(3, context).cumsum(dim=1)
    noise = torch.randn(3, n, 6, members[0].generator.latent)
    cov = torch.randn(3, context + 6, n_cov) if n_cov else None
    with torch.no_grad():
        out = ensemble(history, noise, cov)
        assert out.shape == (3, n, 6)
        for i in range(n):
            alone = members[i % k](history, noise[:, i : i + 1], cov)
            torch.testing.assert_close(out[:, i : i + 1], alone)


def test_members_with_different_covariate_statistics_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = tiny_forecast(Path("unused"))
    monkeypatch.setattr(panel, "covariate_columns", lambda _config: ["a", "b"])
    state = EnsembleGraph(_members(2, n_cov=2)).state_dict()
    assert isinstance(panel.load_graph(config, state), EnsembleGraph)
    state["members.1.generator.cov_scale"] = torch.ones(2)
    with pytest.raises(ValueError, match="different covariate statistics"):
        panel.load_graph(config, state)


@pytest.mark.parametrize("k", [2, 3])
def test_the_exported_ensemble_matches_torch_for_any_number_of_paths(k: int) -> None:
    members = _members(k)
    ensemble = EnsembleGraph(members).eval()
    context, latent = members[0].generator.context, members[0].generator.latent
    buffer = io.BytesIO()
    example = (torch.randn(2, context), torch.randn(2, 4, 6, latent))
    torch.onnx.export(
        ensemble,
        example,
        buffer,
        dynamo=False,
        input_names=["history", "noise"],
        output_names=["forecast"],
        dynamic_axes={"history": {0: "s"}, "noise": {0: "s", 1: "n", 2: "h"}},
    )
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 7):
        history = rng.normal(size=(3, context)).cumsum(axis=1).astype(np.float32)
        noise = rng.normal(size=(3, n, 9, latent)).astype(np.float32)
        got = session.run(None, {"history": history, "noise": noise})[0]
        with torch.no_grad():
            want = ensemble(torch.from_numpy(history), torch.from_numpy(noise)).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_a_trained_ensemble_checkpoints_and_exports_every_member(tmp_path: Path) -> None:
    config = tiny_forecast(tmp_path)
    train(config, progress=False)
    ckpt = load_run(config.run_dir)
    names = {k.split(".")[1] for k in ckpt.generator if k.startswith("members.")}
    n_members = panel.members_for(ckpt.dataset.n_windows)
    assert names == {str(j) for j in range(n_members)}
    graph = build_graph(ckpt)
    assert isinstance(graph, EnsembleGraph) and len(graph.members) == n_members
    one, two = (m.generator.state_dict() for m in graph.members[:2])
    assert any(not torch.equal(one[k], two[k]) for k in one)  # own initial weights and batches
    export(config.run_dir, tmp_path / "models")


def test_a_panel_of_few_training_windows_gets_a_third_member() -> None:
    assert panel.members_for(panel.MIX_ALL_BELOW) == panel.MEMBERS_FEW == 3
    assert panel.members_for(panel.MIX_ALL_BELOW + 1) == panel.MEMBERS == 2
    assert panel.members_for(1) == 3 and panel.members_for(10**6) == 2


def test_the_trainer_sizes_its_ensemble_by_the_panels_windows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from training.families.forgan import ForGAN

    config = tiny_forecast(tmp_path)
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, select_every=1))
    few = ForGAN().trainer(config, torch.Generator().manual_seed(0))
    assert isinstance(few, panel.PanelTrainer) and few.data.n_windows <= panel.MIX_ALL_BELOW
    assert len(few.members) == 3
    # every member's selector scores the same windows, computed once
    assert (
        len({id(m.selector.w) for m in few.members if m.selector is not None})
        == 1
        < len([m.selector for m in few.members if m.selector is not None])
    )
    monkeypatch.setattr(panel, "MIX_ALL_BELOW", few.data.n_windows - 1)
    many = ForGAN().trainer(config, torch.Generator().manual_seed(0))
    assert isinstance(many, panel.PanelTrainer) and len(many.members) == 2


def test_the_service_chunks_paths_in_multiples_of_every_ensemble_size() -> None:
    """service/inference.py splits a series' paths over calls in chunks of `_PATH_CHUNK`; an
    ensemble draws path i of a call from member i mod K, so K must divide the chunk for the
    paths to be the same in any chunking. Written twice (the service does not import
    training), kept in step here."""
    from service.inference import _PATH_CHUNK

    for k in (panel.MEMBERS, panel.MEMBERS_FEW):
        assert _PATH_CHUNK % k == 0
