"""TimeGAN (Yoon, Jarrett & van der Schaar, NeurIPS 2019) in three phases:

1. embedding: embedder + recovery learn a latent space, reconstruction loss L_R (§4, eq. 7);
2. supervised: the supervisor learns latent next-step dynamics, supervised loss L_S (eq. 7, 8);
3. joint: generator + supervisor against the discriminator (unsupervised loss L_U, eq. 8) with
   L_S and the moment loss; embedder + recovery keep L_R + λ·L_S (eq. 7); the discriminator is
   updated only while it is not already winning (its loss above `d_threshold`).

An exponential moving average of the generator-side weights is what gets exported when
`train.ema_decay > 0`. With `train.select_every`, a tenth of the windows (at most 1024) is held
out of the batches and the generator is scored on them every N joint steps
(training/selection.py's `series_distance`); the checkpoint keeps the best weights. The windows
slide by one step, so a held-out window shares most of its rows with trained ones: the score
says how close the generator's windows are to the data's, not whether it memorised them.

The exported graph is noise → generator → supervisor → recovery → real units; every network is an
nn.GRU/nn.LSTM stack, so lengths stay dynamic. With `model.noise_skip`, each step's noise also
reaches the output through a linear map added before recovery's sigmoid (zero at the start):
observation noise on top of the latent dynamics, so channels that are white noise in the data
(energy's rv1, rv2) need not be made by the recurrent path. The latent discriminator cannot see it,
so the moment and first-difference terms train it (and, with `train.acf_weight`, the within-window
autocorrelation term of window_terms.py at lags 1 … `train.acf_lags`; with `train.xcorr_weight`, its
cross-correlation term; with `train.spread_weight`, its within-window spread term), and so does a
second discriminator on the series themselves (`train.data_adv_weight` > 0: a per-step recurrent
net of `model.cell`, RCGAN-style, reading real and synthetic windows in data space, its
non-saturating loss added to the generator's with that weight, updated under the same threshold as
the latent one).

Data-parallel (training/distributed.py): each rank trains on its block of the global batch through
its own DDP wrapper of each network (the steps call them one by one); the moment, first-difference,
autocorrelation and cross-correlation terms see the gathered synthetic batch, the square-rooted
losses the rank-averaged mean, and the discriminator threshold is tested on the rank-averaged loss,
so every rank updates (or skips) alike.
"""

from __future__ import annotations

import copy
from dataclasses import replace

import torch
from torch import nn

from training import losses, window_terms
from training.checkpoint import Checkpoint, KeptBest
from training.config import RunConfig
from training.data.series import load_generation
from training.distributed import current
from training.families.base import SeriesGenerator, series_checkpoint
from training.loop import Trainer
from training.networks import ema_update
from training.networks_timegan import TimeGANGenerator, Wrapped, build
from training.selection import batch_indices, held_out, series_distance


