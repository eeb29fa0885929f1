"""`make bench-ddp`: generation models on configs/sines.toml's data trained by one process and
by two data-parallel processes (`torchrun --standalone --nproc-per-node 2 -m rnngan train`, DDP
over gloo) at the same total steps and global batch, written to `benchmarks/results/ddp.json`,
one block per family:

- `rcgan`: configs/sines.toml as an RCGAN (`moment_weight = 1`), `--steps` steps;
- `timegan`: configs/sines.toml itself (TimeGAN, its three phases), `--steps` loop steps split
  1/4 embedding, 1/4 supervised, 1/2 joint, with `ema_decay = 0.99` to suit so short a run.

Measured, beside the thread settings (OMP_WAIT_POLICY=PASSIVE, 1 torch thread per process) and
the load average:

- wall time of each run (the DDP one with and without its processes' start-up: the loop's own
  seconds are in each run's training.json) and the speed-up one / two processes;
- the losses: max |difference| per term over the first 20 steps and over all steps, and each
  run's mean over the last 100 steps;
- quality: the discriminative score (training/evaluate/generation.py, held-out Sines,
  mean ± std over `--disc-runs` classifier seeds) of each model, beside the real-vs-real floor;
- the ONNX parity of each export (into a temporary model repository, never models/).

    python -m benchmarks.ddp [--steps 600] [--disc-runs 3] [--disc-steps 1000]
    python -m benchmarks.ddp --only timegan   # rerun one family, keep the other's block
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.common import environment, setup_logging
from training.checkpoint import load_run
from training.config import RunConfig, load_config
from training.data.series import sines
from training.evaluate.generation import discriminative_score
from training.export import export
from training.families import build_graph
from training.train import train

RESULTS = Path("benchmarks/results/ddp.json")
OUT = Path("runs/bench_ddp")
log = logging.getLogger("rnngan.bench")


FAMILIES = ("rcgan", "timegan")
WHAT = {
    "rcgan": "configs/sines.toml as an RCGAN: 1 process vs torchrun --nproc-per-node 2 (DDP, "
    "gloo), same steps, same global batch",
    "timegan": "configs/sines.toml (TimeGAN), 1/4 embedding, 1/4 supervised, 1/2 joint steps, "
    "ema_decay 0.99: 1 process vs torchrun --nproc-per-node 2 (DDP, gloo), same steps, same "
    "global batch",
}


def bench_config(family: str, steps: int, out_dir: Path) -> RunConfig:
    """configs/sines.toml's data, sizes, batch (128) and seed, trained by `family`."""
    base = load_config("configs/sines.toml")
    if family == "rcgan":
        return dataclasses.replace(
            base,
            name="sines_rcgan",
            out_dir=str(out_dir),
            model=dataclasses.replace(base.model, kind="rcgan"),
            train=dataclasses.replace(
                base.train, steps=steps, moment_weight=1.0, log_every=1, checkpoint_every=steps
            ),
        )
    quarter = steps // 4
    return dataclasses.replace(
        base,
        name="sines_timegan",
        out_dir=str(out_dir),
        train=dataclasses.replace(
            base.train,
            embed_steps=quarter,
            supervised_steps=quarter,
            steps=steps - 2 * quarter,
            ema_decay=0.99,
            log_every=1,
            checkpoint_every=steps,
        ),
    )


def toml(config: RunConfig) -> str:
    """The config as TOML (scalars and lists; None left out: the default)."""
    raw = config.to_dict()
    lines = [f"{k} = {json.dumps(v)}" for k, v in raw.items() if not isinstance(v, dict | None)]
    for name, section in raw.items():
        if isinstance(section, dict):
            lines.append(f"[{name}]")
            lines += [f"{k} = {json.dumps(v)}" for k, v in section.items() if v is not None]
    return "\n".join(lines) + "\n"


