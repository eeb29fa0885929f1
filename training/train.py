"""The train stage: `rnngan train --config configs/sines.toml` trains the model a config
describes and writes `<run_dir>/{checkpoint.pt, losses.jsonl, training.json}`.

The config's family (training/families/) builds the data, networks and trainer; the loop
(training/loop.py) runs it. The same config and seed give the same losses.
"""

from __future__ import annotations

from training.config import RunConfig
from training.families import family_for
from training.loop import run_loop, seed_everything


def train(config: RunConfig, *, progress: bool = True) -> list[dict[str, float]]:
    """Train the model a config describes; returns the per-step losses."""
    rng = seed_everything(config.seed, config.train.threads)
    trainer = family_for(config).trainer(config, rng)
    return run_loop(config, trainer, progress=progress)
