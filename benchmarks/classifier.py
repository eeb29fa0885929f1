"""`make bench-classifier`: how much a discriminative score depends on how long its classifier
trains. The protocol's post-hoc GRU (PROTOCOL §3) trains 2,000 steps; a score near the floor
after 2,000 steps says only that this classifier did not yet find the difference. For every
shipped generator (the newest version of each of bench-generation's data sets) it is trained for
each length in `--steps`, `--seeds` runs each, on the windows `rnngan evaluate` scores (the same
real windows and noise, synthetic ones drawn through the exported ONNX graph as the service
draws them), with the real-vs-real floor at each length. Then where the difference lies: the
same classifier (the full data's width) reads one channel at a time (`--channel-steps`), and
the full classifier is trained again on the channels that none of those found alone (score
below the floor + 0.1, the verdict's margin), at the longest length. Writes
benchmarks/results/classifier.json and two blocks in docs/quality.md.

    python -m benchmarks.classifier [--only energy] [--steps 2000,8000] [--seeds 3]
        [--channel-steps 4000] [--channel-seeds 2]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import (
    code_line,
    code_version,
    hardware,
    setup_logging,
    write_block,
    write_merged,
)

RESULTS = Path("benchmarks/results/classifier.json")
DOC = Path("docs/quality.md")
BEGIN, END = "<!-- bench-classifier:begin -->", "<!-- bench-classifier:end -->"
CHANNELS_BEGIN = "<!-- bench-classifier-channels:begin -->"
CHANNELS_END = "<!-- bench-classifier-channels:end -->"
MARGIN = 0.1  # a channel "found alone": its score above its floor by the verdict's margin
MODELS = Path("models")
DATASETS = ["sines", "stocks", "energy", "etth1"]  # bench-generation's
log = logging.getLogger("rnngan.bench")


def newest(name: str) -> Path:
    """The newest exported version of model `name` (models/<name>/<version>/)."""
    folder = MODELS / name
    versions = sorted(
        (p for p in folder.iterdir() if p.name.isdigit()) if folder.is_dir() else [],
        key=lambda p: int(p.name),
    )
    if not versions:
        raise SystemExit(f"no exported version of {name} under {MODELS}")
    return versions[-1]


def windows(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, str, list[str]]:
    """The real windows `rnngan evaluate` scores a generator on, an independent real sample for
    the floor, and the exported model's synthetic windows for the same noise, all in the
    scaled space the protocol measures; with the model's name/version and its channels."""
    import onnxruntime as ort

    from training.config import load_config
    from training.data.series import load_generation
    from training.evaluate.generation import scored_windows

    model = newest(name)
    manifest = json.loads((model / "manifest.json").read_text())
    config = load_config(f"configs/{name}.toml")
    if config.version != manifest["version"]:
        raise SystemExit(
            f"configs/{name}.toml is version {config.version}, the newest export "
            f"{model} is {manifest['version']}: export the config first (make bench-generation)"
        )
    real, other, noise = scored_windows(config, load_generation(config.data, config.seed))
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(
        str(model / manifest["onnx"]["file"]), options, providers=["CPUExecutionProvider"]
    )
    batches = [
        session.run(None, {"noise": noise[i : i + 1024].numpy()})[0]
        for i in range(0, len(noise), 1024)
    ]
    low = np.asarray(manifest["scaler"]["data_min"])
    span = np.maximum(np.asarray(manifest["scaler"]["data_max"]) - low, 1e-12)
    fake = (np.concatenate(batches) - low) / span
    return real, fake, other, f"{name}/{manifest['version']}", list(manifest["features"])


