"""Training loops, read top to bottom. `rnngan train --config configs/sines.toml` runs one.

Each step function returns dict[str, float] of named losses; the loop logs them every
`log_every` steps to `<run_dir>/losses.jsonl` and saves `<run_dir>/checkpoint.pt` (weights, the
config and what export needs) every `checkpoint_every` steps and at the end.
"""

from __future__ import annotations

import json
import logging
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from training import losses
from training.config import RunConfig
from training.data import ForecastData, GenerationData, load_forecast, load_generation
from training.networks import ForecastDiscriminator, ForecastGenerator, RecurrentNet, standardise
from training.timegan import TimeGANTrainer

log = logging.getLogger("rnngan.train")
CHECKPOINT = "checkpoint.pt"


def seed_everything(seed: int, threads: int) -> torch.Generator:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    torch.set_num_threads(threads)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


# --- generation: a recurrent GAN (GRU generator and per-step GRU discriminator, RCGAN-style) ---


def build_generation_nets(config: RunConfig, n_features: int) -> tuple[RecurrentNet, RecurrentNet]:
    m = config.model
    generator = RecurrentNet(
        input_size=m.latent_dim,
        hidden_size=m.hidden_size,
        num_layers=m.num_layers,
        output_size=n_features,
        cell=m.cell,
        activation="sigmoid",
    )
    discriminator = RecurrentNet(
        input_size=n_features,
        hidden_size=m.disc_hidden_size,
        num_layers=m.disc_num_layers,
        output_size=1,
        cell=m.cell,
    )
    return generator, discriminator


def generation_step(
    config: RunConfig,
    data: torch.Tensor,
    nets: tuple[RecurrentNet, RecurrentNet],
    opts: tuple[torch.optim.Optimizer, torch.optim.Optimizer],
    rng: torch.Generator,
) -> dict[str, float]:
    generator, discriminator = nets
    opt_g, opt_d = opts
    t = config.train
    b, length, _ = data.shape[0], data.shape[1], data.shape[2]

    def batch() -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(0, b, (t.batch_size,), generator=rng)
        noise = torch.randn(t.batch_size, length, config.model.latent_dim, generator=rng)
        return data[idx], noise

    for _ in range(t.d_steps):
        real, noise = batch()
        with torch.no_grad():
            fake = generator(noise)
        d_loss = losses.discriminator_loss(discriminator(real), discriminator(fake))
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()

    real, noise = batch()
    fake = generator(noise)
    adversarial = losses.generator_adversarial_loss(discriminator(fake))
    moment = losses.moment_loss(real, fake)
    g_loss = t.adv_weight * adversarial + t.moment_weight * moment
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    return {"d_loss": d_loss.item(), "g_adversarial": adversarial.item(), "g_moment": moment.item()}


# --- forecasting: a conditional recurrent GAN (ForGAN-class) with a sample-CRPS term ---


def forecast_step(
    config: RunConfig,
    windows: torch.Tensor,
    nets: tuple[ForecastGenerator, ForecastDiscriminator],
    opts: tuple[torch.optim.Optimizer, torch.optim.Optimizer],
    rng: torch.Generator,
) -> dict[str, float]:
    """One update of each network. Two futures are drawn per history (the sample CRPS needs a
    pair); the discriminator sees the last `disc_context` history steps and the future."""
    generator, discriminator = nets
    opt_g, opt_d = opts
    t, c, h = config.train, config.data.context_len, config.data.horizon
    k = config.model.disc_context

    idx = torch.randint(0, windows.shape[0], (t.batch_size,), generator=rng)
    w = windows[idx]  # (B, C + H)
    mean, std = standardise(w[:, :c])
    w = (w - mean) / std
    history, future = w[:, :c], w[:, c:]
    noise = torch.randn(2 * t.batch_size, h, config.model.latent_dim, generator=rng)
    state = generator.encode(history).repeat(2, 1, 1)  # (2B, 1, hidden)
    fakes = generator.decode(state, history[:, -1:].repeat(2, 1), noise)  # (2B, H)
    first, second = fakes[: t.batch_size], fakes[t.batch_size :]
    recent = history[:, -k:]

    real_logits = discriminator(torch.cat([recent, future], dim=1))
    fake_logits = discriminator(torch.cat([recent, first.detach()], dim=1))
    d_loss = losses.discriminator_loss(real_logits, fake_logits)
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()

    adversarial = losses.generator_adversarial_loss(
        discriminator(torch.cat([recent, first], dim=1))
    )
    crps = losses.sample_crps(future, first, second)
    g_loss = t.adv_weight * adversarial + t.crps_weight * crps
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    return {"d_loss": d_loss.item(), "g_adversarial": adversarial.item(), "g_crps": crps.item()}


