"""A conditional recurrent GAN for the user's own long table (`data.dataset = "table"`,
`task = "generate"`); its data are cut in training/data/tables.py.

- Generator: a GRU reads [noise_t, condition] at each step; its head emits logits, turned into
  sigmoids (numbers, flags, masks, gaps) and a softmax per categorical column. With the
  coupled head (`model.table_head = "coupled"`, the default of `rnngan train --data`) the
  generator draws the discrete channels itself from extra noise values and a second GRU emits
  each step's numbers from those draws; the exported graph's discrete channels are then exact
  0/1 and the service's own draws (rnngan/core/tables/sample.py) change nothing. With the
  independent head (models before) the graph emits probabilities and the service draws.
- Training sees hard discrete samples: straight-through Gumbel-softmax for categories and a
  straight-through Bernoulli for flags and masks, so the discriminator cannot tell real from
  synthetic by soft probabilities. With `train.xcorr_weight` the channels' correlation matrix
  (hard samples included) is matched too (window_terms.py's cross-correlation term).
- Discriminator: a per-step GRU (RCGAN-style) reading [channels_t, condition]; losses are
  averaged over real steps only (padded steps of short entities are masked out; the GRUs are
  causal, so padding never changes what the real steps look like to them). A moment term
  matches each channel's mean and std.
- Series lengths come from the training entities' lengths (saved in the manifest); the
  generator is recurrent, so any length can be generated. A synthetic entity runs for as many
  steps as a real one (thousands), far past the window trained on, and a generator trained
  only on windows from the first step drifts there (level and autocorrelation). With
  `train.burn_in` > 0 each synthetic training window is the end of a longer run: as many steps
  before it as its paired real window's start in its entity, at most `burn_in` (`_crop`);
  validation does the same.
- Data-parallel (training/distributed.py): the uniforms behind the hard samples are drawn for
  the global batch (`draw`) like the noise, so each rank's block is the one process's; masked
  losses divide by the global batch's count of real steps; the moment and first-difference
  terms see the gathered synthetic batch. Rank 0 alone validates (the held-out split is the
  same on every rank) and its stop decision is shared (training/loop.py).
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rnngan.core.manifest import TABLE_GRAPH_IO, DatasetInfo, Scaler
from rnngan.core.tables.spec import NUMERIC, TableSpec, channel_layout, describe
from training import window_terms
from training.checkpoint import Checkpoint, KeptBest
from training.config import RunConfig
from training.data.tables import TableData, load_table
from training.distributed import current
from training.evaluate.tables import evaluate_table
from training.families.base import Family
from training.loop import Trainer
from training.networks import RecurrentNet, ema_update
from training.networks_tables import Sampler, TableGenerator, TableGraph

__all__ = ["Sampler", "TableGAN", "TableGenerator", "TableGraph", "build"]
from training.selection import batch_indices, held_out, window_distance

log = logging.getLogger("rnngan.train")


def build(config: RunConfig, spec: TableSpec) -> tuple[TableGenerator, RecurrentNet]:
    m = config.model
    generator = TableGenerator(
        spec,
        latent_dim=m.latent_dim,
        hidden_size=m.hidden_size,
        num_layers=m.num_layers,
        cell=m.cell,
        head=m.table_head,
    )
    discriminator = RecurrentNet(
        input_size=spec.channels + spec.condition_dim,
        hidden_size=m.disc_hidden_size,
        num_layers=m.disc_num_layers,
        output_size=1,
        cell=m.cell,
    )
    return generator, discriminator


def noise_dim(ckpt: Checkpoint) -> int:
    """Noise values per step the checkpoint's generator reads (more than `latent_dim` for a
    coupled head)."""
    assert ckpt.table is not None, "an own-table checkpoint carries its table spec"
    return build(ckpt.config, ckpt.table)[0].noise_dim


def _masked_bce(
    logits: torch.Tensor, target: float, valid: torch.Tensor, count: torch.Tensor
) -> torch.Tensor:
    """Mean over real steps; `count`: the global batch's real steps per rank (its own when
    alone), so that the ranks' mean is the global batch's."""
    loss = F.binary_cross_entropy_with_logits(
        logits.squeeze(-1), torch.full_like(valid, target), reduction="none"
    )
    return (loss * valid).sum() / count


def masked_moment_loss(real: torch.Tensor, fake: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Each channel's mean and std over real steps, real vs synthetic (TimeGAN's moment term,
    restricted to unpadded steps)."""
    w = valid.unsqueeze(-1)
    n = w.sum().clamp_min(1.0)

    def stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = (x * w).sum(dim=(0, 1)) / n
        var = (((x - mean) ** 2) * w).sum(dim=(0, 1)) / n
        return mean, torch.sqrt(var + 1e-6)

    real_mean, real_std = stats(real)
    fake_mean, fake_std = stats(fake)
    return (real_mean - fake_mean).abs().mean() + (real_std - fake_std).abs().mean()


