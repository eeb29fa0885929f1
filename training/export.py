"""torch -> ONNX, parity check, manifest write.

`rnngan export --run runs/sines` writes `models/<name>/<version>/{model.onnx, manifest.json}`.
The exported graph has dynamic batch and length axes; noise is a graph input, and scaling back
to real units happens inside the graph.
"""

from __future__ import annotations

import json
import logging
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from rnngan import __version__
from rnngan.core.manifest import (
    GRAPH_IO,
    MANIFEST_FILE,
    MODEL_FILE,
    TABLE_GRAPH_IO,
    DatasetInfo,
    Manifest,
    OnnxInfo,
    Scaler,
    file_sha256,
)
from rnngan.core.tables.spec import TableSpec
from training import timegan
from training.config import RunConfig, from_dict
from training.networks import ForecastGraph, GenerateGraph
from training.train import CHECKPOINT, build_forecast_nets, build_generation_nets

log = logging.getLogger("rnngan.export")
OPSET = 17


def load_run(run_dir: Path) -> tuple[RunConfig, dict[str, Any]]:
    path = run_dir / CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(f"no {CHECKPOINT} in {run_dir}; run `rnngan train` first")
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    config: RunConfig = from_dict(RunConfig, ckpt["config"])
    return config, ckpt


def build_graph(config: RunConfig, ckpt: dict[str, Any]) -> nn.Module:
    """The module that is exported: noise (and history) in, real units out."""
    m = config.model
    graph: nn.Module
    if config.data.dataset == "table" and config.task == "generate":
        from training.table import TableGraph, build

        tgen = build(config, TableSpec.model_validate(ckpt["table"]))[0]
        tgen.load_state_dict(ckpt["generator"])
        graph = TableGraph(tgen)
    elif config.task == "generate":
        generator: nn.Module
        if m.kind == "timegan":
            generator = timegan.build(config, len(ckpt["features"]))[0]
        else:
            generator = build_generation_nets(config, len(ckpt["features"]))[0]
        generator.load_state_dict(ckpt["generator"])
        data_min = torch.tensor(ckpt["data_min"])
        span = torch.tensor(ckpt["data_max"]) - data_min
        span = torch.where(span > 0, span, torch.ones_like(span))
        graph = GenerateGraph(generator, data_min, span)
    else:
        fgen = build_forecast_nets(config)[0]
        fgen.load_state_dict(ckpt["generator"])
        graph = ForecastGraph(fgen)
    return graph.eval()


def graph_io(config: RunConfig) -> tuple[tuple[str, ...], tuple[str, ...]]:
    table = config.data.dataset == "table" and config.task == "generate"
    return TABLE_GRAPH_IO if table else GRAPH_IO[config.task]


def example_inputs(
    config: RunConfig, batch: int, length: int, condition_dim: int = 0
) -> dict[str, torch.Tensor]:
    """Inputs by graph input name; `length` is T (generate) or H (forecast, with 3 samples)."""
    g = torch.Generator().manual_seed(1234)
    latent = config.model.latent_dim
    if condition_dim:
        return {
            "noise": torch.randn(batch, length, latent, generator=g),
            "condition": torch.rand(batch, condition_dim, generator=g),
        }
    if config.task == "generate":
        return {"noise": torch.randn(batch, length, latent, generator=g)}
    history = 20.0 + 5.0 * torch.randn(batch, config.data.context_len, generator=g)
    return {"history": history, "noise": torch.randn(batch, 3, length, latent, generator=g)}


def export_onnx(graph: nn.Module, config: RunConfig, path: Path, condition_dim: int = 0) -> None:
    inputs, outputs = graph_io(config)
    example = example_inputs(
        config,
        batch=4,
        length=(config.data.seq_len or 24) if config.task == "generate" else config.data.horizon,
        condition_dim=condition_dim,
    )
    sample_axes = {0: "batch", 1: "samples", 2: "length"}
    axes = {
        "noise": {0: "batch", 1: "length"} if config.task == "generate" else sample_axes,
        "history": {0: "batch", 1: "context"},
        "condition": {0: "batch"},
        "samples": {0: "batch", 1: "length"},
        "forecast": sample_axes,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph,
            tuple(example[name] for name in inputs),
            str(path),
            dynamo=False,
            input_names=list(inputs),
            output_names=list(outputs),
            opset_version=OPSET,
            dynamic_axes={k: v for k, v in axes.items() if k in inputs + outputs},
        )


