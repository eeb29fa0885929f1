"""The default forecaster's ensemble (training/networks_forecast.py EnsembleGraph): path i of a
request is member i mod K's, for any number of paths, in torch and in the exported graph."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

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


def _members(k: int) -> list[panel.PanelForecastGraph]:
    config = tiny_forecast(Path("unused"))
    graphs = []
    for j in range(k):
        torch.manual_seed(j)
        g = panel.PanelForecastGraph(panel.build_generator(config))
        g.generator.head[-1].weight.data.normal_(0, 0.5)  # members that differ from the naive
        graphs.append(g.eval())
    return graphs


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_path_i_is_member_i_mod_k(k: int, n: int) -> None:
    members = _members(k)
    ensemble = EnsembleGraph(members).eval()
    context = members[0].generator.context
    history = torch.randn(3, context).cumsum(dim=1)
    noise = torch.randn(3, n, 6, members[0].generator.latent)
    with torch.no_grad():
        out = ensemble(history, noise)
        assert out.shape == (3, n, 6)
        for i in range(n):
            alone = members[i % k](history, noise[:, i : i + 1])
            torch.testing.assert_close(out[:, i : i + 1], alone)


def test_the_exported_ensemble_matches_torch_for_any_number_of_paths() -> None:
    members = _members(2)
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
    k = panel.members_for(ckpt.dataset.n_windows)
    assert names == {str(j) for j in range(k)}
    graph = build_graph(ckpt)
    assert isinstance(graph, EnsembleGraph) and len(graph.members) == k
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
