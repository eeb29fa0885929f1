"""The one-way dependencies (STYLE.md, Layout): the service never loads torch or training, the
manifest never loads pandas or pyarrow, rnngan.core never reaches into the service or FastAPI,
and the client (rnngan.client, `rnngan forecast`) loads neither torch nor the service. Each
check runs in a fresh interpreter, so what this test process already imported cannot hide (or
fake) an import."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import MODELS, REPO

CORE = REPO / "rnngan" / "core"


def _loaded_after(code: str) -> set[str]:
    """Top-level names of the modules in sys.modules after running `code` in a new interpreter."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    modules = json.loads(result.stdout.strip().splitlines()[-1])
    return {name.split(".")[0] for name in modules}


def test_boundary_service_app_loads_neither_torch_nor_training() -> None:
    loaded = _loaded_after(
        "from service.config import Settings\n"
        "from service.main import create_app\n"
        f"create_app(Settings(models_dir={str(MODELS)!r}, _env_file=None))"
    )
    assert "service" in loaded and "fastapi" in loaded  # the app was really built
    assert {"torch", "training"} & loaded == set()


def test_boundary_client_loads_neither_torch_nor_the_service() -> None:
    """rnngan.client is for the serving install and for users' notebooks: a client of the
    API, not of the service's code."""
    loaded = _loaded_after(
        "import rnngan.client, rnngan.client.forecast, rnngan.client.download\n"
        "import rnngan.cli.client\n"
        "rnngan.client.Client('http://127.0.0.1:9').close()"
    )
    assert {"httpx", "pandas"} <= loaded  # the client was really imported
    assert {"torch", "training", "service", "fastapi", "starlette", "onnxruntime"} & loaded == set()


def test_boundary_manifest_loads_neither_pandas_nor_pyarrow() -> None:
    loaded = _loaded_after("import rnngan.core.manifest")
    assert "pydantic" in loaded
    assert {"pandas", "pyarrow"} & loaded == set()


def _core_modules() -> list[str]:
    return sorted(
        ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        for path in CORE.rglob("*.py")
    )


def test_boundary_core_loads_neither_service_nor_fastapi() -> None:
    loaded = _loaded_after("\n".join(f"import {name}" for name in _core_modules()))
    assert "rnngan" in loaded
    assert {"service", "fastapi", "starlette", "torch", "training"} & loaded == set()


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: p.name)
def test_boundary_core_imports_nothing_above_it(path: Path) -> None:
    """Also the imports inside functions, which importing the module does not run."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    assert names & {"service", "fastapi", "starlette", "torch", "training"} == set()
