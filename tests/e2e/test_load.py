"""The load benchmark as a short, bounded run (`make bench-load` runs it for 60 s): a real
server under concurrent clients, a new version swapped in half-way, SIGTERM at the end."""

from __future__ import annotations

from pathlib import Path

from benchmarks.load import run
from tests.conftest import MODELS, SHIPPED


def test_load_short_run_no_failures_swap_and_clean_shutdown(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    result = run(duration_s=8, concurrency=4, models_dir=MODELS, out=out, reload_interval_s=0.5)
    assert out.is_file()
    assert (result["failures"], result["status_5xx"]) == (0, 0), result["failure_examples"]
    assert all(result["per_route"][r]["requests"] > 0 for r in ("forecast", "samples", "datasets"))
    swap = result["swap"]
    v = SHIPPED["sines"]
    assert swap["samples_by_version"][str(v)] > 0 and swap["samples_by_version"][str(v + 1)] > 0
    assert swap["old_version_after_first_new_response"] == 0
    shutdown = result["shutdown"]
    assert shutdown["in_flight_at_sigterm"] > 0
    assert shutdown["all_in_flight_completed"] is True
    assert shutdown["exit_code"] == 0
    assert shutdown["new_connections_refused_after"] is True
    assert not (MODELS / "sines" / str(v + 1)).exists()  # the swap happened on a copy