# --- the loop ---


def _loop(
    config: RunConfig,
    step_fn: Callable[[], dict[str, float]],
    save: Callable[[int], None],
    progress: bool,
    select: Callable[[int], float] | None = None,
    total: int | None = None,
) -> list[dict[str, float]]:
    run_dir = config.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    history: list[dict[str, float]] = []
    started = time.perf_counter()
    t = config.train
    total = total or t.steps
    with (run_dir / "losses.jsonl").open("w", encoding="utf-8") as loss_log:
        steps = range(1, total + 1)
        # Redraw rarely when stderr is a file or a CI log rather than a terminal.
        interval = 0.1 if sys.stderr.isatty() else 30.0
        for step in tqdm(steps, disable=not progress, desc=config.name, mininterval=interval):
            record = {"step": step, **step_fn()}
            if (
                select is not None
                and t.select_every
                and (step % t.select_every == 0 or step == total)
            ):
                record["val_crps"] = select(step)
            history.append(record)
            if step % t.log_every == 0 or step == total or "val_crps" in record:
                loss_log.write(json.dumps(record) + "\n")
                loss_log.flush()
                log.info("step %d %s", step, {k: round(v, 4) for k, v in record.items()})
            if step % t.checkpoint_every == 0 or step == total:
                save(step)
    seconds = time.perf_counter() - started
    log.info("trained %s for %d steps in %.1fs", config.name, total, seconds)
    # How long it took, with the thread setting it took it with (read by the benchmarks).
    (run_dir / "training.json").write_text(
        json.dumps({"steps": total, "seconds": round(seconds, 1), "threads": t.threads}) + "\n"
    )
    return history


def train(config: RunConfig, *, progress: bool = True) -> list[dict[str, float]]:
    """Train the model a config describes; returns the per-step losses."""
    rng = seed_everything(config.seed, config.train.threads)
    t = config.train
    if config.data.dataset == "table" and config.task == "forecast":
        return _train_table_forecast(config, rng, progress)
    if config.data.dataset == "table":
        from rnngan.core.tables.infer import describe
        from training.table import TableTrainer, load_table, table_extra

        tdata = load_table(config.data)
        log.info("table %s:\n%s", tdata.source, describe(tdata.spec))
        trainer_t = TableTrainer(config, tdata, rng)
        textra = table_extra(tdata)
        return _loop(
            config,
            trainer_t.step,
            lambda step: save_checkpoint(
                config, (trainer_t.exported(), trainer_t.discriminator), step, textra
            ),
            progress,
        )
    if config.task == "generate":
        gdata = load_generation(config.data, config.seed)
        data = torch.from_numpy(gdata.windows)
        extra = generation_extra(gdata)
        if config.model.kind == "timegan":
            trainer = TimeGANTrainer(config, data, rng)
            return _loop(
                config,
                trainer.step,
                lambda step: save_checkpoint(
                    config,
                    (trainer.exported(), trainer.critic),
                    step,
                    {**extra, "phase": trainer.phase()},
                ),
                progress,
                total=t.embed_steps + t.supervised_steps + t.steps,
            )
        gen_nets = build_generation_nets(config, data.shape[-1])
        opts = (
            torch.optim.Adam(gen_nets[0].parameters(), lr=t.lr_g, betas=(0.5, 0.999)),
            torch.optim.Adam(gen_nets[1].parameters(), lr=t.lr_d, betas=(0.5, 0.999)),
        )
        extra = generation_extra(gdata)
        return _loop(
            config,
            lambda: generation_step(config, data, gen_nets, opts, rng),
            lambda step: save_checkpoint(config, gen_nets, step, extra),
            progress,
        )
    fdata = load_forecast(config.data)
    windows = torch.from_numpy(fdata.windows(0, config.data.train_end))
    fc_nets = build_forecast_nets(config)
    fc_opts = (
        torch.optim.Adam(fc_nets[0].parameters(), lr=t.lr_g, betas=(0.5, 0.999)),
        torch.optim.Adam(fc_nets[1].parameters(), lr=t.lr_d, betas=(0.5, 0.999)),
    )
    selector = ValidationSelector.on_series(config, fdata, fc_nets[0])
    extra = forecast_extra(fdata, windows.shape[0])

    def save(step: int) -> None:
        save_checkpoint(config, fc_nets, step, {**extra, **selector.selected()})

    return _loop(
        config,
        lambda: forecast_step(config, windows, fc_nets, fc_opts, rng),
        save,
        progress,
        selector,
    )


