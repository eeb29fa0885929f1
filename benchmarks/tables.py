"""`make bench-tables`: the own-table path end to end, as a user runs it. Writes the example
tables (`examples/tables.py`), trains each case with the defaults of `rnngan train --data`
(training/config_tables.py `table_config`), evaluates, exports into `runs/tables/models`, and writes
`benchmarks/results/tables.json` and `docs/tables.md`. Every number comes from this run.

    python -m benchmarks.tables [--reuse] [--only stores,etth1_long_fc] [--table-only]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

from benchmarks.common import code_line, code_version, setup_logging, write_merged
from examples.tables import ETTH1, etth1_entities, mixed_table

ROOT = Path("runs/tables")
RESULTS = Path("benchmarks/results/tables.json")
DOC = Path("docs/tables.md")
log = logging.getLogger("rnngan.bench")

# name -> (data file, options of `rnngan train --data`)
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "stores": (
        "stores.csv",
        {"id_col": "store", "time_col": "date", "bounds": "humidity=0:100"},
    ),
    "etth1_long": ("etth1_long.csv", {"id_col": "sensor", "time_col": "date"}),
    "etth1_long_fc": (
        "etth1_long.csv",
        {"id_col": "sensor", "time_col": "date", "task": "forecast", "target": "value"},
    ),
}


def write_tables(where: Path) -> None:
    where.mkdir(parents=True, exist_ok=True)
    if not (where / "stores.csv").is_file():
        mixed_table(seed=0, entities=60).to_csv(where / "stores.csv", index=False)
    if not (where / "etth1_long.csv").is_file():
        etth1_entities(rows=17420, path=ETTH1).to_csv(where / "etth1_long.csv", index=False)


def run_case(name: str, reuse: bool) -> dict[str, Any]:
    from training.checkpoint import CHECKPOINT
    from training.config_tables import table_config
    from training.evaluate.run import evaluate_run
    from training.export import export
    from training.train import train

    file, options = CASES[name]
    config = table_config(ROOT / "data" / file, name=name, out_dir=str(ROOT / "runs"), **options)
    out: dict[str, Any] = {"command": _command(file, name, options), "steps": config.train.steps}
    if not (reuse and (config.run_dir / CHECKPOINT).is_file()):
        started = time.perf_counter()
        train(config)
        out["train_seconds"] = round(time.perf_counter() - started, 1)
    else:
        out["train_reused"] = True
        out["train_seconds"] = json.loads((config.run_dir / "training.json").read_text())["seconds"]
    started = time.perf_counter()
    out["metrics"] = evaluate_run(config.run_dir)
    out["evaluate_seconds"] = round(time.perf_counter() - started, 1)
    out["exported_to"] = str(export(config.run_dir, ROOT / "models"))
    out["threads"] = config.train.threads
    return out


def _command(file: str, name: str, options: dict[str, Any]) -> str:
    flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in options.items())
    return f"rnngan train --data {file} {flags} --name {name}"


def _earlier(result: dict[str, Any]) -> str:
    """Said of a checkpoint trained by an earlier run (`--reuse`): its time is that run's."""
    return " (earlier run, reused)" if result.get("train_reused") else ""


def _f(value: Any) -> str:
    return "—" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def generation_section(name: str, result: dict[str, Any]) -> list[str]:
    m = result["metrics"]
    lines = [
        f"### {name} (generate)",
        "",
        f"`{result['command']}` — {result['steps']} steps in {result['train_seconds']} s"
        f"{_earlier(result)} (torch threads {result['threads']}).",
        "",
        "| score (model channels, lower is better) | synthetic | real vs real (floor) |",
        "|---|---|---|",
        f"| discriminative | {_f(m['discriminative']['mean'])} ± "
        f"{_f(m['discriminative']['std'])} | {_f(m['discriminative_real_floor']['mean'])} |",
        f"| predictive (MAE) | {_f(m['predictive']['mean'])} | "
        f"{_f(m['predictive_real_floor']['mean'])} |",
        f"| autocorrelation error | {_f(m['autocorrelation_error'])} | "
        f"{_f(m['autocorrelation_error_real_floor'])} |",
        f"| cross-correlation error | {_f(m['cross_correlation_error'])} | "
        f"{_f(m['cross_correlation_error_real_floor'])} |",
        "",
        "| column | type | missing real / synthetic | check |",
        "|---|---|---|---|",
    ]
    for column, c in m["columns"].items():
        if c["kind"] == "categorical":
            check = f"category frequency TVD {_f(c['frequency_tvd'])}"
        elif c["kind"] == "boolean":
            check = f"share true {_f(c['true_share_real'])} / {_f(c['true_share_synthetic'])}"
        else:
            check = (
                f"mean {_f(c['mean_real'])} / {_f(c['mean_synthetic'])}, std "
                f"{_f(c['std_real'])} / {_f(c['std_synthetic'])}, KS {_f(c['ks_statistic'])}, "
                f"out of bounds {_f(c['out_of_bounds_share'])}"
            )
            if "integer_share" in c:
                check += f", whole numbers {_f(c['integer_share'])}"
        role = "static " if c["static"] else ""
        lines.append(
            f"| {column} | {role}{c['kind']} | {_f(c['missing_share_real'])} / "
            f"{_f(c['missing_share_synthetic'])} | {check} |"
        )
    g = m["lengths"]
    lines += [
        "",
        f"Series lengths: mean {_f(g['mean_length_real'])} real / "
        f"{_f(g['mean_length_synthetic'])} synthetic, KS {_f(g['length_ks_statistic'])}"
        + (
            f"; median gap {_f(g['median_gap_real'])} / {_f(g['median_gap_synthetic'])}"
            if "median_gap_real" in g
            else ""
        )
        + ".",
        *_verdict(m),
        "",
    ]
    return lines