class TableTrainer(Trainer):
    # Switches of the recipe for bench-ablation, which flips each to measure it.
    flag_terms = True  # path terms on the coupled head's flags and masks too
    # Off: hiding from the discriminator the values where they are missing (real: the codec's
    # interpolation; synthetic: a draw) left the `stores` humidity missing 6.3 % of the time
    # against 8.8 % real, and bought nothing beyond one run's noise (docs/ablation.md).
    hide_missing = False

    def __init__(self, config: RunConfig, data: TableData, rng: torch.Generator) -> None:
        self.config, self.rng, self.data = config, rng, data
        self.windows = torch.from_numpy(data.windows)
        self.valid = torch.from_numpy(data.valid)
        self.conditions = torch.from_numpy(data.conditions)
        # Steps the generator runs before each window: its start in its entity, capped.
        self.burn = torch.from_numpy(data.starts).clamp(max=config.train.burn_in)
        # The autocorrelation term on every table, entities of one whole window included: on
        # the heavy-tailed panel (benchmarks/heavy_panel.py, 96-hour entities) the daily
        # autocorrelation was lost without it (lag-24 ACF 0.22 vs 0.50 real).
        self.acf_lags = (
            min(config.train.acf_lags, self.windows.shape[1] - 1) if config.train.acf_weight else 0
        )
        self.generator, self.discriminator = build(config, data.spec)
        layout = channel_layout(data.spec)
        # The channels of the path terms (first difference, autocorrelation, spread) and of
        # validation's roughness: numbers and the time gap; with the coupled head, which draws
        # the flags and missing-value masks itself, those too (`flag_terms`), so that a
        # schedule (a store open from 6 to 24) flips as often and as periodically as the real
        # one.
        self.numeric_channels = [
            layout.values[c.name].start for c in data.spec.dynamic if c.kind in NUMERIC
        ] + ([layout.gap] if layout.gap is not None else [])
        if self.flag_terms and config.model.table_head == "coupled":
            self.numeric_channels += [
                layout.values[c.name].start for c in data.spec.dynamic if c.kind == "boolean"
            ] + list(layout.masks.values())
        # Each masked column's value channels and its mask channel, for `hide_missing`: the
        # discriminator then sees a value only where it is observed.
        self.hidden_by = (
            [(layout.values[name], k) for name, k in layout.masks.items()]
            if self.hide_missing
            else []
        )
        self.shard = current()
        self.sampler = self.shard.wrap(Sampler(self.generator))
        self.judge = self.shard.wrap(self.discriminator)
        t = config.train
        # An exponential moving average of the generator's weights is what gets exported
        # (`train.ema_decay` > 0), as for the TimeGAN-class generators.
        self.ema = copy.deepcopy(self.generator).requires_grad_(False) if t.ema_decay > 0 else None
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=t.lr_g, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(
            self.discriminator.parameters(), lr=t.lr_d, betas=(0.5, 0.999)
        )
        self.total_steps = t.steps
        # With selection on, a fixed tenth of the windows (at most 256) is held out for it and
        # never trained on; without it, every window trains (and the draws are as before).
        self.train_idx: torch.Tensor | None = None
        self.val_idx: torch.Tensor | None = None
        self.kept = KeptBest()
        if t.select_every:
            self.val_idx, self.train_idx = held_out(self.windows.shape[0], config.seed, cap=256)

    def _batch(self) -> tuple[torch.Tensor, ...]:
        """The global batch, the same on every rank: windows (B, T, D), valid (B, T),
        conditions (B, C), steps to run before each window (B,), noise (B, T + most of those,
        L), then `TableGenerator.draw`'s uniforms."""
        t = self.config.train
        idx = batch_indices(self.windows.shape[0], self.train_idx, t.batch_size, self.rng)
        burn = self.burn[idx]
        length = self.windows.shape[1] + int(burn.max())
        noise = torch.randn(t.batch_size, length, self.generator.noise_dim, generator=self.rng)
        uniforms = self.generator.draw(t.batch_size, length, self.rng)
        return self.windows[idx], self.valid[idx], self.conditions[idx], burn, noise, *uniforms

    def _crop(self, fake: torch.Tensor, burn: torch.Tensor) -> torch.Tensor:
        """Each row's window after its `burn` steps: (B, T + max burn, D) -> (B, T, D)."""
        length = self.windows.shape[1]
        if fake.shape[1] == length:
            return fake
        at = burn[:, None] + torch.arange(length, device=fake.device)[None]  # (B, T)
        return fake.gather(1, at[..., None].expand(-1, -1, fake.shape[-1]))

    def _visible(self, x: torch.Tensor) -> torch.Tensor:
        """Channels (B, T, D) with each masked column's values zeroed where it is missing."""
        if not self.hidden_by:
            return x
        gate = torch.ones_like(x)
        for values, mask in self.hidden_by:
            gate[..., values] = x[..., mask : mask + 1]
        return x * gate

    def _judge(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        x = self._visible(x)
        steps = condition.unsqueeze(1).expand(-1, x.shape[1], -1)
        out: torch.Tensor = self.judge(torch.cat([x, steps], dim=-1))
        return out

    def step(self) -> dict[str, float]:
        t, shard = self.config.train, self.shard
        tau = 0.5
        for _ in range(t.d_steps):
            real_all, valid_all, *drawn = self._batch()
            real, valid, cond, burn, noise, *uniforms = (
                shard.take(x) for x in (real_all, valid_all, *drawn)
            )
            count = valid_all.sum().clamp_min(1.0) / shard.world
            with torch.no_grad():
                fake = self._crop(self.sampler(noise, cond, tau, uniforms), burn)
            d_loss = _masked_bce(self._judge(real, cond), 1.0, valid, count) + _masked_bce(
                self._judge(fake, cond), 0.0, valid, count
            )
            self.opt_d.zero_grad()
            d_loss.backward()
            self.opt_d.step()
        real_all, valid_all, *drawn = self._batch()
        cond, burn, noise, *uniforms = (shard.take(x) for x in drawn)
        valid = shard.take(valid_all)
        count = valid_all.sum().clamp_min(1.0) / shard.world
        fake = self._crop(self.sampler(noise, cond, tau, uniforms), burn)
        adversarial = _masked_bce(self._judge(fake, cond), 1.0, valid, count)
        fake_all = shard.gather(fake)  # batch statistics: the global synthetic batch
        moment = masked_moment_loss(real_all, fake_all, valid_all)
        g_loss = t.adv_weight * adversarial + t.moment_weight * moment
        roughness = None
        if t.diff_weight:
            roughness = window_terms.diff_loss(real_all, fake_all, valid_all, self.numeric_channels)
            g_loss = g_loss + t.diff_weight * roughness
        acf = None
        if self.acf_lags:
            acf = window_terms.autocorrelation_loss(
                real_all, fake_all, self.acf_lags, valid_all, self.numeric_channels
            )
            g_loss = g_loss + t.acf_weight * acf
        xcorr = None
        if t.xcorr_weight:
            xcorr = window_terms.cross_correlation_loss(real_all, fake_all, valid_all)
            g_loss = g_loss + t.xcorr_weight * xcorr
        spread = None
        if t.spread_weight:
            spread = window_terms.window_spread_loss(
                real_all, fake_all, valid_all, self.numeric_channels
            )
            g_loss = g_loss + t.spread_weight * spread
        self.opt_g.zero_grad()
        g_loss.backward()
        self.opt_g.step()
        if self.ema is not None:
            ema_update(self.ema, self.generator, t.ema_decay)
        return {
            "d_loss": d_loss.item(),
            "g_adversarial": adversarial.item(),
            "g_moment": moment.item(),
            **({"g_diff": roughness.item()} if roughness is not None else {}),
            **({"g_acf": acf.item()} if acf is not None else {}),
            **({"g_xcorr": xcorr.item()} if xcorr is not None else {}),
            **({"g_spread": spread.item()} if spread is not None else {}),
        }

    def exported(self) -> TableGenerator:
        return self.ema if self.ema is not None else self.generator

    def validate(self, step: int) -> float | None:
        """training/selection.py's distance between the held-out windows and as many synthetic
        ones (their conditions, fixed noise); keeps the weights of the best score."""
        if self.val_idx is None:
            return None
        real = self.windows[self.val_idx]
        burn = self.burn[self.val_idx]
        noise = torch.randn(
            real.shape[0],
            real.shape[1] + int(burn.max()),
            self.generator.noise_dim,
            generator=torch.Generator().manual_seed(self.config.seed + 1),
        )
        generator = self.exported()
        with torch.no_grad():
            fake = self._crop(generator(noise, self.conditions[self.val_idx]), burn)
        score = window_distance(
            real.numpy(), fake.numpy(), self.valid[self.val_idx].numpy(), self.numeric_channels
        )
        self.kept.offer(score, step, generator)
        return score

    def checkpoint(self, step: int) -> Checkpoint:
        spec = self.data.spec
        weights, selection = self.kept.weights(self.exported().state_dict())
        return Checkpoint(
            config=self.config,
            step=step,
            selection=selection,
            generator=weights,
            discriminator=self.discriminator.state_dict(),
            features=[c.name for c in spec.dynamic],
            dataset=DatasetInfo(
                name=Path(self.data.source).stem,
                source=self.data.source,
                sha256=self.data.sha256,
                columns=[c.name for c in spec.columns],
                n_windows=int(self.data.windows.shape[0]),
            ),
            seq_len=self.data.seq_len,
            freq=self.config.data.freq,
            table=spec,
        )


class TableGAN(Family):
    name = "table_gan"
    task = "generate"
    data_parallel = True
    datasets = frozenset({"table"})
    graph_io = TABLE_GRAPH_IO
    dynamic_axes = {
        "noise": {0: "batch", 1: "length"},
        "condition": {0: "batch"},
        "samples": {0: "batch", 1: "length"},
    }

    def trainer(self, config: RunConfig, rng: torch.Generator) -> TableTrainer:
        data = load_table(config.data)
        log.info("table %s:\n%s", data.source, describe(data.spec))
        return TableTrainer(config, data, rng)

    def graph(self, ckpt: Checkpoint) -> nn.Module:
        assert ckpt.table is not None, "an own-table checkpoint carries its table spec"
        generator = build(ckpt.config, ckpt.table)[0]
        generator.load_state_dict(ckpt.generator)
        return TableGraph(generator)

    def evaluate(self, config: RunConfig, graph: nn.Module) -> dict[str, Any]:
        return evaluate_table(config, graph)

    def example_inputs(self, ckpt: Checkpoint, batch: int, length: int) -> dict[str, torch.Tensor]:
        assert ckpt.table is not None
        g = torch.Generator().manual_seed(1234)
        return {
            "noise": torch.randn(batch, length, noise_dim(ckpt), generator=g),
            "condition": torch.rand(batch, ckpt.table.condition_dim, generator=g),
        }

    def export_length(self, config: RunConfig) -> int:
        return config.data.seq_len or 24

    def manifest_fields(self, ckpt: Checkpoint) -> dict[str, Any]:
        table = ckpt.table
        assert table is not None
        return {
            "latent_dim": noise_dim(ckpt),
            "freq": table.time.freq if table.time is not None else ckpt.freq,
            "seq_len": ckpt.seq_len,
            "scaler": Scaler(kind="table", applied_in_graph=False),
            "table": table,
        }
