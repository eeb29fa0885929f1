"""The model repository: scans `models/<name>/<version>/`, checks each version's manifest and
sha256, opens one ONNX Runtime session per model, and serves the highest good version.

A version that fails a check is refused with a log line that says why; the others still load.
`reload()` builds a fresh table and swaps it in one assignment, so in-flight requests keep the
`LoadedModel` they already hold.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

import onnxruntime as ort
from pydantic import ValidationError

from service.config import Settings
from service.manifest import MANIFEST_FILE, Manifest, file_sha256

log = logging.getLogger("rnngan.registry")

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


class ModelRefused(Exception):
    """A model version that must not be served; the message says why."""


@dataclass(frozen=True)
class LoadedModel:
    manifest: Manifest
    session: ort.InferenceSession
    path: Path

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def providers(self) -> list[str]:
        return list(self.session.get_providers())


@dataclass
class Registry:
    settings: Settings
    models: dict[str, LoadedModel] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # "<name>/<version>" -> reason
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def requested_providers(self) -> list[str]:
        available = ort.get_available_providers()
        if self.settings.device == "cpu":
            return [CPU]
        if CUDA in available:
            return [CUDA, CPU]
        if self.settings.device == "cuda":
            log.warning(
                "device=cuda was asked for but this onnxruntime build offers only %s; "
                "install onnxruntime-gpu (and not onnxruntime) to use the GPU; serving on CPU",
                available,
            )
        return [CPU]

    def session_options(self) -> ort.SessionOptions:
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = self.settings.ort_intra_op_threads
        opts.inter_op_num_threads = self.settings.ort_inter_op_threads
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        spin = "1" if self.settings.ort_allow_spinning else "0"
        opts.add_session_config_entry("session.intra_op.allow_spinning", spin)
        opts.add_session_config_entry("session.inter_op.allow_spinning", spin)
        opts.log_severity_level = 3
        return opts

    def load_version(self, version_dir: Path) -> LoadedModel:
        """Check and open one version directory, or raise ModelRefused saying why."""
        manifest_path = version_dir / MANIFEST_FILE
        if not manifest_path.is_file():
            raise ModelRefused(f"no {MANIFEST_FILE}")
        try:
            manifest = Manifest.read(manifest_path)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "manifest"
            raise ModelRefused(f"manifest is invalid at '{where}': {first.get('msg')}") from exc
        except ValueError as exc:
            raise ModelRefused(f"manifest is not valid JSON: {exc}") from exc
        if manifest.name != version_dir.parent.name or str(manifest.version) != version_dir.name:
            raise ModelRefused(
                f"manifest says {manifest.name}/{manifest.version} but it lives in "
                f"{version_dir.parent.name}/{version_dir.name}"
            )
        onnx_path = version_dir / manifest.onnx.file
        if not onnx_path.is_file():
            raise ModelRefused(f"{manifest.onnx.file} is missing")
        digest = file_sha256(onnx_path)
        if digest != manifest.onnx.sha256:
            raise ModelRefused(
                f"sha256 of {manifest.onnx.file} is {digest}, manifest says {manifest.onnx.sha256}"
            )
        try:
            session = ort.InferenceSession(
                str(onnx_path),
                sess_options=self.session_options(),
                providers=self.requested_providers(),
            )
        except Exception as exc:  # ORT raises several unrelated types for a bad file
            raise ModelRefused(f"ONNX Runtime cannot load {manifest.onnx.file}: {exc}") from exc
        inputs = [i.name for i in session.get_inputs()]
        outputs = [o.name for o in session.get_outputs()]
        if inputs != manifest.onnx.inputs or outputs != manifest.onnx.outputs:
            raise ModelRefused(
                f"graph has inputs {inputs} and outputs {outputs}, manifest says "
                f"{manifest.onnx.inputs} and {manifest.onnx.outputs}"
            )
        return LoadedModel(manifest=manifest, session=session, path=version_dir)

    def scan(self) -> tuple[dict[str, LoadedModel], dict[str, str]]:
        models: dict[str, LoadedModel] = {}
        refused: dict[str, str] = {}
        root = self.settings.models_dir
        if not root.is_dir():
            log.warning("model repository %s does not exist; serving no models", root)
            return models, refused
        for name_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            versions = sorted(
                (int(p.name), p) for p in name_dir.iterdir() if p.is_dir() and p.name.isdigit()
            )
            # Highest version first; the first one that checks out is served.
            for number, version_dir in reversed(versions):
                key = f"{name_dir.name}/{number}"
                if number < 1:
                    continue
                try:
                    loaded = self.load_version(version_dir)
                except ModelRefused as exc:
                    refused[key] = str(exc)
                    log.error("refusing model %s: %s", key, exc)
                    continue
                models[name_dir.name] = loaded
                log.info(
                    "loaded model %s (task=%s) on %s", key, loaded.manifest.task, loaded.providers
                )
                if CUDA in self.requested_providers() and CUDA not in loaded.providers:
                    log.warning(
                        "model %s asked for CUDA but ONNX Runtime fell back to %s; check the "
                        "CUDA and cuDNN libraries",
                        key,
                        loaded.providers,
                    )
                break
        return models, refused

    def reload(self) -> None:
        with self._lock:
            models, refused = self.scan()
            self.models, self.refused = models, refused

    def get(self, name: str) -> LoadedModel | None:
        return self.models.get(name)