class TimeGANTrainer(Trainer):
    """Holds the networks, optimisers and EMA; `step()` runs the current phase once and returns
    its named losses."""

    def __init__(self, config: RunConfig, rng: torch.Generator) -> None:
        self.config, self.rng = config, rng
        self.source = load_generation(config.data, config.seed)
        self.data = torch.from_numpy(self.source.windows)  # (N, T, F)
        self.gen, self.critic = build(config, self.data.shape[-1])
        self.shard = current()
        self.nets = Wrapped.of(self.gen, self.critic, self.shard)
        t = config.train
        self.total_steps = t.embed_steps + t.supervised_steps + t.steps
        betas = (0.5, 0.999)
        self.opt_embed = torch.optim.Adam(
            [*self.critic.embedder.parameters(), *self.gen.recovery.parameters()],
            lr=t.lr_g,
            betas=betas,
        )
        self.opt_sup = torch.optim.Adam(self.gen.supervisor.parameters(), lr=t.lr_g, betas=betas)
        skip = [] if self.gen.skip is None else list(self.gen.skip.parameters())
        self.opt_gen = torch.optim.Adam(
            [*self.gen.generator.parameters(), *self.gen.supervisor.parameters(), *skip],
            lr=t.lr_g,
            betas=betas,
        )
        self.opt_disc = torch.optim.Adam(
            self.critic.discriminator.parameters(), lr=t.lr_d, betas=betas
        )
        self.opt_data_disc = (
            None
            if self.critic.data_discriminator is None
            else torch.optim.Adam(
                self.critic.data_discriminator.parameters(), lr=t.lr_d, betas=betas
            )
        )
        self.ema = copy.deepcopy(self.gen).requires_grad_(False) if t.ema_decay > 0 else None
        self.calls = 0
        # The autocorrelation term: lags 1 … acf_lags within a window (at most its length - 1).
        self.acf_lags = min(t.acf_lags, self.data.shape[1] - 1) if t.acf_weight else 0
        # Selection on: a fixed held-out share of the windows, never trained on; off: every
        # window trains and the draws are those of before.
        self.kept = KeptBest()
        self.train_idx: torch.Tensor | None = None
        self.val_idx: torch.Tensor | None = None
        if t.select_every:
            self.val_idx, self.train_idx = held_out(self.data.shape[0], config.seed, cap=1024)

    def _batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The global batch (B, T, F) and noise (B, T, latent_dim), the same on every rank."""
        t, m = self.config.train, self.config.model
        idx = batch_indices(self.data.shape[0], self.train_idx, t.batch_size, self.rng)
        x = self.data[idx]  # (B, T, F)
        # Standard normal noise, as the service draws it (the paper's code uses U(0, 1)).
        z = torch.randn(t.batch_size, x.shape[1], m.latent_dim, generator=self.rng)
        return x, z

    def phase(self) -> str:
        t = self.config.train
        if self.calls < t.embed_steps:
            return "embedding"
        if self.calls < t.embed_steps + t.supervised_steps:
            return "supervised"
        return "joint"

    def step(self) -> dict[str, float]:
        phase = self.phase()
        self.calls += 1
        if phase == "embedding":
            return self.embedding_step()
        if phase == "supervised":
            return self.supervised_step()
        return self.joint_step()

    def embedding_step(self) -> dict[str, float]:
        n, shard = self.nets, self.shard
        x = shard.take(self._batch()[0])  # this rank's block, (B / N, T, F)
        recon = losses.reconstruction_loss(x, n.recovery(n.embedder(x)))
        self.opt_embed.zero_grad()
        (10 * torch.sqrt(shard.mean(recon))).backward()
        self.opt_embed.step()
        return {"e_reconstruction": recon.item()}

    def supervised_step(self) -> dict[str, float]:
        n = self.nets
        x = self.shard.take(self._batch()[0])
        with torch.no_grad():
            h = n.embedder(x)
        sup = losses.supervised_loss(h, n.supervisor(h))
        self.opt_sup.zero_grad()
        sup.backward()
        self.opt_sup.step()
        return {"s_supervised": sup.item()}

    def joint_step(self) -> dict[str, float]:
        t, n, shard = self.config.train, self.nets, self.shard
        out: dict[str, float] = {}
        for _ in range(t.g_steps):
            x, z = self._batch()  # x stays global: the batch statistics' real side
            mine = shard.take(x)
            with torch.no_grad():
                h = n.embedder(mine)
            z_mine = shard.take(z)
            e_hat = n.generator(z_mine)
            h_hat = n.supervisor(e_hat)
            x_hat = n.recovery(h_hat, n.observation(z_mine))
            adversarial = losses.generator_adversarial_loss(n.discriminator(h_hat))
            adversarial_e = losses.generator_adversarial_loss(n.discriminator(e_hat))
            sup = losses.supervised_loss(h, n.supervisor(h))
            x_all = shard.gather(x_hat)  # batch statistics: the global synthetic batch
            moment = losses.moment_loss(x, x_all)
            g_loss = (
                adversarial
                + t.gamma * adversarial_e
                + t.supervised_weight * torch.sqrt(shard.mean(sup))
                + t.moment_weight * moment
            )
            extra: dict[str, float] = {}
            if t.diff_weight:
                rough = window_terms.diff_loss(x, x_all, relative=t.diff_relative)
                g_loss = g_loss + t.diff_weight * rough
                extra["g_diff"] = rough.item()
            if self.acf_lags:
                acf = window_terms.autocorrelation_loss(x, x_all, self.acf_lags)
                g_loss = g_loss + t.acf_weight * acf
                extra["g_acf"] = acf.item()
            if t.xcorr_weight:
                xcorr = window_terms.cross_correlation_loss(x, x_all)
                g_loss = g_loss + t.xcorr_weight * xcorr
                extra["g_xcorr"] = xcorr.item()
            if t.spread_weight:
                spread = window_terms.window_spread_loss(x, x_all)
                g_loss = g_loss + t.spread_weight * spread
                extra["g_spread"] = spread.item()
            if n.data_discriminator is not None:
                adversarial_x = losses.generator_adversarial_loss(n.data_discriminator(x_hat))
                g_loss = g_loss + t.data_adv_weight * adversarial_x
                extra["g_adversarial_x"] = adversarial_x.item()
            self.opt_gen.zero_grad()
            g_loss.backward()
            self.opt_gen.step()

            h = n.embedder(mine)
            recon = losses.reconstruction_loss(mine, n.recovery(h))
            sup_e = losses.supervised_loss(h, n.supervisor(h))
            self.opt_embed.zero_grad()
            (10 * torch.sqrt(shard.mean(recon)) + 0.1 * sup_e).backward()
            self.opt_embed.step()
            out = {
                "g_adversarial": adversarial.item(),
                "g_adversarial_e": adversarial_e.item(),
                "g_supervised": sup.item(),
                "g_moment": moment.item(),
                "e_reconstruction": recon.item(),
                **extra,
            }

        x, z = (shard.take(v) for v in self._batch())
        with torch.no_grad():
            h = n.embedder(x)
            e_hat = n.generator(z)
            h_hat = n.supervisor(e_hat)
        real_logits = n.discriminator(h)
        d_loss = (
            losses.discriminator_loss(real_logits, n.discriminator(h_hat))
            + t.gamma * losses.discriminator_loss(real_logits, n.discriminator(e_hat))
        ) / (1 + t.gamma)
        # Update only while the discriminator is not winning, judged on the global batch's
        # loss (the mean over ranks), so that every rank takes the same branch.
        if shard.average({"d_loss": d_loss.item()})["d_loss"] > t.d_threshold:
            self.opt_disc.zero_grad()
            d_loss.backward()
            self.opt_disc.step()
        out["d_loss"] = d_loss.item()
        if n.data_discriminator is not None and self.opt_data_disc is not None:
            out["d_loss_data"] = self._data_disc_step(x, h_hat, z)
        self._update_ema()
        return out

    def _data_disc_step(self, x: torch.Tensor, h_hat: torch.Tensor, z: torch.Tensor) -> float:
        """The data-space discriminator's update on this rank's real block and the synthetic
        windows of the latent step's `h_hat` (and noise `z`), under the same threshold rule."""
        t, n = self.config.train, self.nets
        assert n.data_discriminator is not None and self.opt_data_disc is not None
        with torch.no_grad():
            x_hat = n.recovery(h_hat, n.observation(z))
        d_loss = losses.discriminator_loss(n.data_discriminator(x), n.data_discriminator(x_hat))
        if self.shard.average({"d": d_loss.item()})["d"] > t.d_threshold:
            self.opt_data_disc.zero_grad()
            d_loss.backward()
            self.opt_data_disc.step()
        return float(d_loss.item())

    def _update_ema(self) -> None:
        if self.ema is not None:
            ema_update(self.ema, self.gen, self.config.train.ema_decay)

    def exported(self) -> TimeGANGenerator:
        """The generator side to export: its EMA when enabled and joint training has run."""
        if self.ema is not None and self.phase() == "joint":
            return self.ema
        return self.gen

    def validate(self, step: int) -> float | None:
        """`series_distance` between the held-out windows and as many synthetic ones (fixed
        noise) once joint training has begun; keeps the weights of the best score."""
        t = self.config.train
        if self.val_idx is None or self.calls <= t.embed_steps + t.supervised_steps:
            return None
        real = self.data[self.val_idx]
        noise = torch.randn(
            *real.shape[:2],
            self.config.model.latent_dim,
            generator=torch.Generator().manual_seed(self.config.seed + 1),
        )
        generator = self.exported()
        with torch.no_grad():
            fake = generator(noise)
        score = series_distance(real.numpy(), fake.numpy())
        self.kept.offer(score, step, generator)
        return score

    def checkpoint(self, step: int) -> Checkpoint:
        nets = (self.exported(), self.critic)
        ckpt = series_checkpoint(self.config, self.source, nets, step, phase=self.phase())
        weights, selection = self.kept.weights(ckpt.generator)
        return replace(ckpt, generator=weights, selection=selection)


class TimeGAN(SeriesGenerator):
    name = "timegan"
    kind = "timegan"
    data_parallel = True

    def trainer(self, config: RunConfig, rng: torch.Generator) -> TimeGANTrainer:
        return TimeGANTrainer(config, rng)

    def generator(self, config: RunConfig, n_features: int) -> nn.Module:
        return build(config, n_features)[0]
