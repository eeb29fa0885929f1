"""`make bench-images`: the shipped digit models (models/digits, models/digits_text) scored through
ONNX Runtime with the service's noise, against the real data's own scores; writes
`benchmarks/results/images.json`, the table in `docs/images.md` and a grid of prompts -> images in
`docs/images_grid.png`. Every number comes from this run (training/evaluate/images.py).

    python -m benchmarks.images [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from benchmarks.common import code_line, environment, setup_logging
from rnngan.core import images as img
from rnngan.core.manifest import Manifest
from rnngan.core.noise import series_noise
from training.data.digits import load_digit_split
from training.evaluate.images import (
    TARGETS,
    DigitJudge,
    check_targets,
    constant_sampler,
    evaluate_sampler,
    prompt_sampler,
    real_reference,
)

RESULTS = Path("benchmarks/results/images.json")
TABLE = Path("docs/images.md")
GRID = Path("docs/images_grid.png")
log = logging.getLogger("rnngan.bench")
# One row of the picture per prompt (8 images each, seeds 0..7): seen and held-out phrasings.
GRID_PROMPTS = [
    ("a handwritten zero", "seen"),
    ("the number one", "seen"),
    ("a bold number 2", "held-out"),
    ("three written by hand", "seen"),
    ("a thin four", "held-out"),
    ("an image of the number 5", "held-out"),
    ("a small drawing of the digit six", "held-out"),
    ("a handwritten seven", "seen"),
    ("eight, the digit", "held-out"),
    ("digit 9", "held-out"),
]


# Runs tried before shipping (rnngan evaluate on each run, same seeds and noise as above; one
# torch thread, 2 shared cores), kept here so the table says how the shipped configs were chosen.
TRIED = [
    "## How the shipped configs were chosen",
    "",
    "Each run below is `rnngan train` + `rnngan evaluate` (5 draws, 5 disc runs); the selection "
    "step is the one the selection score (training data only) kept.",
    "",
    "| run | selected step | accuracy | Fréchet | disc | within-class div. | NN |",
    "|---|---|---|---|---|---|---|",
    "| label, hinge, 6000 steps | 5500 | 0.980 | 0.319 | 0.186 ± 0.019 | 2.198 | 1.084 |",
    "| label, 10000 steps (score rose after 7000) | 5500 (same weights) | 0.980 | 0.319 "
    "| 0.186 | 2.198 | 1.084 |",
    "| label, R1 γ = 1, 6000 steps | 6000 | 0.989 | 0.305 | 0.150 ± 0.010 | 2.106 | 1.066 |",
    "| label v1, R1 γ = 3, 8000 steps (shipped as digits/1) | 8000 | 0.988 | 0.283 "
    "| 0.099 ± 0.012 | 2.122 | 1.050 |",
    "| **label v2, as v1 + mode seeking 0.01, 5-fold copy floor, 10000 steps (shipped)** "
    "| 9500 | 0.981 | 0.247 | 0.101 ± 0.015 | 2.247 | 1.080 |",
    "| text v1, 6000 steps | 3500 | 0.991 / 0.991 | 0.493 / 0.545 | 0.253 / 0.249 "
    "| 2.124 / 2.165 | 1.069 / 1.090 |",
    "| text v1, R1 γ = 1, 6000 steps | 2500 | 0.999 / 0.998 | 0.581 / 0.649 | 0.396 / 0.386 "
    "| 1.818 / 1.838 | 1.079 / 1.087 |",
    "| text, classes, R1 γ = 3, mismatch 0, 8000 steps | 8000 | 0.987 / 0.987 | 0.312 / 0.312 "
    "| 0.095 ± 0.014 / 0.098 ± 0.016 | 2.108 / 2.108 | 1.052 / 1.052 |",
    "| text, classes, R1 γ = 3, mismatch 0.05, 8000 steps | 5500 | 0.996 / 0.996 "
    "| 0.378 / 0.377 | 0.242 / 0.240 | 1.977 / 1.977 | 1.048 / 1.048 |",
    "| text, classes, R1 γ = 2, mismatch 0, 5-fold copy floor, 8000 steps | 6000 "
    "| 0.985 / 0.984 | 0.363 / 0.362 | 0.166 / 0.168 | 2.078 / 2.079 | 1.074 / 1.074 |",
    "| text, classes, R1 γ = 3, mismatch 0, 5-fold copy floor, 8000 steps | 6500 "
    "| 0.985 / 0.985 | 0.336 / 0.336 | 0.149 ± 0.019 / 0.150 ± 0.019 | 2.092 / 2.092 "
    "| 1.076 / 1.076 |",
    "| text, as above + mode seeking 0.01, 8000 steps | 8000 | 0.984 / 0.984 | 0.302 / 0.301 "
    "| 0.158 ± 0.014 / 0.148 ± 0.018 | 2.215 / 2.215 | 1.105 / 1.106 |",
    "| **text v2, as above, 10000 steps (shipped)** | 9500 | 0.981 / 0.981 | 0.292 / 0.291 "
    "| 0.105 ± 0.019 / 0.101 ± 0.020 | 2.229 / 2.229 | 1.084 / 1.084 |",
    "",
    "Text rows: seen / held-out phrasings. R1 lowered the label model's disc from 0.186 to 0.099 "
    "and its Fréchet below the floor, at the price of images slightly nearer their nearest "
    "training image than real test images are (mean 1.050 vs 1.071; 2 of 360 images within "
    "0.5 of a training image, none of the real test images), so version 1's copying check "
    "fails; version 2 adds text v2's remedies below (mode seeking 0.01, the 5-fold copying "
    "floor, 10000 steps) and passes it (1.080) with disc 0.101. Text "
    "v1 fed the encoder's 32 text features to both networks; its disc (0.25) stayed over "
    "target. Version 2 feeds the encoder's posterior over the digits (`text_condition = "
    "'classes'`) with the label model's recipe and no mismatched-caption term (even 0.05 "
    "raised disc to 0.24 with R1); that copied like the label model (NN 1.052), so the "
    "selection's copying floor became each training image's distance to the other 4 of 5 "
    "folds (`select_nn_folds = 5`: 1.072, leave-one-out 1.048) and a small mode-seeking term "
    "(0.01; 0.1 broke the digits: accuracy 0.17 at step 1500) keeps the images apart. Seen and "
    "held-out rows nearly agree: the encoder names the digit of every caption of both sets.",
]


def _session(models: Path, name: str) -> tuple[ort.InferenceSession, Manifest]:
    version = max(int(p.name) for p in (models / name).iterdir() if p.name.isdigit())
    folder = models / name / str(version)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(
        str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"]
    )
    return session, Manifest.read(folder / "manifest.json")


def label_sampler(models: Path) -> Callable[[np.ndarray, int], np.ndarray]:
    session, manifest = _session(models, "digits")

    def sample(labels: np.ndarray, seed: int) -> np.ndarray:
        noise = series_noise(seed, 0, len(labels), img.IMAGE_SIZE, manifest.latent_dim)
        onehot = np.eye(img.NUM_CLASSES, dtype=np.float32)[np.asarray(labels)]
        return np.asarray(session.run(None, {"noise": noise, "label": onehot})[0])

    return sample


def text_sampler(models: Path) -> Callable[[list[str], int], np.ndarray]:
    session, manifest = _session(models, "digits_text")

    def sample(prompts: list[str], seed: int) -> np.ndarray:
        noise = series_noise(seed, 0, len(prompts), img.IMAGE_SIZE, manifest.latent_dim)
        tokens = img.encode_prompts(prompts)[0]
        return np.asarray(session.run(None, {"noise": noise, "tokens": tokens})[0])

    return sample


def grid(sample: Callable[[list[str], int], np.ndarray]) -> bytes:
    rows = []
    for prompt, _ in GRID_PROMPTS:
        # Image k of the row is image 0 of seed k: what /images answers for n=1, seed=k.
        rows.append(np.concatenate([sample([prompt], seed) for seed in range(8)]))
    images = img.from_pixel_units(img.to_pixel_units(np.concatenate(rows), round_values=True))
    return img.encode_png_grid(images, cols=8, scale=8)


def _fmt(scores: dict[str, float], key: str, digits: int = 3) -> str:
    std = scores.get(f"{key}_std")
    value = f"{scores[key]:.{digits}f}"
    return value + (f" ± {std:.{digits}f}" if std is not None else "")


def write_table(result: dict[str, Any]) -> None:
    ref = result["reference"]
    lines = [
        "# Digit images: label and prompt models",
        "",
        "Written by `make bench-images` (`python -m benchmarks.images`) from "
        f"{RESULTS}; {result['runs']} noise draws and {result['runs']} discriminative-score "
        f"runs, {result['seconds']:.0f} s on {result['environment']['cpu_count']} shared cores.",
        "",
        "Data: scikit-learn's digits (8×8, pixels 0..16), split 80/20 stratified (seed 0); the "
        "GANs train on the training split. Generated images are rounded to the integer pixel "
        "levels before scoring, and use the service's noise (`rnngan/core/noise.py`), through "
        "the shipped ONNX graphs. The judge is an MLP trained on the training split; the Fréchet "
        "distance is on its hidden features against the training split (floor: the real test "
        "split); disc is |accuracy − 0.5| of an MLP telling training images from generated ones "
        "(mean ± std over runs); NN is the mean distance to the nearest training image (a "
        "copying generator scores below the real test images).",
        "",
        f"Real test accuracy of the judge (ceiling): **{ref['judge_test_accuracy']:.3f}**; "
        f"Fréchet floor (real test vs train): **{ref['frechet_floor']:.3f}**; real NN distance: "
        f"**{ref['nn_train']:.3f}**; real within-class diversity: "
        f"**{ref['diversity_within']:.3f}**.",
        "",
        "| model | accuracy | Fréchet (≤ 2× floor) | disc (≤ 0.15) | within-class diversity "
        "| NN distance | targets |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        s, checks = row["scores"], row["checks"]
        failed = [k for k, ok in checks.items() if k != "all" and not ok]
        lines.append(
            f"| {row['name']} | {_fmt(s, 'accuracy')} | {_fmt(s, 'frechet')} | "
            f"{_fmt(s, 'disc_score')} | {_fmt(s, 'diversity_within')} | {_fmt(s, 'nn_train')} | "
            f"{'all met' if checks['all'] else 'missed: ' + ', '.join(failed)} |"
        )
    lines += [
        "",
        f"Targets (issue #18): prompt accuracy ≥ {TARGETS['accuracy_seen']:.0%} on seen and ≥ "
        f"{TARGETS['accuracy_heldout']:.0%} on held-out phrasings (label model: ≥ 90 %), Fréchet "
        f"≤ {TARGETS['frechet_ratio']:g}× floor, disc ≤ {TARGETS['disc_score']}, NN distance no "
        "smaller than the real test images', within-class diversity ≥ 0.8× real.",
        "",
        "The constant row (each class's mean training image) is a sanity check: a collapsed "
        "generator must miss the diversity and disc targets.",
        "",
        "![prompts -> images](images_grid.png)",
        "",
        "Rows of the picture, top to bottom (8 seeds each, `models/digits_text`; seen = a "
        "training phrasing, held-out = never trained on):",
        "",
    ]
    lines += [f"{i + 1}. `{p}` ({kind})" for i, (p, kind) in enumerate(GRID_PROMPTS)]
    lines += ["", *TRIED]
    lines += [
        "",
        "Reproduce: `make bench-images` (OMP_WAIT_POLICY=PASSIVE, one ONNX Runtime thread).",
        "",
        code_line(result["environment"]),
        "",
    ]
    TABLE.write_text("\n".join(lines), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    args = parser.parse_args()
    setup_logging()
    started = time.perf_counter()
    split = load_digit_split(0)
    judge = DigitJudge(split)
    ref = real_reference(split, judge, runs=args.runs)
    text = text_sampler(args.models_dir)
    samplers: list[tuple[str, Callable[[np.ndarray, int], np.ndarray], float | None]] = [
        ("digits (label)", label_sampler(args.models_dir), 0.90),
        ("digits_text, seen phrasings", prompt_sampler(text, img.TRAIN_TEMPLATES), 0.90),
        ("digits_text, held-out phrasings", prompt_sampler(text, img.HELDOUT_TEMPLATES), 0.85),
        ("constant per-class mean (sanity)", constant_sampler(split), 0.90),
    ]
    rows = []
    for name, sample, target in samplers:
        log.info("scoring %s", name)
        scores = evaluate_sampler(sample, split, judge, draws=args.runs, disc_runs=args.runs)
        rows.append({"name": name, "scores": scores, "checks": check_targets(scores, ref, target)})
    GRID.write_bytes(grid(text))
    result = {
        "runs": args.runs,
        "reference": ref,
        "rows": rows,
        "seconds": time.perf_counter() - started,
        "environment": environment(),
    }
    RESULTS.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    write_table(result)
    log.info("wrote %s, %s, %s", RESULTS, TABLE, GRID)


if __name__ == "__main__":
    main()