def forecast_section(name: str, result: dict[str, Any]) -> list[str]:
    m = result["metrics"]
    lines = [
        f"### {name} (forecast)",
        "",
        f"`{result['command']}` — {result['steps']} steps in {result['train_seconds']} s"
        f"{_earlier(result)}. {m['protocol']}; {m['entities']} entities, "
        f"{m['n_windows']} test windows.",
        "",
        "| model | MASE | CRPS | 80 % coverage | sMAPE % |",
        "|---|---|---|---|---|",
    ]
    for model, s in m["test"].items():
        lines.append(
            f"| {model} | {_f(s['mase'])} | {_f(s['crps'])} | {_f(s['coverage_80'])} | "
            f"{'—' if s.get('smape') is None else format(s['smape'], '.1f')} |"
        )
    return [*lines, *_verdict(m), ""]


def _verdict(m: dict[str, Any]) -> list[str]:
    """The run's verdict line (`rnngan evaluate` prints the same), when it has one."""
    v = m.get("verdict") or m.get("quality", {}).get("verdict")
    return ["", f"Verdict: {v['line']}"] if v and v.get("line") else []


def document(results: dict[str, dict[str, Any]], env: dict[str, Any]) -> str:
    lines = [
        "# Own tables: evaluation reports",
        "",
        "Written by `make bench-tables` (`benchmarks/tables.py`) from `benchmarks/results/"
        "tables.json`. Each case runs the defaults of `rnngan train --data` on a table made by "
        "`examples/tables.py`: `stores` is generated (60 stores, static region and size, a "
        "categorical, a count, a boolean and a bounded column with gaps), `etth1_long` is "
        "ETTh1's seven columns as seven entities of different lengths with an invented static "
        "`group`. Generation scores compare synthetic with the training table's own windows "
        "(there is no held-out table), so they measure fit, not generalisation.",
        "",
        f"Machine: {env.get('cpu_count')} CPUs, OMP_WAIT_POLICY={env.get('OMP_WAIT_POLICY')}, "
        f"torch {env.get('torch')}, GPU {env.get('gpu')}.",
        "",
        code_line(env),
        "",
    ]
    for name, result in results.items():
        if "forecast" in result["command"]:
            lines += forecast_section(name, result)
        else:
            lines += generation_section(name, result)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuse", action="store_true", help="evaluate existing checkpoints")
    parser.add_argument("--only", default=",".join(CASES), help="comma-separated cases")
    parser.add_argument(
        "--table-only",
        action="store_true",
        help="rewrite docs/tables.md from the results file, measure nothing",
    )
    args = parser.parse_args()
    setup_logging()
    if args.table_only:
        data = json.loads(RESULTS.read_text())
        DOC.write_text(document(data["results"], data["environment"]) + "\n")
        return
    write_tables(ROOT / "data")
    measured = {}
    for name in args.only.split(","):
        log.info("case %s", name)
        measured[name] = {**run_case(name, args.reuse), "code": code_version()}
    ordered, env = write_merged(RESULTS, measured, list(CASES))
    DOC.write_text(document(ordered, env) + "\n")
    print(f"wrote {RESULTS} and {DOC}")


if __name__ == "__main__":
    main()
