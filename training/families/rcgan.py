"""A recurrent GAN for series generation, RCGAN-style (Esteban, Hyland & Rätsch 2017): a GRU
generator reads per-step noise and emits each step in [0, 1]; a GRU discriminator judges every
step. Losses: the non-saturating adversarial loss and, with `train.moment_weight`, TimeGAN's
moment term. The exported graph is noise → generator → inverse min-max scaling.
"""

from __future__ import annotations

import torch
from torch import nn

from training import losses
from training.checkpoint import Checkpoint
from training.config import RunConfig
from training.data.series import load_generation
from training.distributed import SINGLE, Shard, current
from training.families.base import SeriesGenerator, series_checkpoint
from training.loop import Trainer
from training.networks import RecurrentNet


def build_nets(config: RunConfig, n_features: int) -> tuple[RecurrentNet, RecurrentNet]:
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
    shard: Shard = SINGLE,
) -> dict[str, float]:
    """`train.d_steps` discriminator updates, then one generator update; data (N, T, F).
    Data-parallel, each rank trains on its `shard` of the global batch (training/distributed.py)."""
    generator, discriminator = nets
    opt_g, opt_d = opts
    t = config.train
    b, length, _ = data.shape[0], data.shape[1], data.shape[2]

    def batch() -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(0, b, (t.batch_size,), generator=rng)
        noise = torch.randn(t.batch_size, length, config.model.latent_dim, generator=rng)
        return data[idx], noise  # the global batch, (B, T, F) and (B, T, latent_dim)

    for _ in range(t.d_steps):
        real, noise = batch()
        with torch.no_grad():
            fake = generator(shard.take(noise))
        d_loss = losses.discriminator_loss(discriminator(shard.take(real)), discriminator(fake))
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()

    real, noise = batch()
    fake = generator(shard.take(noise))
    adversarial = losses.generator_adversarial_loss(discriminator(fake))
    moment = losses.moment_loss(real, shard.gather(fake))  # batch statistics: the global batch
    g_loss = t.adv_weight * adversarial + t.moment_weight * moment
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    return {"d_loss": d_loss.item(), "g_adversarial": adversarial.item(), "g_moment": moment.item()}


class RCGANTrainer(Trainer):
    def __init__(self, config: RunConfig, rng: torch.Generator) -> None:
        self.config, self.rng = config, rng
        self.data = load_generation(config.data, config.seed)
        self.windows = torch.from_numpy(self.data.windows)  # (N, T, F)
        self.nets = build_nets(config, self.windows.shape[-1])
        self.shard = current()
        self.ddp_nets = (self.shard.wrap(self.nets[0]), self.shard.wrap(self.nets[1]))
        t = config.train
        self.opts = (
            torch.optim.Adam(self.nets[0].parameters(), lr=t.lr_g, betas=(0.5, 0.999)),
            torch.optim.Adam(self.nets[1].parameters(), lr=t.lr_d, betas=(0.5, 0.999)),
        )
        self.total_steps = t.steps

    def step(self) -> dict[str, float]:
        return generation_step(
            self.config, self.windows, self.ddp_nets, self.opts, self.rng, self.shard
        )

    def checkpoint(self, step: int) -> Checkpoint:
        return series_checkpoint(self.config, self.data, self.nets, step)


class RCGAN(SeriesGenerator):
    name = "rcgan"
    kind = "rcgan"
    data_parallel = True

    def trainer(self, config: RunConfig, rng: torch.Generator) -> RCGANTrainer:
        return RCGANTrainer(config, rng)

    def generator(self, config: RunConfig, n_features: int) -> nn.Module:
        return build_nets(config, n_features)[0]
