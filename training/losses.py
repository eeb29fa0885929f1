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


def diff_loss(
    real: torch.Tensor,
    fake: torch.Tensor,
    valid: torch.Tensor | None = None,
    channels: list[int] | None = None,
    relative: bool = False,
) -> torch.Tensor:
    """Each feature's step-to-step change, real vs synthetic: the std of first differences over
    pairs of observed steps ((B, T) `valid`, all steps when None), (B, T, F) inputs. The moment
    term sees the marginals; this one sees how rough the paths are (a generator that smooths the
    noise away, or adds jitter, matches the first and fails this). The first-difference moment
    that TimeGAN's follow-ups (e.g. Diffusion-TS's Fourier term) add in other forms.
    `channels`: the features it looks at (all when None); discrete ones are better left out,
    their roughness is the sampler's (relaxed samples in training, independent draws after).
    `relative`: the gap between the logs of the two, so that a smooth channel twice too rough
    weighs as much as a noisy one (the absolute gap is dominated by the roughest channels)."""
    if channels is not None:
        real, fake = real[..., channels], fake[..., channels]
    if valid is None:
        valid = torch.ones(real.shape[:2], dtype=real.dtype, device=real.device)
    pair = (valid[:, 1:] * valid[:, :-1]).unsqueeze(-1)
    n = pair.sum().clamp_min(1.0)

    def rough(x: torch.Tensor) -> torch.Tensor:
        d = x[:, 1:] - x[:, :-1]
        return torch.sqrt((d**2 * pair).sum(dim=(0, 1)) / n + 1e-6)

    if relative:
        return (torch.log(rough(real)) - torch.log(rough(fake))).abs().mean()
    return (rough(real) - rough(fake)).abs().mean()


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


def autocorrelation_loss(
    real: torch.Tensor,
    fake: torch.Tensor,
    valid: torch.Tensor,
    channels: list[int],
    max_lag: int,
) -> torch.Tensor:
    """Each channel's within-window autocorrelation at lags 1 … `max_lag`, averaged over
    windows, real vs synthetic (mean absolute gap): the autocorrelation moment that the
    moment and first-difference terms do not see (a path can have the right spread and
    roughness and still oscillate at the wrong period). Steps outside `valid` (B, T) are left
    out; (B, T, F) inputs, `channels` the features it looks at."""
    w = valid.unsqueeze(-1)

    def acf(x: torch.Tensor) -> torch.Tensor:
        x = x[..., channels]
        n = w.sum(dim=1, keepdim=True).clamp_min(1.0)
        centred = (x - (x * w).sum(dim=1, keepdim=True) / n) * w
        var = (centred**2).sum(dim=1) + 1e-6  # (B, F)
        lags = [
            (centred[:, lag:] * centred[:, :-lag]).sum(dim=1) / var for lag in range(1, max_lag + 1)
        ]
        return torch.stack(lags).mean(dim=1)  # (lags, F): mean over windows

    return (acf(real) - acf(fake)).abs().mean()


def window_spread_loss(
    real: torch.Tensor,
    fake: torch.Tensor,
    valid: torch.Tensor | None = None,
    channels: list[int] | None = None,
) -> torch.Tensor:
    """Each channel's spread within a window (its std over the window's steps, averaged over
    windows), real vs synthetic, as the gap between their logs (a channel twice too wide weighs
    alike whatever its scale). The moment term matches each step's spread across the batch,
    mostly the spread of levels between windows; this one sees how far a path wanders within
    its window, which the autocorrelation and cross-correlation terms, being scale-free, leave
    free. Steps outside `valid` (B, T) are left out; (B, T, F) inputs, `channels` the features it
    looks at (all when None)."""
    if channels is not None:
        real, fake = real[..., channels], fake[..., channels]
    if valid is None:
        valid = torch.ones(real.shape[:2], dtype=real.dtype, device=real.device)
    w = valid.unsqueeze(-1)
    n = w.sum(dim=1, keepdim=True).clamp_min(1.0)

    def spread(x: torch.Tensor) -> torch.Tensor:
        centred = (x - (x * w).sum(dim=1, keepdim=True) / n) * w
        return torch.sqrt((centred**2).sum(dim=1) / n[:, 0] + 1e-8).mean(dim=0)  # (F,)

    return (torch.log(spread(real)) - torch.log(spread(fake))).abs().mean()


def cross_correlation_loss(
    real: torch.Tensor,
    fake: torch.Tensor,
    valid: torch.Tensor | None = None,
    channels: list[int] | None = None,
) -> torch.Tensor:
    """How the channels move together, real vs synthetic: the mean absolute gap between their
    correlation matrices over every step of the batch (the data's co-movement, levels included),
    plus the same for the correlations within each window (each window's own, averaged over
    windows: co-movement a window at a time, as a classifier of per-window z-scored windows sees
    it). The per-channel moment, first-difference and autocorrelation terms see neither: a
    generator can get every channel right and couple them wrongly (visitors high while a store is
    closed; a stock's volume rising and falling with its price). Steps outside `valid` (B, T) are
    left out (all count when None); (B, T, F) inputs, `channels` the features it looks at (all
    when None); 0 with fewer than two."""
    if channels is not None:
        real, fake = real[..., channels], fake[..., channels]
    features = real.shape[-1]
    if features < 2:
        return real.new_zeros(())
    if valid is None:
        valid = torch.ones(real.shape[:2], dtype=real.dtype, device=real.device)
    w = valid.unsqueeze(-1)  # (B, T, 1)
    upper = torch.triu_indices(features, features, offset=1, device=real.device)

    def pairs(cov: torch.Tensor) -> torch.Tensor:
        """(..., F, F) covariances -> (..., pairs) correlations."""
        std = torch.sqrt(torch.diagonal(cov, dim1=-2, dim2=-1) + 1e-6)
        corr = cov / (std.unsqueeze(-1) * std.unsqueeze(-2))
        return corr[..., upper[0], upper[1]]

    def overall(x: torch.Tensor) -> torch.Tensor:
        n = w.sum().clamp_min(1.0)
        centred = (x - (x * w).sum(dim=(0, 1)) / n) * w
        flat = centred.reshape(-1, features)
        return pairs(flat.T @ flat / n)

    def within(x: torch.Tensor) -> torch.Tensor:
        n = w.sum(dim=1, keepdim=True).clamp_min(1.0)  # (B, 1, 1)
        centred = (x - (x * w).sum(dim=1, keepdim=True) / n) * w
        cov = torch.einsum("btf,btg->bfg", centred, centred) / n
        return pairs(cov).mean(dim=0)

    gap = (overall(real) - overall(fake)).abs().mean()
    return gap + (within(real) - within(fake)).abs().mean()
