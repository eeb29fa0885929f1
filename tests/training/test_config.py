from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO
from training.config import ConfigError, RunConfig, from_dict, load_config

BASE = {"name": "x", "task": "generate", "data": {"dataset": "sines"}}


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*.toml")), ids=lambda p: p.stem)
def test_config_shipped_files_load(path: Path) -> None:
    config = load_config(path)
    assert config.name == path.stem


def test_config_unknown_key_is_an_error() -> None:
    with pytest.raises(
        ConfigError,
        match=r"unknown key\(s\) 'model.hiden_size'; known keys in "
        r"\[model\]: kind, cell, latent_dim, hidden_size",
    ):
        from_dict(RunConfig, {**BASE, "model": {"hiden_size": 3}})


def test_config_wrong_type_is_an_error() -> None:
    with pytest.raises(ConfigError, match="data.seq_len: expected int, got str"):
        from_dict(RunConfig, {**BASE, "data": {"dataset": "sines", "seq_len": "24"}})


def test_config_bad_choice_is_an_error() -> None:
    with pytest.raises(
        ConfigError, match=r"task: 'gen' is not one of \['generate', 'forecast', 'image'\]"
    ):
        from_dict(RunConfig, {**BASE, "task": "gen"})


def test_config_is_frozen() -> None:
    config = from_dict(RunConfig, BASE)
    with pytest.raises(AttributeError):
        config.seed = 3  # type: ignore[misc]


def test_config_patch_must_divide_context() -> None:
    raw = {
        "name": "f",
        "task": "forecast",
        "data": {"dataset": "etth1_ot", "context_len": 10},
        "model": {"patch_len": 4, "disc_context": 5},
    }
    with pytest.raises(ConfigError, match="patch_len=4 must divide data.context_len=10"):
        from_dict(RunConfig, raw)
