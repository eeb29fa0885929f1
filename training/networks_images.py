"""The networks of the digit-image families (training/families/images.py): a row-recurrent
generator, a bidirectional-GRU discriminator, the text encoder, and the graphs they export.

* ``RowGenerator``: noise (n, rows, latent) -> a GRU, one step per image row -> (n, rows, width)
  in [0, 1], conditioned on a vector (one-hot label or text embedding) fed at every step and
  setting the initial state.
* ``RowDiscriminator``: a bidirectional GRU over rows (or an MLP over the pixels), spectral-
  normalised linear layers (Miyato et al., ICLR 2018), a per-pixel minibatch-std feature (after
  Karras et al., ICLR 2018) and the projection term (Miyato & Koyama, ICLR 2018).
* ``TextEncoder``: token ids -> a condition vector; pre-trained to name the digit of a caption and
  then frozen, like GAN-INT-CLS's encoder (Reed et al., ICML 2016).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from rnngan.core import images as img


def _sn(layer: nn.Module, enabled: bool) -> nn.Module:
    return spectral_norm(layer) if enabled else layer


class RowGenerator(nn.Module):
    """noise (n, rows, latent_dim) and condition (n, cond_dim) -> images (n, rows, width) in
    [0, 1]. One GRU step per row; the condition is fed at every step and sets the initial state."""

    def __init__(
        self, *, latent_dim: int, cond_dim: int, hidden: int, layers: int, width: int = 8
    ) -> None:
        super().__init__()
        self.cond_dim, self.hidden, self.layers = cond_dim, hidden, layers
        self.rnn = nn.GRU(latent_dim + cond_dim, hidden, num_layers=layers, batch_first=True)
        self.init = nn.Linear(cond_dim, hidden * layers) if cond_dim else None
        self.head = nn.Sequential(
            nn.Linear(hidden, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, width)
        )

    def forward(self, noise: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if self.init is None or cond is None:
            out, _ = self.rnn(noise)
        else:
            steps = cond.unsqueeze(1) + torch.zeros_like(noise[:, :, :1])  # (n, rows, cond_dim)
            h0 = torch.tanh(self.init(cond)).reshape(-1, self.layers, self.hidden)
            out, _ = self.rnn(torch.cat([noise, steps], dim=-1), h0.transpose(0, 1).contiguous())
        return torch.sigmoid(self.head(out))


def _minibatch_std(x: torch.Tensor, group: int) -> torch.Tensor:
    """Minibatch standard deviation (after Karras et al., ProGAN, ICLR 2018, §3), kept per
    feature: for each group of `group` samples (sample i is in group i mod n/group), the std of
    every feature, (n, features). Falls back to the whole batch when `group` does not divide n."""
    n = x.shape[0]
    g = group if n % group == 0 else n
    grouped = x.reshape(g, n // g, -1)
    std = (grouped.var(dim=0, unbiased=False) + 1e-8).sqrt()  # (n // g, features)
    return std.repeat(g, 1)


class RowDiscriminator(nn.Module):
    """images (n, rows, width) and condition (n, cond_dim) -> logits (n,). A bidirectional GRU
    over rows (or an MLP over pixels), spectral-normalised linear layers, and the projection
    term <embed(cond), features> when conditional."""

    def __init__(
        self,
        *,
        cond_dim: int,
        hidden: int,
        kind: Literal["gru", "mlp"] = "gru",
        use_sn: bool = True,
        rows: int = 8,
        width: int = 8,
        features: int = 256,
        mbstd_group: int = 4,
    ) -> None:
        super().__init__()
        self.kind, self.mbstd_group = kind, mbstd_group
        if kind == "gru":
            self.rnn: nn.GRU | None = nn.GRU(width, hidden, batch_first=True, bidirectional=True)
            flat = rows * 2 * hidden
        else:
            self.rnn = None
            flat = rows * width
        pixels = rows * width
        self.body = nn.Sequential(
            _sn(nn.Linear(flat + (pixels if mbstd_group > 1 else 0), features), use_sn),
            nn.LeakyReLU(0.2),
            _sn(nn.Linear(features, features), use_sn),
            nn.LeakyReLU(0.2),
        )
        self.out = _sn(nn.Linear(features, 1), use_sn)
        self.embed = _sn(nn.Linear(cond_dim, features, bias=False), use_sn) if cond_dim else None

    def forward(self, images: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        x = images * 2.0 - 1.0
        pixels = x.flatten(1)
        if self.rnn is not None:
            x, _ = self.rnn(x)
        flat = x.flatten(1)
        if self.mbstd_group > 1:
            flat = torch.cat([flat, _minibatch_std(pixels, self.mbstd_group)], dim=1)
        feats = self.body(flat)
        logits = self.out(feats).squeeze(-1)
        if self.embed is not None and cond is not None:
            logits = logits + (self.embed(cond) * feats).sum(dim=-1)
        return logits


class TextEncoder(nn.Module):
    """token ids (n, L) int64 -> condition: word embeddings, a bidirectional GRU, a mean over
    non-<pad> positions, a linear map and tanh give the text features (n, out_dim) in (-1, 1);
    ``classify`` is the pre-training head (digit from caption). The condition is the features
    (``condition="embedding"``) or the head's posterior over the digits (``"classes"``, (n, 10),
    what the caption says, in the form a label-conditioned generator reads)."""

    def __init__(
        self,
        *,
        vocab_size: int,
        embed_dim: int = 32,
        hidden: int = 64,
        out_dim: int = 32,
        condition: Literal["embedding", "classes"] = "embedding",
    ) -> None:
        super().__init__()
        self.condition = condition
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=img.PAD_ID)
        self.rnn = nn.GRU(embed_dim, hidden, batch_first=True, bidirectional=True)
        self.proj = nn.Linear(2 * hidden, out_dim)
        self.classify = nn.Linear(out_dim, img.NUM_CLASSES)

    def features(self, tokens: torch.Tensor) -> torch.Tensor:
        mask = (tokens != img.PAD_ID).unsqueeze(-1).to(torch.float32)  # (n, L, 1)
        states, _ = self.rnn(self.embed(tokens))
        pooled = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        return torch.tanh(self.proj(pooled))

    def logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """The pre-training head's digit logits (n, 10)."""
        out: torch.Tensor = self.classify(self.features(tokens))
        return out

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.condition == "classes":
            return torch.softmax(self.logits(tokens), dim=-1)
        return self.features(tokens)


# ------------------------------------------------------------------------------ export graphs
class LabelImageGraph(nn.Module):
    """Exported ``label`` graph: noise (n, 8, latent) float32, label (n, 10) float32 one-hot ->
    images (n, 8, 8) float32 in [0, 1]."""

    def __init__(self, generator: RowGenerator) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, noise: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return self.generator(noise, label)


class UncondImageGraph(nn.Module):
    """Exported ``uncond`` graph: noise (n, 8, latent) float32 -> images (n, 8, 8) in [0, 1]."""

    def __init__(self, generator: RowGenerator) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        return self.generator(noise)


class TextImageGraph(nn.Module):
    """Exported ``text`` graph: noise (n, 8, latent) float32, tokens (n, L) int64 (from
    :func:`rnngan.core.images.encode_prompts`) -> images (n, 8, 8) float32 in [0, 1]."""

    def __init__(self, encoder: TextEncoder, generator: RowGenerator) -> None:
        super().__init__()
        self.encoder, self.generator = encoder, generator

    def forward(self, noise: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        return self.generator(noise, self.encoder(tokens))
