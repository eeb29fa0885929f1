"""bench-ablation's doc marks a row older only where the code it ran differs from the latest
row's (docs-check's files), not wherever the commit differs."""

from __future__ import annotations

import subprocess

from benchmarks.ablation import same_code
from tests.conftest import REPO


def _head() -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_rows_compare_by_code_not_by_commit() -> None:
    head = {"commit": _head(), "dirty_files": {}}
    assert same_code(head, dict(head))
    # A README edit is not the ablation's code; a change to the trainer is.
    readme = {**head, "dirty_files": {"README.md": "0" * 40}}
    trainer = {**head, "dirty_files": {"training/families/table_gan.py": "0" * 40}}
    assert same_code(head, readme)
    assert not same_code(head, trainer)
    # The ablation module itself (variants are recorded per row; the rest writes the doc).
    assert same_code(head, {**head, "dirty_files": {"benchmarks/ablation.py": "0" * 40}})
    assert not same_code({"commit": None}, head)  # not recorded: never the same
