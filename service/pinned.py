"""Versions other than the served one, for the pinned routes (`/v1/models/{name}/versions/{v}/…`).

The registry opens only the highest good version of each model at a scan. An older version is
checked and opened the first time a request pins it (the same checks as a scan: manifest,
sha256, a test run of the graph), then kept in a small least-recently-used cache of
`Settings.max_pinned_versions` sessions, so memory grows by at most that many graphs whatever
the repository holds (0: open it for the request and drop it after). A pinned version runs
without micro-batching (no batcher thread per cached version) and shares the service's row
budget, so the inference memory bound (docs/memory.md) holds for it too.

A version whose files change on disk is checked again; a refused one is not retried until its
files change.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from service.repository import ModelRefused, Signature, public_reason, signature

if TYPE_CHECKING:
    from service.registry import LoadedModel

log = logging.getLogger("rnngan.registry")


class VersionNotServed(Exception):
    """A pinned version that cannot be served; the message says why, for the client."""


class PinnedVersions:
    def __init__(
        self, load: Callable[[Path, Signature | None], LoadedModel], root: Path, capacity: int
    ) -> None:
        self._load = load  # checks and opens one version folder, without a batcher
        self.root = root  # the model repository
        self.capacity = capacity
        self._open: OrderedDict[tuple[str, int], LoadedModel] = OrderedDict()
        self._refused: dict[tuple[str, int], tuple[Signature | None, str]] = {}
        self._lock = threading.Lock()

    def resolve(
        self, served: LoadedModel | None, versions: list[int], name: str, version: int
    ) -> LoadedModel:
        """Version `version` of model `name`: the served one itself, or another of `versions`
        (the model's version folders not refused by the last scan) opened on demand."""
        if served is None:
            raise VersionNotServed(f"Model '{name}' not found.")
        if served.manifest.version == version:
            return served
        if version not in versions:
            listed = ", ".join(map(str, versions))
            raise VersionNotServed(f"Model '{name}' has no version {version}; versions: {listed}.")
        return self.get(self.root / name / str(version), name, version)

    def get(self, version_dir: Path, name: str, version: int) -> LoadedModel:
        """The opened version (cached), or VersionNotServed. Opening holds a lock: concurrent
        first requests for a version open it once."""
        key = (name, version)
        try:
            sig: Signature | None = signature(version_dir)
        except OSError:
            raise VersionNotServed(
                f"Model '{name}' version {version} is no longer in the repository."
            ) from None
        with self._lock:
            held = self._open.get(key)
            if held is not None and held.signature == sig:
                self._open.move_to_end(key)
                return held
            refused = self._refused.get(key)
            if refused is not None and refused[0] == sig:
                raise VersionNotServed(refused[1])
            try:
                loaded = self._load(version_dir, sig)
            except ModelRefused as exc:
                reason = public_reason(str(exc), version_dir)
                log.error("refusing model %s/%s: %s", name, version, reason)
                message = f"Model '{name}' version {version} cannot be served: {reason}."
                self._refused[key] = (sig, message)
                raise VersionNotServed(message) from None
            log.info("opened pinned version %s/%s", name, version)
            if self.capacity > 0:
                self._open[key] = loaded
                while len(self._open) > self.capacity:
                    (old_name, old_version), _ = self._open.popitem(last=False)
                    log.info(
                        "closed pinned version %s/%s (least recently used)",
                        *(old_name, old_version),
                    )
            return loaded

    def keep(self, available: dict[str, list[int]]) -> None:
        """After a scan: forget versions that are gone from the repository."""
        with self._lock:
            for key in [k for k in self._open if k[1] not in available.get(k[0], [])]:
                del self._open[key]
            for key in [k for k in self._refused if k[1] not in available.get(k[0], [])]:
                del self._refused[key]

    def opened(self) -> list[tuple[str, int]]:
        with self._lock:
            return list(self._open)
