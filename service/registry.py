"""The model repository: scans `models/<name>/<version>/`, checks each version's manifest and
sha256, opens one ONNX Runtime session per model, and serves the highest good version (others
when a request pins one: service/pinned.py).

A version that fails a check is refused with a log line that says why; the others still load.
`reload()` builds a fresh table and swaps it in one assignment, so in-flight requests keep the
`LoadedModel` they already hold. Versions whose files have not changed since the last scan keep
their session (and a refused one is not re-checked or re-logged), so polling costs a few `stat`
calls. A new version is written elsewhere and renamed into place (directories whose name starts
with '.' are skipped, so `models/.staging/` is a safe place to write one).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort
from pydantic import ValidationError

from rnngan.core.manifest import MANIFEST_FILE, SCHEMA_VERSION, Manifest, file_sha256
from service.batching import MicroBatcher
from service.budget import RowBudget
from service.config import Settings
from service.pinned import PinnedVersions
from service.repository import (
    ModelRefused,
    Signature,
    check_graph,
    entries,
    inside,
    not_a_version,
    public_reason,
    signature,
)

log = logging.getLogger("rnngan.registry")

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


@dataclass(frozen=True)
class LoadedModel:
    manifest: Manifest
    session: ort.InferenceSession
    path: Path
    signature: Signature | None = field(default=None, compare=False, repr=False)
    batcher: MicroBatcher | None = field(default=None, compare=False, repr=False)
    budget: RowBudget | None = field(default=None, compare=False, repr=False)
    max_call_rows: int = field(default=2048, compare=False, repr=False)

    @property
    def name(self) -> str:
        return self.manifest.name

    def run(self, inputs: dict[str, np.ndarray], *, batched: bool = True) -> np.ndarray:
        """The graph's one output for these inputs, micro-batched with concurrent calls when
        batching is on and `batched` (results are the same either way). Holds its generator rows
        of the service's row budget while it runs (503 when none frees up in time)."""
        noise = inputs["noise"]
        rows = noise.shape[0] * (noise.shape[1] if noise.ndim == 4 else 1)
        if self.budget is None:
            return self._call(inputs, batched)
        with self.budget.hold(rows):
            return self._call(inputs, batched)

    def _call(self, inputs: dict[str, np.ndarray], batched: bool) -> np.ndarray:
        if batched and self.batcher is not None:
            return self.batcher.run(inputs)
        (out,) = self.session.run(self.manifest.onnx.outputs, inputs)
        return np.asarray(out)

    @property
    def providers(self) -> list[str]:
        return list(self.session.get_providers())


@dataclass(frozen=True)
class ReloadReport:
    models: dict[str, int]  # name -> served version
    refused: dict[str, str]  # "<name>/<version>" -> reason
    newly_refused: dict[str, str]  # refusals of files not seen before (count these once)
    reopened: list[str]  # names whose ONNX session was (re)opened by this reload


