"""`make docs-check` (benchmarks/provenance.py) on a small git repository made for each test: a
results file is current while the code it depends on is the code it recorded running on, and the
code version that benchmarks/common.py records."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from benchmarks import common
from benchmarks.provenance import (
    CURRENT,
    FIGURES,
    STALE,
    UNKNOWN,
    Figure,
    check,
    unregistered,
)
from tests.conftest import REPO

RESULTS = "benchmarks/results/x.json"
TABLE = (
    Figure(RESULTS, "bench-x", ("code/", "configs/x.toml")),
    Figure("docs/x.md", "bench-x", sources=(RESULTS,)),
)


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def write(repo: Path, path: str, text: str) -> None:
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text, encoding="utf-8")


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def record(repo: Path, version: dict[str, object] | None) -> None:
    environment = {"cpu_count": 2, **(version or {})}
    write(repo, RESULTS, json.dumps({"environment": environment, "results": {"a": 1.0}}))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "config", "user.email", "test@example.com")
    git(tmp_path, "config", "user.name", "test")
    write(tmp_path, "code/a.py", "A = 1\n")
    write(tmp_path, "configs/x.toml", "steps = 10\n")
    write(tmp_path, "other/readme.txt", "unrelated\n")
    commit(tmp_path, "code")
    return tmp_path


def statuses(repo: Path) -> dict[str, str]:
    return {v.path: v.status for v in check(repo, TABLE)}


def test_check_recorded_commit_current_until_the_code_changes(repo: Path) -> None:
    ran = git(repo, "rev-parse", "HEAD")
    record(repo, {"commit": ran, "dirty": False, "dirty_files": {}, "utc": "2026-12-04T00:00:00Z"})
    commit(repo, "results")
    write(repo, "other/readme.txt", "still unrelated\n")
    commit(repo, "not the code")
    assert statuses(repo) == {RESULTS: CURRENT, "docs/x.md": CURRENT}

    write(repo, "configs/x.toml", "steps = 20\n")
    changed = commit(repo, "more steps")
    verdicts = {v.path: v for v in check(repo, TABLE)}
    assert verdicts[RESULTS].status == STALE
    assert verdicts["docs/x.md"].status == STALE
    assert f"changed since {ran[:7]} (last: {changed[:7]} " in verdicts[RESULTS].reason
    assert verdicts[RESULTS].reason.endswith("): configs/x.toml")
    assert verdicts[RESULTS].code_changed.startswith(changed[:7])


def test_check_reverted_change_is_current(repo: Path) -> None:
    ran = git(repo, "rev-parse", "HEAD")
    record(repo, {"commit": ran, "dirty": False, "utc": "2026-12-04T00:00:00Z"})
    commit(repo, "results")
    write(repo, "code/a.py", "A = 2\n")
    commit(repo, "change")
    write(repo, "code/a.py", "A = 1\n")
    commit(repo, "revert")
    assert statuses(repo)[RESULTS] == CURRENT


def test_check_uncommitted_change_measured_then_committed_is_current(repo: Path) -> None:
    ran = git(repo, "rev-parse", "HEAD")
    write(repo, "code/a.py", "A = 3\n")  # measured before it was committed
    blob = git(repo, "hash-object", "code/a.py")
    record(
        repo,
        {"commit": ran, "dirty": True, "dirty_files": {"code/a.py": blob}, "utc": "2026-12-04"},
    )
    commit(repo, "A = 3, measured")
    verdict = check(repo, TABLE)[0]
    assert (verdict.status, verdict.reason) == (CURRENT, "")
    assert verdict.recorded == f"{ran[:7]} + uncommitted changes at 2026-12-04"

    write(repo, "code/a.py", "A = 4\n")  # changed again after the measurement
    commit(repo, "A = 4")
    assert statuses(repo)[RESULTS] == STALE


def test_check_deleted_file_in_the_recorded_changes(repo: Path) -> None:
    write(repo, "code/b.py", "B = 1\n")
    ran = commit(repo, "b")
    (repo / "code/b.py").unlink()  # measured with b.py removed, then committed
    record(repo, {"commit": ran, "dirty": True, "dirty_files": {"code/b.py": None}, "utc": "t"})
    commit(repo, "b removed, measured")
    assert statuses(repo)[RESULTS] == CURRENT


def test_check_without_record_falls_back_to_the_file_commit(repo: Path) -> None:
    record(repo, None)
    landed = commit(repo, "results, no commit recorded")
    verdict = check(repo, TABLE)[0]
    assert verdict.status == CURRENT
    assert verdict.recorded.startswith(f"none recorded; file last committed in {landed[:7]} ")

    write(repo, "code/a.py", "A = 5\n")
    commit(repo, "code after the results")
    verdict = check(repo, TABLE)[0]
    assert verdict.status == STALE
    assert verdict.reason.endswith("): code/a.py")


def test_check_every_recorded_version_counts(repo: Path) -> None:
    old = git(repo, "rev-parse", "HEAD")
    write(repo, "code/a.py", "A = 6\n")
    new = commit(repo, "a")
    kept = {"commit": old, "dirty": False, "utc": "earlier"}  # a partial rerun kept its figures
    write(
        repo,
        RESULTS,
        json.dumps({"environment": {"commit": new, "utc": "now"}, "kept_code": [kept]}),
    )
    commit(repo, "results")
    assert statuses(repo)[RESULTS] == STALE


def test_check_results_beside_others_that_record_no_commit_are_stale(repo: Path) -> None:
    """A partial rerun records its commit; a data set it kept from before recording began
    cannot borrow the file's commit and pass as current."""
    head = git(repo, "rev-parse", "HEAD")
    now = {"commit": head, "dirty": False, "utc": "now"}
    before = {"commit": None, "utc": None}
    write(repo, RESULTS, json.dumps({"results": {"a": {"code": now}, "b": {"code": before}}}))
    commit(repo, "results")
    verdict = check(repo, TABLE)[0]
    assert verdict.status == STALE
    assert verdict.reason.startswith("some results record no commit")
    write(repo, RESULTS, json.dumps({"results": {"a": {"code": now}, "b": {"code": now}}}))
    commit(repo, "both rerun")
    assert statuses(repo)[RESULTS] == CURRENT


