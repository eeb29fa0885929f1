"""`make bench-ablation`: what each part of the own-table generation recipe buys, on the example
`stores` table (`examples/tables.py`), with everything else at the `rnngan train --data`
defaults (training/config_tables.py `table_config`). Each variant changes one setting of the default
recipe, trains with the same seed, and is evaluated as `rnngan evaluate` does (discriminative
score over 5 classifier runs, with the real-vs-real floor). Writes
`benchmarks/results/ablation.json` and `docs/ablation.md`.

    python -m benchmarks.ablation [--only default,no_diff] [--steps N]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.common import code_line, code_version, setup_logging, write_merged
from benchmarks.tables import CASES, write_tables

ROOT = Path("runs/ablation")
RESULTS = Path("benchmarks/results/ablation.json")
DOC = Path("docs/ablation.md")
log = logging.getLogger("rnngan.bench")

# name -> (what it changes, train overrides of the default recipe)
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "default": ("the defaults of `rnngan train --data`", {}),
    "no_diff": ("without the first-difference term (train.diff_weight 0)", {"diff_weight": 0.0}),
    "no_xcorr": (
        "without the cross-correlation term (train.xcorr_weight 0)",
        {"xcorr_weight": 0.0},
    ),
    "independent": (
        "the generator head of before the coupled one: every channel from one state, each "
        "discrete channel drawn on its own at sampling time (model.table_head 'independent')",
        {"model": {"table_head": "independent"}},
    ),
    "no_acf": (
        "without the autocorrelation term (train.acf_weight 0)",
        {"acf_weight": 0.0},
    ),
    "no_flag_terms": (
        "first-difference and autocorrelation terms on numbers only, not on the flags and "
        "missing-value masks the coupled head draws (TableTrainer.flag_terms off)",
        {"recipe": {"flag_terms": False}},
    ),
    "hide_missing": (
        "the discriminator sees values only where they are observed, not the real channel's "
        "interpolation or the synthetic one's draw where missing (TableTrainer.hide_missing on)",
        {"recipe": {"hide_missing": True}},
    ),
    "no_moment": ("without the moment term (train.moment_weight 0)", {"moment_weight": 0.0}),
    "no_selection": (
        "the last weights instead of the held-out selection (train.select_every 0)",
        {"select_every": 0},
    ),
}


@contextmanager
def switched(cls: type, values: dict[str, Any]) -> Iterator[None]:
    """`cls`'s class attributes set to `values` inside the block, restored after it."""
    saved = {name: getattr(cls, name) for name in values}
    for name, value in values.items():
        setattr(cls, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(cls, name, value)


def run_variant(name: str, steps: int | None) -> dict[str, Any]:
    from training.config_tables import table_config
    from training.evaluate.run import evaluate_run
    from training.families.table_gan import TableTrainer
    from training.train import train

    file, options = CASES["stores"]
    config = table_config(
        ROOT / "data" / file, name=f"stores_{name}", out_dir=str(ROOT / "runs"), **options
    )
    overrides = dict(VARIANTS[name][1])
    model = overrides.pop("model", {})  # model overrides; the rest are train.* ones
    recipe = overrides.pop("recipe", {})  # switches of the trainer's always-on parts
    if steps is not None:
        overrides["steps"] = steps
    config = dataclasses.replace(
        config,
        train=dataclasses.replace(config.train, **overrides),
        model=dataclasses.replace(config.model, **model),
    )
    if model:
        overrides["model"] = model
    if recipe:
        overrides["recipe"] = recipe
    started = time.perf_counter()
    with switched(TableTrainer, recipe):
        train(config, progress=False)
    trained = round(time.perf_counter() - started, 1)
    metrics = evaluate_run(config.run_dir)
    quality = metrics.get("quality", {})
    return {
        "changes": VARIANTS[name][0],
        "overrides": overrides,
        "seed": config.seed,
        "steps": config.train.steps,
        "threads": config.train.threads,
        "train_seconds": trained,
        "discriminative": metrics["discriminative"],
        "discriminative_real_floor": metrics["discriminative_real_floor"]["mean"],
        "discriminative_zscored": quality.get("discriminative_zscored", {}).get("mean"),
        "autocorrelation_error": metrics["autocorrelation_error"],
        "autocorrelation_error_real_floor": metrics["autocorrelation_error_real_floor"],
        "visitors_std": [
            metrics["columns"]["visitors"]["std_real"],
            metrics["columns"]["visitors"]["std_synthetic"],
        ],
        "humidity_missing_share": [
            metrics["columns"]["humidity"]["missing_share_real"],
            metrics["columns"]["humidity"]["missing_share_synthetic"],
        ],
        "verdict": (quality.get("verdict") or {}).get("line"),
        "code": code_version(),
    }


def code_files(version: dict[str, Any]) -> dict[str, str] | None:
    """The ablation figure's code (`make docs-check`'s files) as a recorded code version
    (`code_version`) ran it, this module aside: each row records its own variant's overrides,
    and the rest of the module writes the doc. None where no commit is recorded or known."""
    from benchmarks.provenance import FIGURES, Git

    figure = next(f for f in FIGURES if f.path == RESULTS.as_posix())
    git = Git(Path(__file__).resolve().parents[1])
    if not version.get("commit") or not git.has_commit(version["commit"]):
        return None
    files = git.ran(version, figure)
    files.pop(Path(__file__).relative_to(git.repo).as_posix(), None)
    return files


def same_code(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two recorded code versions ran the same code of the ablation (`code_files`)."""
    mine = code_files(a)
    return mine is not None and mine == code_files(b)


def document(results: dict[str, dict[str, Any]], env: dict[str, Any]) -> str:
    lines = [
        "# Ablation: the own-table generation recipe on `stores`",
        "",
        "Produced by `make bench-ablation` (`benchmarks/ablation.py`); do not edit by hand. Each",
        "row changes one setting of the `rnngan train --data` defaults on the example `stores`",
        "table (60 entities, `python -m examples.tables`), same seed; lower is better. A row",
        "marked older was measured against the defaults of its commit (rerun it with",
        "`python -m benchmarks.ablation --only <variant>`).",
        "",
        "| variant | disc (5 runs) | disc runs | z-scored disc | ACF error | visitors std "
        "(real / synthetic) | humidity missing (real / synthetic) | steps, train s | code |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    # A row run on other code compares against the default of then, not of now: say which.
    latest = max((r.get("code") or {} for r in results.values()), key=lambda c: c.get("utc") or "")
    latest_files = code_files(latest)
    for name, r in results.items():
        commit = (r.get("code") or {}).get("commit") or "not recorded"
        files = code_files(r.get("code") or {})
        same = files is not None and files == latest_files
        code = commit[:8] + ("" if same else " (older: its default differed)")
        d = r["discriminative"]
        runs = ", ".join(f"{x:.3f}" for x in d["runs"])
        z = r["discriminative_zscored"]
        share = r.get("humidity_missing_share")
        missing = f"{share[0]:.3f} / {share[1]:.3f}" if share else "not recorded"
        lines.append(
            f"| {name}: {r['changes']} | {d['mean']:.3f} ± {d['std']:.3f} | {runs} | "
            f"{'—' if z is None else f'{z:.3f}'} | {r['autocorrelation_error']:.3f} | "
            f"{r['visitors_std'][0]:.1f} / {r['visitors_std'][1]:.1f} | {missing} | "
            f"{r['steps']}, {r['train_seconds']} | {code} |"
        )
    floors = {round(r["discriminative_real_floor"], 3) for r in results.values()}
    acf = {round(r["autocorrelation_error_real_floor"], 4) for r in results.values()}
    lines += [
        "",
        f"Real-vs-real floors: disc {', '.join(map(str, sorted(floors)))}; ACF error "
        f"{', '.join(map(str, sorted(acf)))}. Torch threads 1 per run, OMP_WAIT_POLICY="
        f"{env.get('OMP_WAIT_POLICY')}; train seconds depend on what else ran on the machine.",
        "",
        code_line(env),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(VARIANTS), help="comma-separated variants")
    parser.add_argument("--steps", type=int, default=None, help="override train.steps")
    parser.add_argument("--doc", action="store_true", help="only rewrite the doc from the results")
    args = parser.parse_args()
    setup_logging()
    if args.doc:
        saved = json.loads(RESULTS.read_text())
        DOC.write_text(document(saved["results"], saved["environment"]) + "\n")
        return
    write_tables(ROOT / "data")
    names = args.only.split(",")
    for name in names:
        if name not in VARIANTS:
            parser.error(f"unknown variant {name!r}; variants: {', '.join(VARIANTS)}")
    for name in names:
        log.info("variant %s", name)
        measured = {name: run_variant(name, args.steps)}
        # Written after each variant (a run of all of them takes hours, and a stopped one keeps
        # what it finished); parallel processes (`--only a` beside `--only b`) keep each other's.
        ordered, env = write_merged(RESULTS, measured, list(VARIANTS))
        DOC.write_text(document(ordered, env) + "\n")
        print(f"{name}: wrote {RESULTS} and {DOC}")


if __name__ == "__main__":
    main()
