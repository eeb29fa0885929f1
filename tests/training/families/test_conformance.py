"""What every model family in the table must do: take its own config, train reproducibly, and
export an ONNX graph that matches torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rnngan.core.manifest import Manifest
from tests.training.helpers import TINY
from training.checkpoint import load_run
from training.export import export
from training.families import FAMILIES, build_graph, family_for
from training.train import train


def test_family_table_has_a_tiny_config_per_family() -> None:
    assert set(TINY) == set(FAMILIES)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_family_conformance(tmp_path: Path, name: str) -> None:
    """Two training steps with the same seed give the same losses; export parity holds."""
    config = TINY[name](tmp_path / "a")
    family = family_for(config)
    assert family.name == name and family.task == config.task
    first = train(config, progress=False)
    again = train(TINY[name](tmp_path / "b"), progress=False)
    assert [r["step"] for r in first] == list(range(1, len(first) + 1)) and len(first) >= 2
    assert first == again

    out = export(config.run_dir, tmp_path / "models")
    manifest = Manifest.read(out / "manifest.json")
    assert manifest.metrics["onnx_parity_max_scaled_diff"] < 1e-5
    assert (manifest.onnx.inputs, manifest.onnx.outputs) == tuple(map(list, family.graph_io))
    ckpt = load_run(config.run_dir)
    example = family.example_inputs(ckpt, 2, 5)
    assert list(example) == list(family.graph_io[0])
    with torch.no_grad():
        out_torch = build_graph(ckpt)(*example.values()).numpy()
    assert np.isfinite(out_torch).all()


def test_text_image_conditioned_on_the_encoders_digit_posterior(tmp_path: Path) -> None:
    """image.text_condition = "classes": the generator reads the frozen encoder's posterior
    over the digits (rows sum to 1), trains reproducibly and exports with parity."""
    import dataclasses

    from rnngan.core import images as img
    from training.networks_images import TextImageGraph

    base = TINY["text_image"](tmp_path / "a")
    config = dataclasses.replace(
        base, image=dataclasses.replace(base.image, text_condition="classes")
    )
    assert train(config, progress=False)
    graph = build_graph(load_run(config.run_dir))
    assert isinstance(graph, TextImageGraph) and graph.generator.cond_dim == img.NUM_CLASSES
    tokens, _ = img.encode_prompts(["a handwritten seven", "the digit 2"])
    with torch.no_grad():
        posterior = graph.encoder(torch.from_numpy(tokens)).numpy()
    assert posterior.shape == (2, img.NUM_CLASSES)
    np.testing.assert_allclose(posterior.sum(axis=1), 1.0, rtol=1e-5)
    out = export(config.run_dir, tmp_path / "models")
    assert Manifest.read(out / "manifest.json").metrics["onnx_parity_max_scaled_diff"] < 1e-5