def losses(run_dir: Path) -> list[dict[str, float]]:
    text = (run_dir / "losses.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def loss_gaps(one: list[dict[str, float]], two: list[dict[str, float]]) -> dict[str, Any]:
    """Per loss term (TimeGAN's differ by phase): the max |difference| over its first 20 logged
    steps and over all of them, and each run's mean over its last 100."""
    names = list(dict.fromkeys(k for r in one for k in r if k != "step"))
    pairs = list(zip(one, two, strict=True))

    def gap(n: str, rows: int | None) -> float:
        diffs = [abs(a[n] - b[n]) for a, b in pairs if n in a]
        return max(diffs[:rows])

    def last(rows: list[dict[str, float]], n: str) -> float:
        return float(np.mean([r[n] for r in rows if n in r][-100:]))

    return {
        "max_abs_diff_first_20_steps": {n: gap(n, 20) for n in names},
        "max_abs_diff_all_steps": {n: gap(n, None) for n in names},
        "mean_last_100_one_process": {n: last(one, n) for n in names},
        "mean_last_100_two_processes": {n: last(two, n) for n in names},
    }


def quality(config: RunConfig, runs: int, disc_steps: int) -> dict[str, Any]:
    """Discriminative score on held-out Sines, as `rnngan evaluate` draws them."""
    d = config.data
    real = sines(d.n_series, d.seq_len, seed=config.seed + 10_001)
    g = torch.Generator().manual_seed(config.seed + 7)
    noise = torch.randn(len(real), d.seq_len, config.model.latent_dim, generator=g)
    with torch.no_grad():
        fake = build_graph(load_run(config.run_dir)).generator(noise).numpy()
    scores = [
        discriminative_score(real, fake, steps=disc_steps, batch_size=128, seed=config.seed + r)
        for r in range(runs)
    ]
    return {"mean": float(np.mean(scores)), "std": float(np.std(scores)), "runs": scores}


def real_floor(config: RunConfig, runs: int, disc_steps: int) -> dict[str, Any]:
    d = config.data
    real = sines(d.n_series, d.seq_len, seed=config.seed + 10_001)
    other = sines(d.n_series, d.seq_len, seed=config.seed + 20_002)
    scores = [
        discriminative_score(real, other, steps=disc_steps, batch_size=128, seed=config.seed + r)
        for r in range(runs)
    ]
    return {"mean": float(np.mean(scores)), "std": float(np.std(scores)), "runs": scores}


def bench(family: str, steps: int, disc_runs: int, disc_steps: int) -> dict[str, Any]:
    """One family's block: both runs, their times, losses, parity and quality."""
    one = bench_config(family, steps, OUT / family / "one")
    two = bench_config(family, steps, OUT / family / "two")
    load_before = os.getloadavg()

    started = time.perf_counter()
    train(one, progress=False)
    one_seconds = time.perf_counter() - started

    toml_path = OUT / family / f"{two.name}.toml"
    toml_path.parent.mkdir(parents=True, exist_ok=True)
    toml_path.write_text(toml(two), encoding="utf-8")
    command = [
        *(sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"),
        *("-m", "rnngan", "train", "--config", str(toml_path)),
    ]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    two_seconds = time.perf_counter() - started
    load_after = os.getloadavg()

    loop = {
        name: json.loads((c.run_dir / "training.json").read_text())
        for name, c in (("one", one), ("two", two))
    }
    with tempfile.TemporaryDirectory() as models:
        parity = {
            name: json.loads((export(c.run_dir, Path(models)) / "manifest.json").read_text())[
                "metrics"
            ]["onnx_parity_max_scaled_diff"]
            for name, c in (("one", one), ("two", two))
        }
    log.info("%s: scoring (discriminative, %d runs of %d steps)", family, disc_runs, disc_steps)
    return {
        "what": WHAT[family],
        "command_two_processes": " ".join(command[1:]).replace(str(toml_path), "<config>"),
        "environment": environment(torch_threads=one.train.threads),
        "threads": "OMP_WAIT_POLICY=PASSIVE, torch threads 1 per process (train.threads)",
        "load_average_before_after": [round(load_before[0], 1), round(load_after[0], 1)],
        "steps": loop["one"]["steps"],
        "global_batch": one.train.batch_size,
        "per_rank_batch": two.train.batch_size // 2,
        "wall_seconds": {
            "one_process": round(one_seconds, 1),
            "two_processes_with_startup": round(two_seconds, 1),
            "one_process_loop": loop["one"]["seconds"],
            "two_processes_loop": loop["two"]["seconds"],
        },
        "speedup_loop": round(loop["one"]["seconds"] / loop["two"]["seconds"], 2),
        "speedup_with_startup": round(one_seconds / two_seconds, 2),
        "losses": loss_gaps(losses(one.run_dir), losses(two.run_dir)),
        "onnx_parity_max_scaled_diff": parity,
        "discriminative": {
            "one_process": quality(one, disc_runs, disc_steps),
            "two_processes": quality(two, disc_runs, disc_steps),
            "real_floor": real_floor(one, disc_runs, disc_steps),
            "disc_steps": disc_steps,
        },
    }


def previous() -> dict[str, Any]:
    """The blocks of the last run by family (a file from before the per-family layout held the
    rcgan block at its top level)."""
    if not RESULTS.is_file():
        return {}
    old = json.loads(RESULTS.read_text(encoding="utf-8"))
    return dict(old.get("families", {"rcgan": old} if "what" in old else {}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--disc-runs", type=int, default=3)
    parser.add_argument("--disc-steps", type=int, default=1000)
    parser.add_argument("--only", help=f"comma-separated families of {', '.join(FAMILIES)}")
    args = parser.parse_args()
    setup_logging()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    only = FAMILIES if args.only is None else tuple(x.strip() for x in args.only.split(","))
    if unknown := set(only) - set(FAMILIES):
        parser.error(f"unknown families {sorted(unknown)}; choose from {', '.join(FAMILIES)}")

    blocks = previous()
    for family in only:
        blocks[family] = bench(family, args.steps, args.disc_runs, args.disc_steps)
    results = {
        "what": "generation on configs/sines.toml's data: 1 process vs torchrun "
        "--nproc-per-node 2 (DDP, gloo), same steps, same global batch; one block per family, "
        "each from its own run (see its environment and load average)",
        "families": {f: blocks[f] for f in FAMILIES if f in blocks},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    log.info("wrote %s\n%s", RESULTS, json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
