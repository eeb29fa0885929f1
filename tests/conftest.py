"""Shared fixtures. Service tests run against a copy of the model versions the repository ships
(`MODELS`), never over `models/` itself, where a user's own exports may sit beside them."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parents[1]
REPO_MODELS = REPO / "models"


def _shipped_versions() -> list[Path]:
    """The version folders of `models/` that the repository ships: those git tracks, so that a
    model the user exported there (`rnngan export --models-dir models`) is never served to the
    tests; outside a git checkout, every version folder on disk."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--", "models/*/*/manifest.json"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        manifests = [REPO / name for name in listed.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        manifests = []
    if not manifests:
        manifests = sorted(REPO_MODELS.glob("*/*/manifest.json"))
    return sorted(m.parent for m in manifests if m.parent.name.isdigit() and m.is_file())


def _fixture_repository() -> Path:
    """A private copy of the shipped versions (a few MB), removed when the session ends."""
    root = Path(tempfile.mkdtemp(prefix="rnngan-test-models-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    for version in _shipped_versions():
        shutil.copytree(version, root / version.relative_to(REPO_MODELS))
    return root


MODELS = _fixture_repository()


def _shipped() -> dict[str, list[int]]:
    """Each shipped model's versions, ascending."""
    versions: dict[str, list[int]] = {}
    for version in MODELS.glob("*/*/manifest.json"):
        name, number = version.parent.parent.name, version.parent.name
        versions.setdefault(name, []).append(int(number))
    return {name: sorted(numbers) for name, numbers in sorted(versions.items())}


SHIPPED_VERSIONS = _shipped()
SHIPPED = {name: numbers[-1] for name, numbers in SHIPPED_VERSIONS.items()}  # the latest


@pytest.fixture()
def models_copy(tmp_path: Path) -> Path:
    """A private copy of the shipped model repository that a test may break."""
    dest = tmp_path / "models"
    shutil.copytree(MODELS, dest)
    return dest


@pytest.fixture(scope="session")
def client() -> Iterator[object]:
    from fastapi.testclient import TestClient

    from service.config import Settings
    from service.main import create_app

    app = create_app(Settings(models_dir=MODELS, _env_file=None))  # type: ignore[call-arg]
    with TestClient(app) as c:
        yield c
