"""Recurrent networks. Every time loop is inside nn.GRU / nn.LSTM (never a Python loop over
steps), so ONNX export keeps dynamic lengths."""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def ema_update(average: nn.Module, model: nn.Module, decay: float) -> None:
    """Exponential moving average of weights: average ← decay · average + (1 − decay) · model."""
    for avg_p, p in zip(average.parameters(), model.parameters(), strict=True):
        avg_p.mul_(decay).add_(p, alpha=1 - decay)


class RecurrentNet(nn.Module):
    """A GRU/LSTM stack with a per-step linear head: (B, T, input_size) -> (B, T, output_size)."""

    def __init__(
        self,
        *,
        input_size: int,
        hidden_size: int,
        num_layers: int,
        output_size: int,
        cell: str = "gru",
        activation: str | None = None,
    ) -> None:
        super().__init__()
        rnn_cls = nn.GRU if cell == "gru" else nn.LSTM
        self.rnn = rnn_cls(input_size, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, output_size)
        self.activation = activation

    def forward(self, x: torch.Tensor, offset: torch.Tensor | None = None) -> torch.Tensor:
        """`offset` (B, T, output_size): added to the head's output before the activation."""
        h, _ = self.rnn(x)  # (B, T, H)
        out = self.head(h)
        if offset is not None:
            out = out + offset
        return torch.sigmoid(out) if self.activation == "sigmoid" else out


class GenerateGraph(nn.Module):
    """What is exported for `generate`: noise (B, T, latent_dim) -> series in real units."""

    def __init__(self, generator: nn.Module, data_min: torch.Tensor, span: torch.Tensor) -> None:
        super().__init__()
        self.generator = generator
        self.register_buffer("data_min", data_min.float())
        self.register_buffer("span", span.float())

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        return self.generator(noise) * self.span + self.data_min  # (B, T, F)


class ForecastGenerator(nn.Module):
    """ForGAN-style conditional generator (Koochali et al., IEEE Access 2019): a GRU reads the
    standardised history in patches of `patch_len` values per step; its final state, repeated
    per step beside that step's noise, drives a second GRU that emits the horizon as offsets
    from the last observed value."""

    def __init__(
        self,
        *,
        latent_dim: int,
        hidden_size: int,
        num_layers: int,
        cell: str = "gru",
        patch_len: int = 1,
    ):
        super().__init__()
        rnn_cls = nn.GRU if cell == "gru" else nn.LSTM
        self.patch_len = patch_len
        self.condition = rnn_cls(patch_len, hidden_size, num_layers=num_layers, batch_first=True)
        self.decoder = rnn_cls(
            latent_dim + hidden_size, hidden_size, num_layers=num_layers, batch_first=True
        )
        self.head = nn.Linear(hidden_size, 1)

    def encode(self, history: torch.Tensor) -> torch.Tensor:
        """(B, C) standardised history -> (B, 1, hidden) condition state."""
        patches = history.reshape(history.shape[0], -1, self.patch_len)  # (B, C / P, P)
        states, _ = self.condition(patches)
        return states[:, -1:, :]

    def decode(self, state: torch.Tensor, last: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """state (B, 1, hidden), last value (B, 1), noise (B, H, L) -> future (B, H)."""
        context = state.expand(-1, noise.shape[1], -1)  # (B, H, hidden)
        out, _ = self.decoder(torch.cat([noise, context], dim=-1))
        return self.head(out).squeeze(-1) + last

    def forward(self, history: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """history (B, C) standardised, noise (B, H, L) -> future (B, H) standardised."""
        return self.decode(self.encode(history), history[:, -1:], noise)


class ForecastDiscriminator(nn.Module):
    """Judges history and future together: (B, C + H) standardised -> one logit per series."""

    def __init__(self, *, hidden_size: int, num_layers: int, cell: str = "gru"):
        super().__init__()
        rnn_cls = nn.GRU if cell == "gru" else nn.LSTM
        self.rnn = rnn_cls(1, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, series: torch.Tensor) -> torch.Tensor:
        h, _ = self.rnn(series.unsqueeze(-1))
        return self.head(h[:, -1, :]).squeeze(-1)  # (B,)


def standardise(history: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-series location and scale of a (B, C) history, each (B, 1)."""
    mean = history.mean(dim=1, keepdim=True)
    std = torch.sqrt(((history - mean) ** 2).mean(dim=1, keepdim=True) + 1e-8)
    return mean, std


class ForecastGraph(nn.Module):
    """What is exported for `forecast`: history (S, C) and noise (S, N, H, L) in, N sample
    futures per series (S, N, H) out, all in each history's own units (per-series scaling
    happens inside the graph). The history is read once per series, not once per sample."""

    def __init__(self, generator: ForecastGenerator) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, history: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        mean, std = standardise(history)  # (S, 1) each
        scaled = (history - mean) / std
        state = self.generator.encode(scaled)  # (S, 1, hidden)
        s, n, h, latent = noise.shape[0], noise.shape[1], noise.shape[2], noise.shape[3]
        state = state.unsqueeze(1).expand(-1, n, -1, -1).reshape(s * n, 1, state.shape[-1])
        last = scaled[:, -1:].unsqueeze(1).expand(-1, n, -1).reshape(s * n, 1)
        future = self.generator.decode(state, last, noise.reshape(s * n, h, latent))
        return future.reshape(s, n, h) * std.unsqueeze(1) + mean.unsqueeze(1)
