"""What the registry checks on disk and in a graph before a model version may serve: which
entries of the repository are model and version folders, where the ONNX file may live, what a
refusal may say publicly, and a run of the graph on a tiny batch against its manifest."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import onnxruntime as ort

from rnngan.core.manifest import Manifest
from rnngan.core.noise import series_noise

log = logging.getLogger("rnngan.registry")

# A version folder is a plain ASCII number (`str.isdigit` also takes '²' or '٣', which `int` then
# refuses or reads as another number).
_VERSION = re.compile(r"[0-9]+", re.ASCII)


class ModelRefused(Exception):
    """A model version that must not be served; the message says why."""


# What a version directory looked like when it was checked: its inode and, per file, the name,
# size, mtime and inode. Any write or rename changes it.
Signature = tuple[int, tuple[tuple[str, int, int, int], ...]]


def signature(version_dir: Path) -> Signature:
    files = []
    for entry in sorted(version_dir.iterdir()):
        st = entry.stat()
        files.append((entry.name, st.st_size, st.st_mtime_ns, st.st_ino))
    return version_dir.stat().st_ino, tuple(files)


def entries(path: Path) -> list[Path]:
    """Children in name order, skipping hidden ones (staging areas for versions being
    written)."""
    try:
        return sorted(p for p in path.iterdir() if not p.name.startswith("."))
    except OSError as exc:
        log.error("cannot list %s: %s", path, exc)
        return []


def public_reason(reason: str, version_dir: Path) -> str:
    """A refusal reason without the server's paths: it is shown by the unauthenticated /readyz."""
    for path in {str(version_dir.resolve()), str(version_dir.absolute()), str(version_dir)}:
        reason = reason.replace(path + "/", "").replace(path, "<version folder>")
    return reason


def not_a_version(entry: Path) -> str | None:
    """Why an entry of a model folder is not a version folder, or None when it is one."""
    if not _VERSION.fullmatch(entry.name):
        return "not a version folder: versions are folders named 1, 2, 3 ..."
    if int(entry.name) < 1:
        return "version numbers start at 1"
    try:
        if not entry.is_dir():
            return "a file, not a version folder"
    except OSError as exc:
        return f"cannot read it: {exc.strerror or exc}"
    return None


def inside(version_dir: Path, file: str) -> Path:
    """The manifest's ONNX file, refused unless it is a plain name inside the version folder."""
    candidate = Path(file)
    if candidate.is_absolute() or len(candidate.parts) != 1 or candidate.name in ("", ".", ".."):
        raise ModelRefused(f"onnx.file must be a file name inside the version folder, got {file!r}")
    return version_dir / candidate


def _image_inputs(manifest: Manifest, n: int) -> dict[str, np.ndarray]:
    """A tiny batch for an image graph: noise, and a label each or a one-word <unk> prompt."""
    spec = manifest.image
    assert spec is not None
    inputs = {"noise": series_noise(0, 0, n, spec.height, manifest.latent_dim)}
    if spec.conditioning == "label":
        classes = int(spec.num_classes or 1)
        inputs["label"] = np.eye(classes, dtype=np.float32)[np.arange(n) % classes]
    elif spec.conditioning == "text":
        tokens = np.full((n, int(spec.max_prompt_len or 1)), spec.pad_id or 0, dtype=np.int64)
        tokens[:, 0] = spec.unk_id or 0
        inputs["tokens"] = tokens
    return inputs


def check_graph(session: ort.InferenceSession, manifest: Manifest) -> None:
    """Run the graph once on a tiny batch and check its output against the manifest: a graph
    that answers another shape (a wrong latent_dim, another model's graph, fewer features)
    is refused at load instead of failing requests later."""
    latent, n = manifest.latent_dim, 2
    inputs: dict[str, np.ndarray]
    if manifest.task == "forecast":
        horizon, context = int(manifest.horizon or 1), int(manifest.context_len or 1)
        history = np.linspace(0.0, 1.0, context, dtype=np.float32)[None, :]
        noise = series_noise(0, 0, 1, n * horizon, latent).reshape(1, n, horizon, latent)
        inputs, expected = {"history": history, "noise": noise}, (1, n, horizon)
        if manifest.covariates is not None:
            width = len(manifest.covariates.columns)
            inputs["covariates"] = np.zeros((1, context + horizon, width), dtype=np.float32)
    elif manifest.image is not None:
        inputs, expected = (
            _image_inputs(manifest, n),
            (n, manifest.image.height, manifest.image.width),
        )
    else:
        steps = min(int(manifest.seq_len or 1), 16)
        inputs = {"noise": series_noise(0, 0, n, steps, latent)}
        width = len(manifest.features)
        if manifest.table is not None:
            condition = np.zeros((n, manifest.table.condition_dim), dtype=np.float32)
            condition[:, -1] = 1.0
            inputs["condition"] = condition
            width = manifest.table.channels
        expected = (n, steps, width)
    try:
        (out,) = session.run(list(manifest.onnx.outputs), inputs)
    except Exception as exc:  # noqa: BLE001 - ORT's errors for bad shapes vary by type
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise ModelRefused(f"the graph does not run on the manifest's shapes: {first}") from exc
    shape = tuple(np.shape(out))
    if shape != expected:
        raise ModelRefused(
            f"the graph answers shape {list(shape)} where the manifest implies {list(expected)} "
            f"(latent_dim {latent}, {len(manifest.features)} feature(s))"
        )
    if not np.isfinite(np.asarray(out, dtype=np.float64)).all():
        raise ModelRefused("the graph gives non-finite values on a test batch")
