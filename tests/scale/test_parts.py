"""Bulk generation in parts without Ray (rnngan/scale/): each part is byte for byte the file of
one `rnngan generate --n --offset` call, a rerun regenerates only missing or damaged parts, and
bad input fails with exit code 2 and nothing that looks complete."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rnngan.cli import app
from rnngan.scale.output import PROGRESS, SUCCESS, LocalEngine, run_job
from rnngan.scale.parts import Job, JobError, Part, load_model, offline_settings, plan_job
from tests.conftest import MODELS, REPO


def _generate(*args: str, models: Path = MODELS) -> Any:
    result = CliRunner().invoke(app, ["generate", *args, "--models-dir", str(models)])
    return result


def _parts(out: Path, *extra: str, model: str = "sines", models: Path = MODELS) -> Any:
    return _generate(
        "--model", model, "--n", "100", "--seed", "3", "--out", str(out), *extra, models=models
    )


def _success(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / SUCCESS).read_text())
    return data


@pytest.mark.parametrize(
    ("fmt", "extra"),
    [
        ("parquet", ["--chunk-series", "8"]),
        ("parquet", ["--offset", "7"]),
        ("csv", ["--compression", "gzip", "--chunk-series", "16"]),
    ],
)
def test_parts_match_single_process_cli_bytes(tmp_path: Path, fmt: str, extra: list[str]) -> None:
    out = tmp_path / "parts"
    result = _parts(out, "--format", fmt, "--rows-per-file", "720", *extra)  # 30 series a part
    assert result.exit_code == 0, result.output
    success = _success(out)
    starts = [(p["start"], p["n"]) for p in success["parts"]]
    first = 7 if "--offset" in extra else 0
    assert starts == [(first, 30), (first + 30, 30), (first + 60, 30), (first + 90, 10)]
    assert success["rows"] == 100 * 24 and success["series"] == 100
    names = sorted(p.name for p in out.iterdir())
    ext = "csv.gz" if fmt == "csv" else fmt
    assert names == [SUCCESS] + [f"part-0000{k}.{ext}" for k in range(4)]
    chunk = extra[extra.index("--chunk-series") + 1] if "--chunk-series" in extra else "4096"
    compression = "gzip" if fmt == "csv" else "none"
    for record in success["parts"]:
        single = tmp_path / f"single-{record['index']}"
        args = ["--model", "sines", "--seed", "3", "--format", fmt, "--chunk-series", chunk]
        args += ["--n", str(record["n"]), "--offset", str(record["start"]), "--out", str(single)]
        result = _generate(*args, "--compression", compression)
        assert result.exit_code == 0, result.output
        assert (out / record["file"]).read_bytes() == single.read_bytes(), record["file"]
        assert record["bytes"] == single.stat().st_size


def test_parts_csv_concatenate_to_one_file(tmp_path: Path) -> None:
    out, whole = tmp_path / "parts", tmp_path / "whole.csv"
    assert _parts(out, "--format", "csv", "--rows-per-file", "500").exit_code == 0
    assert _parts(whole, "--format", "csv").exit_code == 0
    joined = b"".join(p.read_bytes() for p in sorted(out.glob("part-*.csv")))
    assert joined == whole.read_bytes()


def _mtimes(out: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in out.glob("part-*")}


def test_parts_resume_rewrites_only_missing_and_corrupt(tmp_path: Path) -> None:
    out = tmp_path / "parts"
    assert _parts(out, "--format", "parquet", "--rows-per-file", "480").exit_code == 0  # 5 parts
    original = {p.name: p.read_bytes() for p in out.glob("part-*")}
    success = (out / SUCCESS).read_bytes()
    before = _mtimes(out)
    (out / "part-00001.parquet").unlink()
    damaged = bytearray(original["part-00003.parquet"])
    damaged[100] ^= 0xFF  # same size, other bytes: only the checksum can tell
    (out / "part-00003.parquet").write_bytes(bytes(damaged))
    result = _parts(out, "--format", "parquet", "--rows-per-file", "480")
    assert result.exit_code == 0, result.output
    assert "wrote 2, kept 3 already complete (checksums match)" in result.output
    after = _mtimes(out)
    for name in ("part-00000.parquet", "part-00002.parquet", "part-00004.parquet"):
        assert after[name] == before[name], name
    assert after["part-00001.parquet"] != before["part-00001.parquet"]
    assert {p.name: p.read_bytes() for p in out.glob("part-*")} == original
    assert (out / SUCCESS).read_bytes() == success
    assert not (out / PROGRESS).exists()
    # Nothing left to do: nothing is touched, _SUCCESS included.
    stamp = (out / SUCCESS).stat().st_mtime_ns
    result = _parts(out, "--format", "parquet", "--rows-per-file", "480")
    assert "wrote 0, kept 5 already complete" in result.output
    assert _mtimes(out) == after and (out / SUCCESS).stat().st_mtime_ns == stamp


class _FailingEngine:
    """The local engine, failing once `fail_after` parts are written (a crash mid-job)."""

    def __init__(self, engine: LocalEngine, fail_after: int) -> None:
        self.engine, self.fail_after = engine, fail_after

    def write(self, job: Job, parts: list[Part], out_dir: Path) -> Iterator[dict[str, Any]]:
        for k, record in enumerate(self.engine.write(job, parts, out_dir)):
            yield record
            if k + 1 == self.fail_after:
                raise RuntimeError("worker lost")


def test_parts_interrupted_run_is_not_complete_and_resumes(tmp_path: Path) -> None:
    settings = offline_settings(MODELS)
    job = plan_job(load_model(settings, "sines"), settings, n=100, seed=3, rows_per_file=480)
    out = tmp_path / "parts"
    with pytest.raises(RuntimeError, match="worker lost"):
        run_job(job, out, _FailingEngine(LocalEngine(settings), fail_after=2))
    assert not (out / SUCCESS).exists()
    assert sorted(p.name for p in out.iterdir()) == [
        PROGRESS,
        "part-00000.parquet",
        "part-00001.parquet",
    ]
    summary = run_job(job, out, LocalEngine(settings))
    assert summary.kept == ["part-00000.parquet", "part-00001.parquet"]
    assert summary.written == ["part-00002.parquet", "part-00003.parquet", "part-00004.parquet"]
    assert (out / SUCCESS).is_file() and not (out / PROGRESS).exists()


def test_parts_other_job_in_directory_refused(tmp_path: Path) -> None:
    out = tmp_path / "parts"
    assert _parts(out, "--format", "parquet", "--rows-per-file", "480").exit_code == 0
    before = _mtimes(out)
    result = _generate(
        "--model", "sines", "--n", "100", "--seed", "4", "--out", str(out),
        "--format", "parquet", "--rows-per-file", "480",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "holds parts of another job (seed 3 → 4); use an empty directory" in result.output
    assert _mtimes(out) == before and (out / SUCCESS).is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "nope"], "model 'nope' not found in"),
        (["--model", "etth1_ot"], "model 'etth1_ot' is a forecast model, not a generate model"),
        (["--model", "sines", "--rows-per-file", "0"], "--rows-per-file must be at least 1"),
        (["--model", "sines", "--engine", "spark"], "--engine must be local or ray"),
        (["--model", "sines", "--condition", "a=b"], "'condition', 'start' and 'impute' apply"),
        (["--model", "sines", "--format", "parquet", "--compression", "gzip"], "compression"),
    ],
)
def test_parts_bad_input_fails_clearly(tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "parts"
    if "--rows-per-file" not in args:
        args = [*args, "--rows-per-file", "100"]
    result = _generate(*args, "--n", "10", "--out", str(out))
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], result.output
    assert not (out / SUCCESS).exists()


def test_parts_unwritable_out_fails_clearly(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = _parts(blocker / "parts", "--rows-per-file", "100")
    assert result.exit_code == 2
    assert f"cannot write to --out {blocker / 'parts'}" in result.output
    result = _parts(blocker, "--rows-per-file", "100")
    assert result.exit_code == 2
    assert "is a file; with parts it must be a directory" in result.output
    result = _parts(Path("-"), "--rows-per-file", "100")
    assert result.exit_code == 2 and "give --out DIR" in result.output


def test_parts_engine_ray_without_ray_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    monkeypatch.delitem(sys.modules, "rnngan.scale.ray", raising=False)
    result = _parts(tmp_path / "parts", "--engine", "ray")
    assert result.exit_code == 2
    assert "pip install 'rnngan[ray]' (or use --engine local)" in result.output
    assert not (tmp_path / "parts").exists()


def test_parts_local_engine_never_imports_ray(tmp_path: Path) -> None:
    script = (
        "import sys\nfrom typer.testing import CliRunner\nfrom rnngan.cli import app\n"
        f"r = CliRunner().invoke(app, ['generate', '--model', 'sines', '--n', '20', "
        f"'--models-dir', {str(MODELS)!r}, '--out', {str(tmp_path / 'p')!r}, "
        "'--rows-per-file', '100', '--format', 'parquet'])\n"
        "assert r.exit_code == 0, r.output\nprint('ray' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "False"
    assert (tmp_path / "p" / SUCCESS).is_file()


def test_plan_job_parts_cover_the_range_once() -> None:
    settings = offline_settings(MODELS)
    loaded = load_model(settings, "sines")
    job = plan_job(loaded, settings, n=1001, seed=0, offset=5, rows_per_file=2400)
    parts = job.parts()
    assert job.series_per_part == 100 and len(parts) == 11
    assert [p.start for p in parts] == list(range(5, 1006, 100))
    assert sum(p.n for p in parts) == 1001 and parts[-1].n == 1
    tiny = plan_job(loaded, settings, n=3, seed=0, rows_per_file=1)  # fewer rows than a series
    assert [(p.start, p.n) for p in tiny.parts()] == [(0, 1), (1, 1), (2, 1)]
    with pytest.raises(JobError, match="at least 1"):
        plan_job(loaded, settings, n=3, seed=0, rows_per_file=-5)
