"""The own-table generator's networks (training/families/table_gan.py has the training): the
recurrent generator with its independent or coupled head, training's sampling path through it,
and the exported graph."""

from __future__ import annotations

import torch
from torch import nn

from rnngan.core.tables.spec import TableSpec, channel_layout


class TableGenerator(nn.Module):
    """noise (B, T, N) + condition (B, C) -> channels (B, T, D).

    `independent` (`model.table_head`): a GRU reads [noise_t, condition] at each step and its
    head emits every channel's logits; the graph's output is probabilities (sigmoids, a softmax
    per categorical column) and the sampler draws the discrete channels, each step and channel
    on its own. N = `latent_dim`.

    `coupled`: the noise has `discrete_noise` more values per step (one per category of each
    categorical column and one per Bernoulli channel); inside the generator they become
    uniforms (the normal CDF) that draw the discrete channels by Gumbel-max / thresholding, and
    a second GRU reads [state_t, discrete draws_t] to emit the numbers (and the time gap) of
    that step. So a step's numbers are computed from that step's (and earlier steps') drawn
    categories and flags, and the output's discrete channels are exactly 0 or 1: the sampler's
    own draws then change nothing. A spec without discrete channels has no second GRU.
    """

    def __init__(
        self,
        spec: TableSpec,
        *,
        latent_dim: int,
        hidden_size: int,
        num_layers: int,
        cell: str,
        head: str = "independent",
    ) -> None:
        super().__init__()
        layout = channel_layout(spec)
        rnn_cls = nn.GRU if cell == "gru" else nn.LSTM
        # Channel runs in order: (start, stop, softmax?) — sigmoid runs between categoricals.
        cats = sorted(
            (layout.values[c.name].start, layout.values[c.name].stop)
            for c in spec.dynamic
            if c.kind == "categorical"
        )
        runs: list[tuple[int, int, bool]] = []
        at = 0
        for start, stop in cats:
            if start > at:
                runs.append((at, start, False))
            runs.append((start, stop, True))
            at = stop
        if at < layout.width:
            runs.append((at, layout.width, False))
        self.runs = runs
        # Channels sampled as Bernoulli in training: boolean columns and masks.
        self.bernoulli = sorted(
            [layout.values[c.name].start for c in spec.dynamic if c.kind == "boolean"]
            + list(layout.masks.values())
        )
        # The Bernoulli channels as masks over the D channels (not in the state dict): the
        # uniforms of their block (B, T, nb) @ `bernoulli_spread` (nb, D) land on their channels.
        spread = torch.zeros(len(self.bernoulli), layout.width)
        spread[torch.arange(len(self.bernoulli)), self.bernoulli] = 1.0
        self.register_buffer("bernoulli_spread", spread, persistent=False)
        self.register_buffer("bernoulli_mask", spread.sum(dim=0), persistent=False)
        # The uniforms' blocks, per step: one per categorical column (a Gumbel per category),
        # then one for the Bernoulli channels when there are any (`draw`, `_uniforms`).
        self.uniform_widths = [b - a for a, b, soft in runs if soft] + (
            [len(self.bernoulli)] if self.bernoulli else []
        )
        self.coupled = head == "coupled" and sum(self.uniform_widths) > 0
        self.latent_dim = latent_dim
        self.discrete_noise = sum(self.uniform_widths) if self.coupled else 0
        self.rnn = rnn_cls(
            self.noise_dim + spec.condition_dim,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
        )
        self.head = nn.Linear(hidden_size, layout.width)
        if self.coupled:
            discrete = torch.zeros(layout.width)
            for a, b, soft in runs:
                if soft:
                    discrete[a:b] = 1.0
            discrete[self.bernoulli] = 1.0
            self.register_buffer("discrete_mask", discrete)
            self.numbers = rnn_cls(hidden_size + layout.width, hidden_size, batch_first=True)
            self.numbers_head = nn.Linear(hidden_size, layout.width)

    @property
    def noise_dim(self) -> int:
        """Noise values per step the generator reads (the manifest's `latent_dim`)."""
        return self.latent_dim + self.discrete_noise

    def logits(self, noise: torch.Tensor, condition: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The head's logits (B, T, D), and for `coupled` the state (B, T, H) the numbers are
        computed from."""
        steps = condition.unsqueeze(1).expand(-1, noise.shape[1], -1)
        h, _ = self.rnn(torch.cat([noise, steps], dim=-1))
        out: torch.Tensor = self.head(h)
        return (out, h) if self.coupled else (out,)

    def activate(self, logits: torch.Tensor) -> torch.Tensor:
        parts = [
            torch.softmax(logits[..., a:b], dim=-1) if soft else torch.sigmoid(logits[..., a:b])
            for a, b, soft in self.runs
        ]
        return torch.cat(parts, dim=-1)

    def forward(self, noise: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        if not self.coupled:
            return self.activate(self.logits(noise, condition)[0])
        return self._couple(noise, *self.logits(noise, condition), tau=None)

    def _uniforms(self, noise: torch.Tensor) -> list[torch.Tensor]:
        """The coupled generator's discrete noise as `draw`'s uniforms: one (B, T, k) block per
        categorical column, then one for the Bernoulli channels."""
        u = 0.5 * (1.0 + torch.erf(noise[..., self.latent_dim :] / 2.0**0.5))
        u = u.clamp(1e-6, 1 - 1e-6)
        out, at = [], 0
        for k in self.uniform_widths:
            out.append(u[..., at : at + k])
            at += k
        return out

    def _couple(
        self, noise: torch.Tensor, logits: torch.Tensor, state: torch.Tensor, tau: float | None
    ) -> torch.Tensor:
        """Discrete channels drawn from the noise's uniforms (straight-through when `tau` is
        set, hard 0/1 otherwise), the numbers from a second GRU over [state, draws]."""
        drawn = self.sample(logits, tau, self._uniforms(noise))
        discrete = drawn * self.discrete_mask
        h, _ = self.numbers(torch.cat([state, discrete], dim=-1))
        numbers = torch.sigmoid(self.numbers_head(h))
        return discrete + numbers * (1.0 - self.discrete_mask)

    def draw(self, batch: int, length: int, rng: torch.Generator) -> list[torch.Tensor]:
        """The uniforms `sample` turns into hard channels for a (batch, length) batch: one
        (B, T, k) block per categorical column (Gumbel noise), then one for the Bernoulli
        channels when there are any. None for `coupled`: its uniforms come from its noise."""
        if self.coupled:
            return []
        return [torch.rand(batch, length, k, generator=rng) for k in self.uniform_widths]

    def sample(
        self, logits: torch.Tensor, tau: float | None, uniforms: list[torch.Tensor]
    ) -> torch.Tensor:
        """Hard discrete channels, with straight-through gradients when `tau` is set (training);
        `uniforms` from `draw` (or the coupled generator's noise)."""
        parts = []
        drawn = iter(uniforms)
        for a, b, soft in self.runs:
            if soft:
                u = next(drawn).clamp(1e-9, 1 - 1e-9)
                scores = logits[..., a:b] - torch.log(-torch.log(u))
                hard = (scores >= scores.amax(dim=-1, keepdim=True)).to(scores.dtype)
                if tau is not None:
                    y = torch.softmax(scores / tau, dim=-1)
                    hard = hard + y - y.detach()
                parts.append(hard)
            else:
                parts.append(torch.sigmoid(logits[..., a:b]))
        out = torch.cat(parts, dim=-1)
        if self.bernoulli:
            # Masks rather than indexed assignment, which the ONNX exporter mangles.
            mask = self.bernoulli_mask
            u = next(drawn) @ self.bernoulli_spread  # (B, T, D), 0 off the Bernoulli channels
            hard = (u < out).to(out.dtype)
            if tau is not None:
                hard = hard + out - out.detach()
            out = out * (1.0 - mask) + hard * mask
        return out


class Sampler(nn.Module):
    """Training's path through the generator, noise (B, T, L) + condition (B, C) -> hard
    channels (B, T, D), as a forward that DDP can wrap (Shard.wrap)."""

    def __init__(self, generator: TableGenerator) -> None:
        super().__init__()
        self.generator = generator

    def forward(
        self, noise: torch.Tensor, condition: torch.Tensor, tau: float, uniforms: list[torch.Tensor]
    ) -> torch.Tensor:
        g = self.generator
        if g.coupled:
            return g._couple(noise, *g.logits(noise, condition), tau=tau)
        return g.sample(g.logits(noise, condition)[0], tau, uniforms)


class TableGraph(nn.Module):
    """What is exported: noise (B, T, L) + condition (B, C) -> samples (B, T, D)."""

    def __init__(self, generator: TableGenerator) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, noise: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        return self.generator(noise, condition)
