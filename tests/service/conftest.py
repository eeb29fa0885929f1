"""Service fixtures beyond tests/conftest.py: the shipped models plus a small table model."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.config import Settings
from service.main import create_app
from tests.conftest import MODELS

# tests/service/fixtures/models/tiny_stores/1, written by fixtures/make_table_model.py.
TABLE_MODELS = Path(__file__).parent / "fixtures" / "models"


@pytest.fixture(scope="session")
def with_table_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository of the shipped models and the tiny table model."""
    root = tmp_path_factory.mktemp("with-table") / "models"
    shutil.copytree(MODELS, root)
    shutil.copytree(TABLE_MODELS, root, dirs_exist_ok=True)
    return root


@pytest.fixture(scope="session")
def table_client(with_table_models: Path) -> Iterator[TestClient]:
    settings = Settings(  # type: ignore[call-arg]
        models_dir=with_table_models, reload_interval_s=0, log_level="warning", _env_file=None
    )
    with TestClient(create_app(settings)) as client:
        yield client
