"""The TimeGAN-class networks (training/families/timegan.py trains them): the exported generator
side (generator, supervisor, recovery and the optional observation-noise map), the critic side
(embedder, latent discriminator, optional data-space discriminator), and all of them as the
training steps call them (each under DDP when data-parallel)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from training.config import RunConfig
from training.distributed import Shard
from training.networks import RecurrentNet


class TimeGANGenerator(nn.Module):
    """The generator side that is exported: generator, supervisor, recovery and, with
    `noise_skip`, the observation-noise map."""

    def __init__(
        self,
        *,
        latent_dim: int,
        hidden_size: int,
        num_layers: int,
        n_features: int,
        cell: str,
        noise_skip: bool = False,
    ) -> None:
        super().__init__()
        self.generator = RecurrentNet(
            input_size=latent_dim,
            hidden_size=hidden_size,
            num_layers=num_layers,
            output_size=hidden_size,
            cell=cell,
            activation="sigmoid",
        )
        self.supervisor = RecurrentNet(
            input_size=hidden_size,
            hidden_size=hidden_size,
            num_layers=max(1, num_layers - 1),
            output_size=hidden_size,
            cell=cell,
            activation="sigmoid",
        )
        self.recovery = RecurrentNet(
            input_size=hidden_size,
            hidden_size=hidden_size,
            num_layers=num_layers,
            output_size=n_features,
            cell=cell,
            activation="sigmoid",
        )
        self.skip: nn.Linear | None = None
        if noise_skip:
            self.skip = nn.Linear(latent_dim, n_features, bias=False)
            nn.init.zeros_(self.skip.weight)

    def observation(self, noise: torch.Tensor) -> torch.Tensor | None:
        """The noise's share of the output's logits (B, T, F), None without the skip."""
        return None if self.skip is None else self.skip(noise)

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        """noise (B, T, latent_dim) -> synthetic series (B, T, F) in [0, 1]."""
        return self.recovery(self.supervisor(self.generator(noise)), self.observation(noise))


class TimeGANCritic(nn.Module):
    """The embedder, the latent-space discriminator and, when asked for, one in data space (not
    exported)."""

    def __init__(
        self,
        *,
        hidden_size: int,
        num_layers: int,
        n_features: int,
        cell: str,
        disc_hidden_size: int,
        disc_num_layers: int,
        data_discriminator: bool = False,
    ) -> None:
        super().__init__()
        self.embedder = RecurrentNet(
            input_size=n_features,
            hidden_size=hidden_size,
            num_layers=num_layers,
            output_size=hidden_size,
            cell=cell,
            activation="sigmoid",
        )
        self.discriminator = RecurrentNet(
            input_size=hidden_size,
            hidden_size=disc_hidden_size,
            num_layers=disc_num_layers,
            output_size=1,
            cell=cell,
        )
        self.data_discriminator: RecurrentNet | None = None
        if data_discriminator:
            self.data_discriminator = RecurrentNet(
                input_size=n_features,
                hidden_size=disc_hidden_size,
                num_layers=disc_num_layers,
                output_size=1,
                cell=cell,
            )


def build(config: RunConfig, n_features: int) -> tuple[TimeGANGenerator, TimeGANCritic]:
    m = config.model
    gen = TimeGANGenerator(
        latent_dim=m.latent_dim,
        hidden_size=m.hidden_size,
        num_layers=m.num_layers,
        n_features=n_features,
        cell=m.cell,
        noise_skip=m.noise_skip,
    )
    critic = TimeGANCritic(
        hidden_size=m.hidden_size,
        num_layers=m.num_layers,
        n_features=n_features,
        cell=m.cell,
        disc_hidden_size=m.disc_hidden_size,
        disc_num_layers=m.disc_num_layers,
        data_discriminator=config.train.data_adv_weight > 0,
    )
    return gen, critic


@dataclass(frozen=True)
class Wrapped:
    """The networks as the steps call them: each under DDP when data-parallel, the plain
    module itself in one process (Shard.wrap); the optimisers and checkpoints hold the plain."""

    generator: nn.Module
    supervisor: nn.Module
    recovery: nn.Module
    embedder: nn.Module
    discriminator: nn.Module
    skip: nn.Module | None  # the observation-noise map (model.noise_skip)
    data_discriminator: nn.Module | None  # train.data_adv_weight > 0

    @classmethod
    def of(cls, gen: TimeGANGenerator, critic: TimeGANCritic, shard: Shard) -> Wrapped:
        return cls(
            generator=shard.wrap(gen.generator),
            supervisor=shard.wrap(gen.supervisor),
            recovery=shard.wrap(gen.recovery),
            embedder=shard.wrap(critic.embedder),
            discriminator=shard.wrap(critic.discriminator),
            skip=None if gen.skip is None else shard.wrap(gen.skip),
            data_discriminator=(
                None if critic.data_discriminator is None else shard.wrap(critic.data_discriminator)
            ),
        )

    def observation(self, noise: torch.Tensor) -> torch.Tensor | None:
        return None if self.skip is None else self.skip(noise)
