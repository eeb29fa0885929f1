"""`rnngan generate` writes the same bytes as POST /v1/models/{name}/datasets."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from rnngan.cli import app
from tests.conftest import MODELS


@pytest.mark.parametrize(
    ("fmt", "compression", "offset"),
    [("csv", "none", 0), ("ndjson", "none", 5), ("parquet", "none", 0), ("csv", "gzip", 3)],
)
def test_cli_generate_matches_http_bytes(
    client: TestClient, tmp_path: Path, fmt: str, compression: str, offset: int
) -> None:
    out = tmp_path / f"out.{fmt}"
    args = [
        "generate",
        "--model",
        "sines",
        "--n",
        "300",
        "--length",
        "10",
        "--seed",
        "4",
        "--offset",
        str(offset),
        "--format",
        fmt,
        "--compression",
        compression,
        "--models-dir",
        str(MODELS),
        "--out",
        str(out),
        "--chunk-series",
        "64",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    body = {
        "n": 300,
        "length": 10,
        "seed": 4,
        "offset": offset,
        "format": fmt,
        "compression": compression,
    }
    http = client.post("/v1/models/sines/datasets", json=body)
    assert http.status_code == 200
    if fmt == "parquet":  # row groups follow the chunk size; compare values, not bytes
        import io

        import pyarrow.parquet as pq

        assert pq.read_table(out).equals(pq.read_table(io.BytesIO(http.content)))
    else:
        assert out.read_bytes() == http.content


def test_cli_generate_unknown_model_fails_clearly(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "generate",
            "--model",
            "nope",
            "--models-dir",
            str(MODELS),
            "--out",
            str(tmp_path / "x.csv"),
        ],
    )
    assert result.exit_code == 2
    assert "model 'nope' not found" in result.output


def test_cli_generate_bad_format_fails_clearly(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "generate",
            "--model",
            "sines",
            "--format",
            "xlsx",
            "--models-dir",
            str(MODELS),
            "--out",
            str(tmp_path / "x"),
        ],
    )
    assert result.exit_code == 2
    assert "format" in result.output


def test_cli_train_unknown_key_fails_clearly(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('name = "x"\ntask = "generate"\ncolour = 1\n[data]\ndataset = "sines"\n')
    result = CliRunner().invoke(app, ["train", "--config", str(config)])
    assert result.exit_code == 2
    assert "unknown key(s) 'colour'" in result.output


def test_cli_version_prints_the_package_version() -> None:
    from rnngan import __version__

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output == f"rnngan {__version__}\n"


def test_cli_generate_progress_shows_the_total(tmp_path: Path) -> None:
    out = tmp_path / "s.csv"
    args = ["generate", "--model", "sines", "--n", "10", "--length", "24", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--models-dir", str(MODELS)])
    assert result.exit_code == 0, result.output
    assert "240/240" in result.stderr  # n × length rows, known before the first chunk
    assert "| 0/240 [" in result.stderr  # the first draw, before any row