@dataclass
class Registry:
    settings: Settings
    models: dict[str, LoadedModel] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # "<name>/<version>" -> reason
    _refused_at: dict[str, Signature | None] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    budget: RowBudget | None = field(default=None, repr=False)
    available: dict[str, list[int]] = field(default_factory=dict)  # name -> versions to pin
    pinned: PinnedVersions = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.budget is None:
            self.budget = RowBudget(
                self.settings.max_inflight_rows, timeout_s=self.settings.queue_timeout_s
            )
        self.pinned = PinnedVersions(
            lambda path, sig: self.load_version(path, sig=sig, batched=False),
            self.settings.models_dir,
            self.settings.max_pinned_versions,
        )

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
        # Without the arena, a call's working memory goes back to the allocator when it ends
        # instead of staying reserved at the largest call's size (make bench-memory).
        opts.enable_cpu_mem_arena = self.settings.ort_cpu_arena
        return opts

    def read_manifest(self, version_dir: Path) -> Manifest:
        manifest_path = version_dir / MANIFEST_FILE
        if not manifest_path.is_file():
            raise ModelRefused(f"no {MANIFEST_FILE}")
        try:
            text = manifest_path.read_text(encoding="utf-8")
            raw = json.loads(text)
        except OSError as exc:
            raise ModelRefused(f"cannot read {MANIFEST_FILE}: {exc}") from exc
        except ValueError as exc:
            raise ModelRefused(f"manifest is not valid JSON: {exc}") from exc
        if not isinstance(raw, dict):
            raise ModelRefused("manifest is not a JSON object")
        # Checked before the schema, so a manifest from a newer exporter says what is wrong
        # instead of failing on whichever field changed first.
        schema_version = raw.get("schema_version", SCHEMA_VERSION)
        if isinstance(schema_version, bool) or schema_version != SCHEMA_VERSION:
            raise ModelRefused(
                f"unknown schema_version {json.dumps(schema_version)} "
                f"(this service reads {SCHEMA_VERSION})"
            )
        try:
            return Manifest.model_validate_json(text)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "manifest"
            raise ModelRefused(f"manifest is invalid at '{where}': {first.get('msg')}") from exc

    def load_version(
        self,
        version_dir: Path,
        reuse: LoadedModel | None = None,
        sig: Signature | None = None,
        batched: bool = True,
    ) -> LoadedModel:
        """Check and open one version directory, or raise ModelRefused saying why. `reuse`: a
        loaded model whose session is kept when name, version and ONNX sha256 all match.
        `batched`: with a micro-batcher (when batching is on)."""
        manifest = self.read_manifest(version_dir)
        if manifest.name != version_dir.parent.name or str(manifest.version) != version_dir.name:
            raise ModelRefused(
                f"manifest says {manifest.name}/{manifest.version} but it lives in "
                f"{version_dir.parent.name}/{version_dir.name}"
            )
        onnx_path = inside(version_dir, manifest.onnx.file)
        if not onnx_path.is_file():
            raise ModelRefused(f"{manifest.onnx.file} is missing")
        digest = file_sha256(onnx_path)
        if digest != manifest.onnx.sha256:
            raise ModelRefused(
                f"sha256 of {manifest.onnx.file} is {digest}, manifest says {manifest.onnx.sha256}"
            )
        if (
            reuse is not None
            and (reuse.manifest.name, reuse.manifest.version, reuse.manifest.onnx.sha256)
            == (manifest.name, manifest.version, digest)
            and reuse.manifest.onnx.inputs == manifest.onnx.inputs
            and reuse.manifest.onnx.outputs == manifest.onnx.outputs
        ):
            return LoadedModel(
                manifest=manifest,
                session=reuse.session,
                path=version_dir,
                signature=sig,
                batcher=reuse.batcher,
                budget=self.budget,
                max_call_rows=self.settings.max_call_rows,
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
        check_graph(session, manifest)
        return LoadedModel(
            manifest=manifest,
            session=session,
            path=version_dir,
            signature=sig,
            batcher=self._batcher(session, manifest) if batched else None,
            budget=self.budget,
            max_call_rows=self.settings.max_call_rows,
        )

    def _batcher(self, session: ort.InferenceSession, manifest: Manifest) -> MicroBatcher | None:
        if self.settings.batch_max_rows <= 0:
            return None
        outputs = list(manifest.onnx.outputs)

        def run(inputs: dict[str, np.ndarray]) -> np.ndarray:
            return np.asarray(session.run(outputs, inputs)[0])

        return MicroBatcher(
            run,
            max_rows=self.settings.batch_max_rows,
            max_wait_s=self.settings.batch_max_wait_ms / 1000.0,
            name=f"{manifest.name}/{manifest.version}",
        )

    def reload(self) -> ReloadReport:
        """Rescan the repository and swap in the new table. For each model the highest version
        that checks out is served, so a bad new version never replaces a good one."""
        with self._lock:
            root = self.settings.models_dir
            if not root.is_dir():
                if self.models:
                    log.error(
                        "model repository %s is gone; keeping the %d loaded model(s)",
                        root,
                        len(self.models),
                    )
                else:
                    log.warning("model repository %s does not exist; serving no models", root)
                return self._report({}, [])
            models: dict[str, LoadedModel] = {}
            available: dict[str, list[int]] = {}
            refused: dict[str, str] = {}
            refused_at: dict[str, Signature | None] = {}
            newly: dict[str, str] = {}
            reopened: list[str] = []
            for entry in entries(root):
                if not entry.is_dir():
                    why = "a file, not a model folder (<name>/<version>/)"
                    if self.refused.get(entry.name) != why:
                        log.warning("skipping %s: %s", entry.name, why, extra={"reason": why})
                    refused[entry.name], refused_at[entry.name] = why, None
                    continue
                name_dir = entry
                loaded = self._pick_version(name_dir, refused, refused_at, newly)
                if loaded is None:
                    continue
                models[name_dir.name] = loaded
                available[name_dir.name] = sorted(  # what a request may pin
                    int(v.name)
                    for v in entries(name_dir)
                    if not_a_version(v) is None and f"{name_dir.name}/{v.name}" not in refused
                )
                held = self.models.get(name_dir.name)
                if held is None or held.session is not loaded.session:
                    reopened.append(name_dir.name)
            for name in sorted(set(self.models) - set(models)):
                log.warning("model %s is no longer in the repository; no longer served", name)
            # One assignment each: a request that already holds a LoadedModel finishes on it.
            retired = _retired_batchers(self.models, models)
            self.models, self.refused, self._refused_at = models, refused, refused_at
            self.available = available
            self.pinned.keep(available)
            report = self._report(newly, reopened)
        for batcher in retired:  # a request still holding the old model runs without it
            batcher.close()
        return report

    def _report(self, newly: dict[str, str], reopened: list[str]) -> ReloadReport:
        return ReloadReport(
            models={name: m.manifest.version for name, m in sorted(self.models.items())},
            refused=dict(self.refused),
            newly_refused=newly,
            reopened=reopened,
        )

    def _pick_version(
        self,
        name_dir: Path,
        refused: dict[str, str],
        refused_at: dict[str, Signature | None],
        newly: dict[str, str],
    ) -> LoadedModel | None:
        """The highest version of one model that checks out (highest first)."""
        name = name_dir.name
        held = self.models.get(name)
        versions: list[tuple[int, Path]] = []
        for entry in entries(name_dir):
            key = f"{name}/{entry.name}"
            why = not_a_version(entry)
            if why is None:
                versions.append((int(entry.name), entry))
                continue
            if self.refused.get(key) != why:
                log.warning("skipping %s: %s", key, why, extra={"reason": why})
            refused[key], refused_at[key] = why, None
        for number, version_dir in sorted(versions, reverse=True):
            key = f"{name}/{number}"
            try:
                sig: Signature | None = signature(version_dir)
            except OSError:  # removed or renamed while we looked; check it the long way
                sig = None
            if held is not None and held.path == version_dir and sig and held.signature == sig:
                return held  # unchanged files: keep the open session
            if sig and key in self._refused_at and self._refused_at[key] == sig:
                refused[key], refused_at[key] = self.refused[key], sig  # already logged
                continue
            try:
                loaded = self.load_version(version_dir, reuse=held, sig=sig)
            except ModelRefused as exc:
                reason = public_reason(str(exc), version_dir)
                refused[key], refused_at[key], newly[key] = reason, sig, reason
                log.error("refusing model %s: %s", key, reason, extra={"reason": reason})
                continue
            except OSError as exc:
                reason = f"cannot read the version directory: {exc.strerror or exc}"
                refused[key], refused_at[key], newly[key] = reason, None, reason
                log.error("refusing model %s: %s", key, reason, extra={"reason": reason})
                continue
            except Exception as exc:  # noqa: BLE001 - one bad version must not stop the scan
                reason = public_reason(
                    f"unexpected error: {type(exc).__name__}: {exc}", version_dir
                )
                refused[key], refused_at[key], newly[key] = reason, None, reason
                log.exception("refusing model %s", key, extra={"reason": reason})
                continue
            log.info("loaded model %s (task=%s) on %s", key, loaded.manifest.task, loaded.providers)
            if CUDA in self.requested_providers() and CUDA not in loaded.providers:
                log.warning(
                    "model %s asked for CUDA but ONNX Runtime fell back to %s; check the "
                    "CUDA and cuDNN libraries",
                    key,
                    loaded.providers,
                )
            return loaded
        return None

    def get(self, name: str) -> LoadedModel | None:
        return self.models.get(name)

    def get_version(self, name: str, version: int) -> LoadedModel:
        """Version `version` of a served model (service/pinned.py), or VersionNotServed."""
        return self.pinned.resolve(
            self.models.get(name), self.available.get(name, []), name, version
        )


class ReloadPoller:
    """Calls `reload` every `interval_s` seconds on a daemon thread until `stop()`."""

    def __init__(self, reload: Callable[[], object], interval_s: float) -> None:
        self._reload = reload
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rnngan-reload", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self._reload()
            except Exception:  # the poller must outlive any one bad scan
                log.exception("model reload failed; retrying in %.0f s", self._interval_s)


def _retired_batchers(
    old: dict[str, LoadedModel], new: dict[str, LoadedModel]
) -> list[MicroBatcher]:
    """The micro-batchers of loaded models that the new table no longer uses (each holds a
    thread until closed)."""
    kept = {id(m.batcher) for m in new.values() if m.batcher is not None}
    return [m.batcher for m in old.values() if m.batcher is not None and id(m.batcher) not in kept]
