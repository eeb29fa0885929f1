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
    return {
        d.name: max(int(v.name) for v in d.iterdir() if v.name.isdigit())
        for d in sorted(MODELS.iterdir())
        if d.is_dir()
    }


SHIPPED = _shipped()
GENERATORS = sorted(
    n
    for n in SHIPPED
    if (MODELS / n / str(SHIPPED[n]) / "manifest.json").read_text().count('"task": "generate"')
)


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
