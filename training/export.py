"""The export stage: torch -> ONNX, parity check, manifest write.

`rnngan export --run runs/sines` writes `models/<name>/<version>/{model.onnx, manifest.json}`.
The run's family (training/families/) gives the graph, its inputs and the family's manifest
fields. The exported graph has dynamic batch and length axes; noise is a graph input, and
scaling back to real units happens inside the graph (own tables: in the service).
"""

from __future__ import annotations

import json
import logging
import shutil
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from rnngan import __version__
from rnngan.core.manifest import MANIFEST_FILE, MODEL_FILE, Manifest, OnnxInfo, file_sha256
from training.checkpoint import Checkpoint, load_run
from training.evaluate.report import write_report
from training.families import build_graph, family_for
from training.provenance import recorded_config

log = logging.getLogger("rnngan.export")
OPSET = 17


def export_onnx(graph: nn.Module, ckpt: Checkpoint, path: Path) -> None:
    family = family_for(ckpt.config)
    inputs, outputs = family.io(ckpt)
    example = family.example_inputs(ckpt, batch=4, length=family.export_length(ckpt.config))
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
            dynamic_axes=family.axes(ckpt),
        )


def parity_error(got: np.ndarray, expected: np.ndarray) -> float:
    """max |got - expected| / (1 + m), m the largest |expected| of each last-axis channel."""
    magnitude = np.abs(expected).reshape(-1, expected.shape[-1]).max(axis=0)
    return float((np.abs(got - expected) / (1.0 + magnitude)).max())


def parity(
    graph: nn.Module,
    ckpt: Checkpoint,
    path: Path,
    shapes: tuple[tuple[int, int], ...] = ((1, 7), (3, 37), (17, 61)),
) -> float:
    """Largest |torch - ONNX Runtime| / (1 + m) over batch sizes and lengths unlike the export's,
    m the largest |torch| of the output's channel (last axis): an absolute error for outputs of
    order one, one relative to the channel's magnitude for large ones (a stock volume near the
    bottom of a range of 8e7 is off by float32 rounding of the range, not of its own value)."""
    family = family_for(ckpt.config)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for batch, length in shapes:
        example = family.example_inputs(ckpt, batch, length)
        with torch.no_grad():
            expected = graph(*example.values()).numpy()
        (got,) = session.run(None, {k: v.numpy() for k, v in example.items()})
        if got.shape != expected.shape:
            raise AssertionError(f"ONNX shape {got.shape} != torch shape {expected.shape}")
        worst = max(worst, parity_error(got, expected))
    return worst


class QualityRefused(RuntimeError):
    """The run's evaluation found collapse; export it only with `force`."""


def export(run_dir: Path, models_dir: Path, *, atol: float = 1e-5, force: bool = False) -> Path:
    """Export a run; refuses (QualityRefused) a run whose evaluation suspects collapse unless
    `force`. Writes report.json / report.html beside the manifest."""
    ckpt = load_run(run_dir)
    config = ckpt.config
    metrics_path = run_dir / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    verdict = metrics.get("verdict") or {}
    if verdict.get("collapse_suspected") and not force:
        raise QualityRefused(
            f"{run_dir}: the evaluation suspects a collapsed generator ({verdict['line']}); "
            "retrain, or export anyway with --force"
        )
    family = family_for(config)
    graph = build_graph(ckpt)
    final_dir = models_dir / config.name / str(config.version)
    # Written in a staging directory (skipped by the registry: it starts with a dot) and renamed
    # into place whole, so a running service never sees a half-written version.
    out_dir = models_dir / f".staging-{config.name}-{config.version}"
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    onnx_path = out_dir / MODEL_FILE
    export_onnx(graph, ckpt, onnx_path)
    worst = parity(graph, ckpt, onnx_path)
    if worst > atol:
        shutil.rmtree(out_dir, ignore_errors=True)
        raise AssertionError(
            f"ONNX parity failed: max |diff| / (1 + channel max |torch|) = {worst:.2e} > {atol:.0e}"
        )
    log.info("exported %s, parity max |diff| / (1 + channel max |torch|) = %.2e", onnx_path, worst)
    if not metrics:
        log.warning(
            "no metrics.json in %s: this model was NEVER EVALUATED; run `rnngan evaluate` first",
            run_dir,
        )
    write_report(out_dir, config.name, config.version, metrics, run_dir)
    inputs, outputs = family.io(ckpt)
    fields = family.manifest_fields(ckpt)
    manifest = Manifest(
        name=config.name,
        version=config.version,
        task=config.task,
        description=config.description,
        features=ckpt.features,
        latent_dim=fields.pop("latent_dim", config.model.latent_dim),
        onnx=OnnxInfo(
            sha256=file_sha256(onnx_path), opset=OPSET, inputs=list(inputs), outputs=list(outputs)
        ),
        training={
            **recorded_config(config.to_dict()),
            "steps_trained": ckpt.step,
            "selected_step": ckpt.selection.step if ckpt.selection is not None else None,
        },
        dataset=ckpt.dataset,
        calibration=metrics.pop("calibration", None),
        metrics={**metrics, "onnx_parity_max_scaled_diff": worst},
        created_by=f"rnngan {__version__}",
        **fields,
    )
    manifest.write(out_dir / MANIFEST_FILE)
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    if final_dir.exists():  # re-export of the same version: replace it
        shutil.rmtree(final_dir)
    out_dir.rename(final_dir)
    return final_dir
