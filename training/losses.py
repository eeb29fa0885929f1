"""Named loss terms, each citing the equation it comes from."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator's binary cross-entropy: minimise -[log D(x) + log(1 - D(G(z)))]
    (Goodfellow et al. 2014, eq. 1)."""
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def generator_adversarial_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss -log D(G(z)) (Goodfellow et al. 2014, §3)."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def moment_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Match each feature's batch mean and standard deviation, (B, T, F) inputs
    (TimeGAN, Yoon et al. 2019: the moment term beside eq. 9's unsupervised loss)."""
    mean_gap = (real.mean(dim=0) - fake.mean(dim=0)).abs().mean()
    std_gap = (real.std(dim=0) - fake.std(dim=0)).abs().mean()
    return mean_gap + std_gap


def sample_crps(target: torch.Tensor, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Unbiased two-sample CRPS estimate per step, E|X - y| - ½ E|X - X'|
    (Gneiting & Raftery 2007, eq. 21), averaged over series and horizon."""
    spread = (first - second).abs()
    error = 0.5 * ((first - target).abs() + (second - target).abs())
    return (error - 0.5 * spread).mean()


def reconstruction_loss(real: torch.Tensor, recovered: torch.Tensor) -> torch.Tensor:
    """Embedding network's reconstruction loss L_R = E‖x − r(e(x))‖² (TimeGAN, §4, eq. 7)."""
    return F.mse_loss(recovered, real)


def supervised_loss(latent: torch.Tensor, predicted: torch.Tensor) -> torch.Tensor:
    """Supervised loss L_S = E‖h_t − s(h_{t−1})‖²: the supervisor's one-step-ahead latent
    prediction (TimeGAN, §4, eq. 8's supervised term)."""
    return F.mse_loss(predicted[:, :-1, :], latent[:, 1:, :])