def parity(
    graph: nn.Module,
    config: RunConfig,
    path: Path,
    shapes: tuple[tuple[int, int], ...] = ((1, 7), (3, 37), (17, 61)),
    condition_dim: int = 0,
) -> float:
    """Largest |torch - ONNX Runtime| / (1 + |torch|) over batch sizes and lengths unlike the
    export's: an absolute error for outputs of order one, a relative one for large outputs."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for batch, length in shapes:
        example = example_inputs(config, batch, length, condition_dim)
        with torch.no_grad():
            expected = graph(*example.values()).numpy()
        (got,) = session.run(None, {k: v.numpy() for k, v in example.items()})
        if got.shape != expected.shape:
            raise AssertionError(f"ONNX shape {got.shape} != torch shape {expected.shape}")
        worst = max(worst, float((np.abs(got - expected) / (1.0 + np.abs(expected))).max()))
    return worst


def export(run_dir: Path, models_dir: Path, *, atol: float = 1e-5) -> Path:
    config, ckpt = load_run(run_dir)
    graph = build_graph(config, ckpt)
    final_dir = models_dir / config.name / str(config.version)
    # Written in a staging directory (skipped by the registry: it starts with a dot) and renamed
    # into place whole, so a running service never sees a half-written version.
    out_dir = models_dir / f".staging-{config.name}-{config.version}"
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    onnx_path = out_dir / MODEL_FILE
    table = TableSpec.model_validate(ckpt["table"]) if "table" in ckpt else None
    condition_dim = table.condition_dim if table is not None else 0
    export_onnx(graph, config, onnx_path, condition_dim)
    worst = parity(graph, config, onnx_path, condition_dim=condition_dim)
    if worst > atol:
        shutil.rmtree(out_dir, ignore_errors=True)
        raise AssertionError(
            f"ONNX parity failed: max |diff| / (1 + |torch|) = {worst:.2e} > {atol:.0e}"
        )
    log.info("exported %s, parity max |diff| / (1 + |torch|) = %.2e", onnx_path, worst)
    metrics_path = run_dir / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    if not metrics:
        log.warning("no metrics.json in %s: run `rnngan evaluate` first", run_dir)
    inputs, outputs = graph_io(config)
    d = config.data
    if table is not None:
        scaler = Scaler(kind="table", applied_in_graph=False)
    elif config.task == "generate":
        scaler = Scaler(kind="minmax", data_min=ckpt["data_min"], data_max=ckpt["data_max"])
    else:
        scaler = Scaler(kind="per_series_standard")
    manifest = Manifest(
        name=config.name,
        version=config.version,
        task=config.task,
        description=config.description,
        features=ckpt["features"],
        freq=table.time.freq
        if table is not None and table.time is not None
        else ckpt.get("freq", d.freq),
        seq_len=ckpt.get("seq_len", d.seq_len) if config.task == "generate" else None,
        context_len=d.context_len if config.task == "forecast" else None,
        horizon=d.horizon if config.task == "forecast" else None,
        season=d.season if config.task == "forecast" else None,
        latent_dim=config.model.latent_dim,
        scaler=scaler,
        onnx=OnnxInfo(
            sha256=file_sha256(onnx_path), opset=OPSET, inputs=list(inputs), outputs=list(outputs)
        ),
        training={
            **config.to_dict(),
            "steps_trained": ckpt["step"],
            "selected_step": ckpt.get("selected_step"),
        },
        dataset=DatasetInfo(**ckpt["dataset"]),
        calibration=metrics.pop("calibration", None),
        metrics={**metrics, "onnx_parity_max_scaled_diff": worst},
        created_by=f"rnngan {__version__}",
        table=table,
    )
    manifest.write(out_dir / MANIFEST_FILE)
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    if final_dir.exists():  # re-export of the same version: replace it
        shutil.rmtree(final_dir)
    out_dir.rename(final_dir)
    return final_dir
