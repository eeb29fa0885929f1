"""The repository is self-contained: the data it ships match data/README.md byte for byte, and
nothing tracked reads a folder beside the checkout."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import MODELS, REPO, REPO_MODELS

DATA = REPO / "data"
LISTED = re.compile(r"^([0-9a-f]{64})  (\S+)$", re.MULTILINE)


def _listed() -> dict[str, str]:
    return {name: digest for digest, name in LISTED.findall((DATA / "README.md").read_text())}


def test_data_readme_lists_the_benchmark_files() -> None:
    assert sorted(_listed()) == [
        "AirPassengers.csv",
        "ETTh1.csv",
        "energy_data.csv",
        "internet_traffic_a5m.csv",
        "stock_data.csv",
    ]


@pytest.mark.parametrize("name", sorted(_listed()))
def test_data_file_matches_its_sha256(name: str) -> None:
    digest = hashlib.sha256((DATA / name).read_bytes()).hexdigest()
    assert digest == _listed()[name], f"data/{name} differs from the sha256 in data/README.md"


def test_data_folder_holds_only_listed_files() -> None:
    present = {p.name for p in DATA.iterdir()} - {"README.md"}
    assert present == set(_listed()), "list every file of data/ with its sha256 in its README"


def _tracked_text() -> dict[str, str]:
    names = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    texts = {}
    for name in filter(None, names):
        path = REPO / name
        if path.suffix in {".py", ".toml", ".md", ".yml", ".yaml", ".json", ".example"} or (
            name in {"Makefile", "Dockerfile", ".ci/run"}
        ):
            if path.is_file():  # a file deleted in the working tree is not read
                texts[name] = path.read_text(encoding="utf-8")
    return texts


def test_repository_reads_no_sibling_folder() -> None:
    """Code, configs, docs and manifests name data/ and docs/, never a folder beside the
    checkout (`../shared`, the absolute path of this machine's checkout) that a fresh clone does
    not have."""
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    patterns = [r"\.\./shared", r"(?<![\w/])shared/data", r"PROTOCOL\.md"]
    if len(REPO.parent.parts) > 1:  # the folder holding this checkout, written out anywhere
        patterns.append(re.escape(str(REPO.parent)) + r"[/\\]")
    sibling = re.compile("|".join(patterns))
    this = "tests/test_repository.py"
    found = [
        f"{name}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}"
        for name, text in _tracked_text().items()
        if name != this and not name.startswith("tests/training/fixtures/legacy/")
        for m in sibling.finditer(text)
    ]
    assert found == []


def _git(*args: str) -> list[str]:
    out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


def test_readme_commands_write_only_ignored_files() -> None:
    """Following the README leaves `git status` clean: every file its commands write (`-o`,
    `--out`, runs/, a model exported under models/) is ignored."""
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    written = set(re.findall(r"(?:\s-o|--out)\s+([\w./-]+)", readme))
    assert {"sines.csv", "sevens.png", "digits.npy", "examples/data"} <= written
    candidates = sorted(written) + [
        "runs/sines/checkpoint.pt",
        "models/stores/1/manifest.json",  # `rnngan train --data ...` then export
        "models/sines/9/model.onnx",  # a retrained version beside the shipped ones
        "models/.staging/sines/2/model.onnx",
    ]
    probe = [p + "/x" if not Path(p).suffix else p for p in candidates]
    ignored = _git("check-ignore", "--no-index", *probe)
    assert sorted(set(probe) - set(ignored)) == []


def test_tracked_files_are_not_ignored() -> None:
    """A shipped model version (or any tracked file) matched by .gitignore would be left out
    of the next commit that changes it: list it as an exception there."""
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    assert _git("ls-files", "--cached", "--ignored", "--exclude-standard") == []


def test_tests_serve_a_copy_of_the_shipped_models() -> None:
    """The suite never serves `models/` itself, where a user's own exports may sit."""
    assert MODELS.resolve() != REPO_MODELS.resolve()
    if (REPO / ".git").exists():
        tracked = {
            tuple(Path(p).parts[1:3]) for p in _git("ls-files", "--", "models/*/*/manifest.json")
        }
        assert {p.parent.relative_to(MODELS).parts for p in MODELS.glob("*/*/manifest.json")} == (
            tracked
        )