def test_check_commit_missing_from_history_is_unknown(repo: Path) -> None:
    record(repo, {"commit": "0" * 40, "dirty": False, "utc": "t"})
    commit(repo, "results")
    verdict = check(repo, TABLE)[0]
    assert verdict.status == UNKNOWN
    assert verdict.reason == "0000000 is not in this clone's history (a shallow clone?)"
    assert check(repo, TABLE)[1].status == UNKNOWN


def test_check_missing_results_file_is_unknown(repo: Path) -> None:
    verdict = check(repo, TABLE)[0]
    assert (verdict.status, verdict.recorded) == (UNKNOWN, "missing")


def test_unregistered_lists_results_files_missing_from_the_table(repo: Path) -> None:
    record(repo, None)
    write(repo, "benchmarks/results/y.json", "{}")
    assert unregistered(repo, TABLE) == ["benchmarks/results/y.json"]


def test_code_version_records_commit_and_changed_files(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(repo, "training/loop.py", "STEPS = 1\n")
    head = commit(repo, "training")
    monkeypatch.setattr(common, "REPO", repo)
    clean = common.code_version()
    assert (clean["commit"], clean["dirty"], clean["dirty_files"]) == (head, False, {})
    assert clean["utc"].endswith("Z")

    write(repo, "other/readme.txt", "not code\n")
    assert common.code_version()["dirty"] is False
    write(repo, "training/loop.py", "STEPS = 2\n")
    dirty = common.code_version()
    assert dirty["dirty"] is True
    assert dirty["dirty_files"] == {
        "training/loop.py": git(repo, "hash-object", "training/loop.py")
    }


def test_figures_table_matches_the_repository() -> None:
    assert unregistered(REPO) == []
    paths = [f.path for f in FIGURES]
    assert len(paths) == len(set(paths))
    results = {f.path for f in FIGURES if not f.sources}
    for figure in FIGURES:
        assert (REPO / figure.path).is_file(), figure.path
        assert set(figure.sources) <= results, figure.path
        for code in figure.code:
            assert (REPO / code).is_dir() if code.endswith("/") else (REPO / code).is_file(), code


def test_check_same_code_recorded_twice_is_listed_once(repo: Path) -> None:
    version = {"commit": git(repo, "rev-parse", "HEAD"), "dirty": False, "utc": "t"}
    write(repo, RESULTS, json.dumps({"environment": version, "results": {"a": {"code": version}}}))
    commit(repo, "results")
    verdict = check(repo, TABLE)[0]
    assert (verdict.status, verdict.recorded) == (CURRENT, f"{version['commit'][:7]} at t")


def test_check_leaves_out_the_excluded_files(repo: Path) -> None:
    """A figure about one kind of model is not staled by a module only another kind runs, in
    the committed code or in the uncommitted changes it recorded."""
    write(repo, "code/other_kind.py", "B = 1\n")
    ran = commit(repo, "two kinds")
    table = (Figure(RESULTS, "bench-x", ("code/",), exclude=("code/other_kind.py",)),)
    record(repo, {"commit": ran, "dirty": True, "utc": "2026-12-04T00:00:00Z",
                  "dirty_files": {"code/other_kind.py": "0" * 40}})  # fmt: skip
    commit(repo, "results")
    write(repo, "code/other_kind.py", "B = 2\n")
    commit(repo, "the other kind changes")
    assert {v.path: v.status for v in check(repo, table)} == {RESULTS: CURRENT}
    write(repo, "code/a.py", "A = 2\n")
    commit(repo, "shared code changes")
    assert {v.path: v.status for v in check(repo, table)} == {RESULTS: STALE}


def test_check_narrows_each_entry_to_the_kind_it_ran(repo: Path) -> None:
    """A results file whose entries run different kinds (bench-tables: a generator case and a
    forecaster case): a change to one kind's module stales only the entries that ran it."""
    write(repo, "code/gen_only.py", "G = 1\n")
    write(repo, "code/fc_only.py", "F = 1\n")
    ran = commit(repo, "two kinds")

    def kind_of(entry: dict[str, object]) -> tuple[str, ...]:
        task = entry.get("task")
        return {"gen": ("code/fc_only.py",), "fc": ("code/gen_only.py",)}.get(str(task), ())

    table = (Figure(RESULTS, "bench-x", ("code/",), entry_exclude=kind_of),)
    version = {"commit": ran, "dirty": False, "utc": "t"}
    results = {"g": {"task": "gen", "code": version}, "f": {"task": "fc", "code": version}}
    write(repo, RESULTS, json.dumps({"results": results}))
    commit(repo, "results")
    assert check(repo, table)[0].status == CURRENT
    write(repo, "code/fc_only.py", "F = 2\n")
    commit(repo, "the forecaster changes")
    verdict = check(repo, table)[0]
    assert verdict.status == STALE
    # one problem: the forecaster entry's (the generator entry ignores fc_only.py)
    assert verdict.reason.count("changed since") == 1 and "fc_only.py" in verdict.reason
    # rerun the forecaster case only: current again, the generator case still on the old commit
    results["f"]["code"] = {"commit": git(repo, "rev-parse", "HEAD"), "dirty": False, "utc": "u"}
    write(repo, RESULTS, json.dumps({"results": results}))
    commit(repo, "forecaster rerun")
    assert check(repo, table)[0].status == CURRENT
    write(repo, "code/a.py", "A = 2\n")
    commit(repo, "shared code changes")
    assert check(repo, table)[0].status == STALE


def test_bench_tables_cases_depend_on_their_own_kind() -> None:
    from benchmarks.provenance import FORECAST_ONLY, TABLE_ONLY

    tables = next(f for f in FIGURES if f.path == "benchmarks/results/tables.json")
    generate = tables.narrowed({"command": "rnngan train --data stores.csv --name stores"})
    forecast = tables.narrowed(
        {"command": "rnngan train --data e.csv --task forecast --target value --name e_fc"}
    )
    assert set(FORECAST_ONLY) <= set(generate.exclude) and not set(TABLE_ONLY) & set(
        generate.exclude
    )
    assert set(TABLE_ONLY) <= set(forecast.exclude) and not set(FORECAST_ONLY) & set(
        forecast.exclude
    )
    assert tables.narrowed({"cpu_count": 2}) == tables  # the environment: both kinds


def test_bench_ablation_rows_leave_out_the_module_while_their_variant_is_unchanged() -> None:
    from benchmarks.ablation import VARIANTS

    ablation = next(f for f in FIGURES if f.path == "benchmarks/results/ablation.json")
    text, overrides = VARIANTS["no_acf"]
    row = {"changes": text, "overrides": dict(overrides), "code": {"commit": "x"}}
    assert "benchmarks/ablation.py" in ablation.narrowed(row).exclude
    stepped = {**row, "overrides": {**overrides, "steps": 50}}  # --steps: its own column
    assert "benchmarks/ablation.py" in ablation.narrowed(stepped).exclude
    changed = {**row, "overrides": {"acf_weight": 0.5}}  # the variant is not today's
    assert "benchmarks/ablation.py" not in ablation.narrowed(changed).exclude
    gone = {**row, "changes": "a variant that no longer exists"}
    assert "benchmarks/ablation.py" not in ablation.narrowed(gone).exclude
    assert ablation.narrowed({"cpu_count": 2}) == ablation  # the environment: the whole module


def test_bench_generation_entries_depend_on_their_own_config_and_data() -> None:
    from benchmarks.generation import DATASETS
    from benchmarks.provenance import GENERATION_CASES
    from training.config import load_config

    assert list(GENERATION_CASES) == DATASETS
    for name, (config, data) in GENERATION_CASES.items():
        path = load_config(REPO / config).data.path
        assert (Path(path).name if path else None) == (Path(data).name if data else None), name
    generation = next(f for f in FIGURES if f.path == "benchmarks/results/generation.json")
    sines = generation.narrowed({"model": "sines/3"})
    energy = generation.narrowed({"model": "energy/2"})
    assert sines.covers("configs/sines.toml") and not sines.covers("configs/energy.toml")
    assert not sines.covers("data/energy_data.csv") and not sines.covers("data/ETTh1.csv")
    assert energy.covers("configs/energy.toml") and energy.covers("data/energy_data.csv")
    assert not energy.covers("configs/sines.toml") and not energy.covers("data/stock_data.csv")
    assert energy.covers("training/families/timegan.py")  # the code they all run
    assert energy.covers("benchmarks/common.py") and not energy.covers("benchmarks/generation.py")
    assert generation.narrowed({"cpu_count": 2}) == generation  # the environment: every case
    assert generation.covers("benchmarks/generation.py")


def test_bench_classifier_entries_depend_on_their_own_model() -> None:
    from benchmarks.classifier import DATASETS
    from benchmarks.provenance import GENERATION_CASES

    assert list(GENERATION_CASES) == DATASETS
    classifier = next(f for f in FIGURES if f.path == "benchmarks/results/classifier.json")
    energy = classifier.narrowed({"model": "energy/3"})
    assert energy.covers("models/energy/3/model.onnx") and energy.covers("configs/energy.toml")
    assert energy.covers("data/energy_data.csv") and energy.covers("training/evaluate/metrics.py")
    assert not energy.covers("models/sines/3/model.onnx")  # an excluded folder, file by file
    assert not energy.covers("configs/stocks.toml") and not energy.covers("data/ETTh1.csv")
    assert ":(exclude)models/sines/" in energy.pathspec
    assert classifier.narrowed({"cpu_count": 2}) == classifier  # the environment: every model
    assert classifier.covers("models/sines/3/model.onnx")


def measured_with(repo: Path, path: str, text: str) -> None:
    """`path` committed with `text`, then a results file that ran on that commit."""
    write(repo, path, text)
    ran = commit(repo, path)
    record(repo, {"commit": ran, "dirty": False, "utc": "2026-12-04T00:00:00Z"})
    commit(repo, "results")


def test_check_comment_docstring_and_layout_changes_leave_a_figure_current(repo: Path) -> None:
    measured_with(repo, "code/b.py", 'def f(x):\n    """Twice x."""\n    return 2 * x\n')
    write(
        repo,
        "code/b.py",
        '"""A module docstring, new."""\n\n\ndef f(x):  # a comment\n    """x, doubled."""\n\n'
        "    return 2 * (x)\n",
    )
    commit(repo, "words only")
    assert statuses(repo)[RESULTS] == CURRENT

    write(repo, "code/b.py", 'def f(x):\n    """x, doubled."""\n    return 3 * x\n')
    commit(repo, "a different number")
    verdict = {v.path: v for v in check(repo, TABLE)}[RESULTS]
    assert verdict.status == STALE
    assert verdict.reason.endswith(": code/b.py")


def test_check_a_string_that_is_not_a_docstring_is_code(repo: Path) -> None:
    measured_with(repo, "code/b.py", 'LABEL = "val_crps"\n')
    write(repo, "code/b.py", 'LABEL = "series_distance"\n')
    commit(repo, "a string the code uses")
    assert statuses(repo)[RESULTS] == STALE


def test_check_an_uncommitted_blob_this_clone_lacks_is_a_change(repo: Path) -> None:
    ran = git(repo, "rev-parse", "HEAD")
    dirty = {"code/a.py": "0" * 40}  # measured with an edit that was never committed
    utc = "2026-12-04T00:00:00Z"
    record(repo, {"commit": ran, "dirty": True, "dirty_files": dirty, "utc": utc})
    commit(repo, "results")
    assert statuses(repo)[RESULTS] == STALE


def test_the_manifest_schema_is_documentation_not_code() -> None:
    """No code reads the committed JSON schema when it runs (only a test compares it), so a
    docstring of the manifest's pydantic model, which the schema repeats, stales nothing."""
    figure = next(f for f in FIGURES if "rnngan/core/" in f.code)
    assert not figure.covers("rnngan/core/manifest.schema.json")
    assert figure.covers("rnngan/core/manifest.py")
    assert ":(exclude)rnngan/core/manifest.schema.json" in figure.pathspec
    readers = [
        p
        for p in (*REPO.glob("rnngan/**/*.py"), *REPO.glob("service/**/*.py"))
        if "manifest.schema.json" in p.read_text(encoding="utf-8")
    ]
    assert readers == [REPO / "rnngan" / "core" / "manifest.py"]  # its docstring and `make schema`