def _train_table_forecast(
    config: RunConfig, rng: torch.Generator, progress: bool
) -> list[dict[str, float]]:
    from training.table_forecast import load_table_forecast, table_forecast_extra

    data = load_table_forecast(config)
    windows = torch.from_numpy(data.train_windows(config.data.context_len + config.data.horizon))
    log.info("%d entities, %d training windows", len(data.entities), windows.shape[0])
    nets = build_forecast_nets(config)
    t = config.train
    opts = (
        torch.optim.Adam(nets[0].parameters(), lr=t.lr_g, betas=(0.5, 0.999)),
        torch.optim.Adam(nets[1].parameters(), lr=t.lr_d, betas=(0.5, 0.999)),
    )
    d = config.data
    selector = ValidationSelector(
        config, nets[0], *data.origins("validation", d.context_len, d.horizon)
    )
    extra = table_forecast_extra(data, windows.shape[0])
    return _loop(
        config,
        lambda: forecast_step(config, windows, nets, opts, rng),
        lambda step: save_checkpoint(config, nets, step, {**extra, **selector.selected()}),
        progress,
        selector,
    )


def build_forecast_nets(config: RunConfig) -> tuple[ForecastGenerator, ForecastDiscriminator]:
    m = config.model
    return (
        ForecastGenerator(
            latent_dim=m.latent_dim,
            hidden_size=m.hidden_size,
            num_layers=m.num_layers,
            cell=m.cell,
            patch_len=m.patch_len,
        ),
        ForecastDiscriminator(
            hidden_size=m.disc_hidden_size, num_layers=m.disc_num_layers, cell=m.cell
        ),
    )


class ValidationSelector:
    """Checkpoint selection by validation CRPS: scores the generator on fixed validation windows
    (fixed noise) and keeps a copy of the best weights seen so far. `scales` (N,): each window's
    MASE/CRPS scale (one value repeated for a single series)."""

    def __init__(
        self,
        config: RunConfig,
        generator: ForecastGenerator,
        histories: np.ndarray,
        truth: np.ndarray,
        scales: np.ndarray,
    ):
        self.config, self.generator = config, generator
        self.histories, self.truth, self.scales = histories, truth, scales
        self.best: tuple[float, int, dict[str, torch.Tensor]] | None = None

    @classmethod
    def on_series(
        cls, config: RunConfig, data: ForecastData, generator: ForecastGenerator
    ) -> ValidationSelector:
        """The validation rows of one series (PROTOCOL.md §3's split)."""
        from training.forecast_eval import rolling_windows, seasonal_scale

        d = config.data
        _, histories, truth = rolling_windows(data, d.train_end, d.val_end)
        scales = np.full(len(histories), seasonal_scale(data.train, d.season))
        return cls(config, generator, histories, truth, scales)

    def __call__(self, step: int) -> float:
        from training.forecast_eval import gan_paths, score_paths_scaled
        from training.networks import ForecastGraph

        d, t = self.config.data, self.config.train
        paths = gan_paths(
            ForecastGraph(self.generator),
            self.histories,
            d.horizon,
            self.config.model.latent_dim,
            t.select_samples,
            self.config.seed,
        )
        crps = score_paths_scaled(paths, self.truth, self.scales)["crps"]
        if self.best is None or crps < self.best[0]:
            state = {k: v.detach().clone() for k, v in self.generator.state_dict().items()}
            self.best = (crps, step, state)
        return crps

    def selected(self) -> dict[str, Any]:
        """Checkpoint fields: the best generator weights, when selection ran."""
        if self.best is None:
            return {}
        crps, step, state = self.best
        return {"generator": state, "selected_step": step, "selected_val_crps": crps}


def generation_extra(data: GenerationData) -> dict[str, Any]:
    return {
        "features": data.features,
        "data_min": data.scaler.data_min.tolist(),
        "data_max": data.scaler.data_max.tolist(),
        "dataset": {
            "name": data.name,
            "source": data.source,
            "sha256": data.sha256,
            "columns": data.features,
            "n_windows": int(data.windows.shape[0]),
        },
    }


def forecast_extra(data: ForecastData, n_windows: int) -> dict[str, Any]:
    return {
        "features": [data.config.target],
        "dataset": {
            "name": Path(data.source).stem,
            "source": data.source,
            "sha256": data.sha256,
            "columns": [data.config.target],
            "train_rows": [0, data.config.train_end],
            "n_windows": n_windows,
        },
    }


def save_checkpoint(
    config: RunConfig,
    nets: tuple[torch.nn.Module, torch.nn.Module],
    step: int,
    extra: dict[str, Any],
) -> Path:
    """Weights, config and what export needs; `extra` may override the generator's weights
    (checkpoint selection)."""
    path = config.run_dir / CHECKPOINT
    torch.save(
        {
            "config": config.to_dict(),
            "step": step,
            "generator": nets[0].state_dict(),
            "discriminator": nets[1].state_dict(),
            **extra,
        },
        path,
    )
    return path
