"""The evaluate stage: `rnngan evaluate --run runs/sines` measures a trained model on held-out
data (the evaluation its family names) and writes `<run_dir>/metrics.json` (and, for
generators, `projection.png`), which export copies into the manifest.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from training.checkpoint import load_run
from training.evaluate import progress
from training.evaluate.tables import EvalLimits, eval_limits
from training.families import family_for
from training.loop import seed_everything

log = logging.getLogger("rnngan.evaluate")


def evaluate_run(
    run_dir: Path,
    *,
    max_entities: int | None = None,
    max_windows: int | None = None,
    show_progress: bool = False,
) -> dict[str, Any]:
    """Evaluate a run; own tables look at up to `max_entities` entities and score up to
    `max_windows` windows a side (EvalLimits' defaults when None). `show_progress`: a bar per
    stage with its total and time left, on stderr (training/evaluate/progress.py)."""
    ckpt = load_run(run_dir)
    config = ckpt.config
    seed_everything(config.seed, config.train.threads)
    family = family_for(config)
    graph = family.graph(ckpt).eval()
    started = time.perf_counter()
    defaults = EvalLimits()
    limits = EvalLimits(
        max_entities=max_entities or defaults.max_entities,
        max_windows=max_windows or defaults.max_windows,
    )
    with eval_limits(limits), progress.showing(show_progress):
        metrics = family.evaluate(config, graph)
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    log.info(
        "evaluated %s in %.1fs: %s",
        config.name,
        time.perf_counter() - started,
        json.dumps(metrics)[:2000],
    )
    return metrics