def measure(
    name: str, lengths: list[int], seeds: int, channel_steps: int, channel_seeds: int
) -> dict[str, Any]:
    import torch

    from training.evaluate.generation import mean_std
    from training.evaluate.metrics import discriminative_score

    torch.set_num_threads(1)
    real, fake, other, model, names = windows(name)
    out: dict[str, Any] = {"model": model, "windows": len(real), "code": code_version()}
    for steps in lengths:
        started = time.perf_counter()
        scores = {
            side: mean_std(
                [discriminative_score(real, x, steps=steps, seed=s) for s in range(seeds)]
            )
            for side, x in (("synthetic", fake), ("real_floor", other))
        }
        log.info(
            "%s, %d steps: disc %.3f ± %.3f (floor %.3f)",
            model,
            steps,
            scores["synthetic"]["mean"],
            scores["synthetic"]["std"],
            scores["real_floor"]["mean"],
        )
        out[str(steps)] = {**scores, "seconds": round(time.perf_counter() - started, 1)}
    if channel_steps:
        out["channels"] = by_channel(
            (real, fake, other), names, channel_steps, channel_seeds, max(lengths), seeds
        )
    return out


def by_channel(
    data: tuple[np.ndarray, np.ndarray, np.ndarray],
    names: list[str],
    steps: int,
    seeds: int,
    rest_steps: int,
    rest_seeds: int,
) -> dict[str, Any]:
    """Each channel alone, read by a classifier as wide as the full data's (PROTOCOL §3: F/2),
    `steps` steps, synthetic and floor; then the full classifier on the channels none of those
    found (`rest_steps`, `rest_seeds` runs): what is left once the channels found alone are
    set aside."""
    from training.evaluate.generation import mean_std
    from training.evaluate.metrics import discriminative_score

    real, fake, other = data
    hidden = max(1, real.shape[-1] // 2)
    started = time.perf_counter()
    alone: dict[str, Any] = {}
    for c, channel in enumerate(names):
        alone[channel] = {
            side: mean_std(
                [
                    discriminative_score(
                        real[..., c : c + 1], x[..., c : c + 1], steps=steps, seed=s,
                        hidden_size=hidden,
                    )
                    for s in range(seeds)
                ]
            )
            for side, x in (("synthetic", fake), ("real_floor", other))
        }  # fmt: skip
        log.info("%s alone: disc %.3f", channel, alone[channel]["synthetic"]["mean"])
    found = [
        n for n, r in alone.items() if r["synthetic"]["mean"] > r["real_floor"]["mean"] + MARGIN
    ]
    keep = [c for c, n in enumerate(names) if n not in found]
    rest = None
    if found and keep:
        rest = mean_std(
            [
                discriminative_score(real[..., keep], fake[..., keep], steps=rest_steps, seed=s)
                for s in range(rest_seeds)
            ]
        )
        log.info("without %s: disc %.3f", ", ".join(found), rest["mean"])
    return {
        "steps": steps,
        "hidden_size": hidden,
        "alone": alone,
        "found": found,
        "rest": {"steps": rest_steps, "channels": len(keep), "synthetic": rest},
        "seconds": round(time.perf_counter() - started, 1),
    }


def document(results: dict[str, Any], env: dict[str, Any]) -> str:
    lengths = sorted({int(k) for r in results.values() for k in r if k.isdigit()})
    seeds = {len(r[str(n)]["synthetic"]["runs"]) for r in results.values() for n in lengths}
    head = " | ".join(f"disc, {n:,} steps (floor)" for n in lengths)
    lines = [
        BEGIN,
        "## How long the classifier trains (`make bench-classifier`)",
        "",
        "Produced by `benchmarks/classifier.py`; do not edit by hand. The discriminative score of",
        "each shipped generator with the protocol's post-hoc classifier trained for different",
        "numbers of steps, on the windows `rnngan evaluate` scores (synthetic ones drawn through",
        "the exported ONNX graph); mean ± std over "
        f"{', '.join(map(str, sorted(seeds)))} classifier seeds, the real-vs-real floor beside.",
        "A score that grows with the steps is a difference the protocol's 2,000 steps had not",
        "found yet: the longer classifier's score is the one to believe.",
        "",
        f"| model | {head} |",
        "|---|" + "---|" * len(lengths),
    ]
    for r in results.values():
        cells = [_scores(r[str(n)]) for n in lengths]
        lines.append(f"| {r['model']} | " + " | ".join(cells) + " |")
    return "\n".join([*lines, *_footer(env, END)])


def _scores(r: dict[str, Any]) -> str:
    """Synthetic mean ± std, the floor in brackets."""
    return (
        f"{r['synthetic']['mean']:.3f} ± {r['synthetic']['std']:.3f} "
        f"({r['real_floor']['mean']:.3f})"
    )


def _alone(name: str, r: dict[str, Any]) -> str:
    return f"{name} {_scores(r)}"


def _footer(env: dict[str, Any], end: str) -> list[str]:
    return [
        "",
        f"Hardware: {hardware(env)}; torch threads 1, ONNX Runtime 1 intra-op and 1 inter-op "
        "thread.",
        "",
        code_line(env),
        end,
    ]


def document_channels(results: dict[str, Any], env: dict[str, Any]) -> str:
    """The per-channel block: the channels found alone and the score without them."""
    rows = [r for r in results.values() if "channels" in r]
    lines = [
        CHANNELS_BEGIN,
        "## Where the classifier finds the difference (`make bench-classifier`)",
        "",
        "Produced by `benchmarks/classifier.py`; do not edit by hand. The same windows; the",
        "protocol's classifier, as wide as for the full data (F/2), reads one channel at a time.",
        f"A channel is *found alone* when its score is above its real-vs-real floor by {MARGIN}",
        "(the verdict's margin). The last column trains the full classifier again, as long as",
        "the longest run above, on the other channels: what is left once those are set aside.",
        "Scores are mean ± std over the seeds shown, floors in brackets.",
        "",
        "| model | steps × seeds (alone) | found alone | highest of the others | "
        "without the found ones |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        ch = r["channels"]
        alone = sorted(ch["alone"].items(), key=lambda kv: -kv[1]["synthetic"]["mean"])
        found = [_alone(n, v) for n, v in alone if n in ch["found"]]
        others = [_alone(n, v) for n, v in alone if n not in ch["found"]]
        rest = ch["rest"]
        if rest["synthetic"] is None:
            left = "—"
        else:
            left = (
                f"{rest['synthetic']['mean']:.3f} ± {rest['synthetic']['std']:.3f} "
                f"({rest['channels']} channels, {rest['steps']:,} steps × "
                f"{len(rest['synthetic']['runs'])})"
            )
        seeds = len(next(iter(ch["alone"].values()))["synthetic"]["runs"])
        lines.append(
            f"| {r['model']} | {ch['steps']:,} × {seeds} | {'; '.join(found) or 'none'} | "
            f"{others[0] if others else '—'} | {left} |"
        )
    return "\n".join([*lines, *_footer(env, CHANNELS_END)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(DATASETS), help="comma-separated data sets")
    parser.add_argument("--steps", default="2000,8000", help="comma-separated classifier steps")
    parser.add_argument("--seeds", type=int, default=3, help="classifier runs per length")
    parser.add_argument(
        "--channel-steps", type=int, default=4000, help="steps per channel alone (0: skip)"
    )
    parser.add_argument("--channel-seeds", type=int, default=2, help="runs per channel alone")
    args = parser.parse_args()
    setup_logging()
    names = args.only.split(",")
    for name in names:
        if name not in DATASETS:
            parser.error(f"unknown data set {name!r}; data sets: {', '.join(DATASETS)}")
    lengths = [int(s) for s in args.steps.split(",")]
    if min(lengths) < 1 or args.seeds < 1 or args.channel_steps < 0 or args.channel_seeds < 1:
        parser.error("--steps and --channel-steps (0: skip) are step counts, the seeds at least 1")
    for name in names:
        # Written after each data set; other data sets' rows (earlier or concurrent runs) kept.
        measured = measure(name, lengths, args.seeds, args.channel_steps, args.channel_seeds)
        results, env = write_merged(RESULTS, {name: measured}, DATASETS)
        write_block(DOC, BEGIN, END, document(results, env))
        write_block(DOC, CHANNELS_BEGIN, CHANNELS_END, document_channels(results, env))
        log.info("%s: wrote %s and %s", name, RESULTS, DOC)


if __name__ == "__main__":
    main()
