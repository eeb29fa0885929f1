"""Shared fixtures. Service tests run against the shipped model repository (`models/`)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "models"


def _shipped() -> dict[str, int]:
    """Each shipped model's highest version, read off the repository on disk."""
    versions: dict[str, int] = {}
    for version in sorted(MODELS.glob("*/*/manifest.json")):
        name, number = version.parent.parent.name, version.parent.name
        if number.isdigit():
            versions[name] = max(versions.get(name, 0), int(number))
    return dict(sorted(versions.items()))


SHIPPED = _shipped()


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
