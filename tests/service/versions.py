"""Helpers that change a copied model repository the way a deploy would."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import SHIPPED


def write_manifest(version_dir: Path, **changes: object) -> None:
    path = version_dir / "manifest.json"
    raw = json.loads(path.read_text())
    raw.update(changes)
    path.write_text(json.dumps(raw))


def add_version(models_dir: Path, name: str) -> Path:
    """Copy the shipped version to the next number under .staging/, then rename it into place
    (as a deploy does). Returns the new version directory."""
    v = SHIPPED[name]
    staging = models_dir / ".staging" / name / str(v + 1)
    shutil.copytree(models_dir / name / str(v), staging)
    write_manifest(staging, version=v + 1)
    target = models_dir / name / str(v + 1)
    staging.rename(target)
    return target


def only_latest(models_dir: Path, name: str) -> Path:
    """Drop older versions (they would be served instead of a broken latest one)."""
    v = SHIPPED[name]
    for old in range(1, v):
        shutil.rmtree(models_dir / name / str(old), ignore_errors=True)
    return models_dir / name / str(v)
