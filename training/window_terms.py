"""Statistics of whole windows that the generators match, real vs synthetic (generator families
only: TimeGAN-class and own tables). The adversarial terms judge samples; these name what a
classifier of windows looks at and a generator can get wrong while fooling its discriminator:
how rough a path is, how it oscillates, how far it wanders and how the channels move together.

Every term takes (B, T, F) real and synthetic batches, an optional (B, T) `valid` mask (steps
outside it are padding and left out; all steps count when None) and an optional list of
`channels` (all when None). The autocorrelation, spread and cross-correlation terms floor each
channel's variance, on both sides, at (`RELATIVE_FLOOR` × the real channel's std over all valid
steps of its batch, levels between windows included)²: a channel held (nearly) constant within
its windows, real or synthetic (a collapsed generator), gives bounded gradients whatever the
data's units, and scaling both batches alike leaves the terms as they are.
"""

from __future__ import annotations

import torch

RELATIVE_FLOOR = 1e-3


def _masked(
    real: torch.Tensor,
    fake: torch.Tensor,
    valid: torch.Tensor | None,
    channels: list[int] | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The selected channels of both batches and the (B, T, 1) weight of each step."""
    if channels is not None:
        real, fake = real[..., channels], fake[..., channels]
    if valid is None:
        valid = torch.ones(real.shape[:2], dtype=real.dtype, device=real.device)
    return real, fake, valid.unsqueeze(-1)


def _centred(x: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each window's channels minus their mean over its valid steps (0 on padding), and the
    (B, 1, 1) count of those steps."""
    n = w.sum(dim=1, keepdim=True).clamp_min(1.0)
    return (x - (x * w).sum(dim=1, keepdim=True) / n) * w, n


def _floor(real: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """(F,) variance floor: (RELATIVE_FLOOR × each real channel's std over all valid steps)²,
    with an absolute floor for a channel constant over the whole real batch."""
    n = w.sum().clamp_min(1.0)
    mean = (real * w).sum(dim=(0, 1)) / n
    var = (((real - mean) * w) ** 2).sum(dim=(0, 1)) / n
    return (RELATIVE_FLOOR**2 * var).clamp_min(1e-12).detach()


def diff_loss(
    real: torch.Tensor,
    fake: torch.Tensor,
    valid: torch.Tensor | None = None,
    channels: list[int] | None = None,
    relative: bool = False,
) -> torch.Tensor:
    """Each channel's step-to-step change: the std of first differences over pairs of valid
    steps. The moment term sees the marginals; this one sees how rough the paths are (a
    generator that smooths the noise away, or adds jitter, matches the first and fails this):
    the first-difference moment that TimeGAN's follow-ups (e.g. Diffusion-TS's Fourier term) add
    in other forms. Discrete channels are better left out of `channels`: their roughness is the
    sampler's (relaxed samples in training, independent draws after). `relative`: the gap
    between the logs of the two, so that a smooth channel twice too rough weighs as much as a
    noisy one (the absolute gap is dominated by the roughest channels). Its floor is an absolute
    1e-6 on the variance of the differences (the families scale the data before training)."""
    real, fake, w = _masked(real, fake, valid, channels)
    pair = w[:, 1:] * w[:, :-1]
    n = pair.sum().clamp_min(1.0)

    def rough(x: torch.Tensor) -> torch.Tensor:
        d = x[:, 1:] - x[:, :-1]
        return torch.sqrt((d**2 * pair).sum(dim=(0, 1)) / n + 1e-6)

    if relative:
        return (torch.log(rough(real)) - torch.log(rough(fake))).abs().mean()
    return (rough(real) - rough(fake)).abs().mean()


def autocorrelation_loss(
    real: torch.Tensor,
    fake: torch.Tensor,
    max_lag: int,
    valid: torch.Tensor | None = None,
    channels: list[int] | None = None,
) -> torch.Tensor:
    """Each channel's within-window autocorrelation at lags 1 … `max_lag`, averaged over
    windows, real vs synthetic (mean absolute gap): the autocorrelation moment that the moment
    and first-difference terms do not see (a path can have the right spread and roughness and
    still oscillate at the wrong period)."""
    real, fake, w = _masked(real, fake, valid, channels)
    floor = _floor(real, w)

    def acf(x: torch.Tensor) -> torch.Tensor:
        centred, n = _centred(x, w)
        var = (centred**2).sum(dim=1) + n[:, 0] * floor  # (B, F)
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
    free."""
    real, fake, w = _masked(real, fake, valid, channels)
    floor = _floor(real, w)

    def spread(x: torch.Tensor) -> torch.Tensor:
        centred, n = _centred(x, w)
        return torch.sqrt((centred**2).sum(dim=1) / n[:, 0] + floor).mean(dim=0)  # (F,)

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
    it). The per-channel terms see neither: a generator can get every channel right and couple
    them wrongly (visitors high while a store is closed; a stock's volume rising and falling
    with its price). 0 with fewer than two channels."""
    real, fake, w = _masked(real, fake, valid, channels)
    features = real.shape[-1]
    if features < 2:
        return real.new_zeros(())
    floor = _floor(real, w)
    upper = torch.triu_indices(features, features, offset=1, device=real.device)

    def pairs(cov: torch.Tensor) -> torch.Tensor:
        """(..., F, F) covariances -> (..., pairs) correlations."""
        std = torch.sqrt(torch.diagonal(cov, dim1=-2, dim2=-1) + floor)
        corr = cov / (std.unsqueeze(-1) * std.unsqueeze(-2))
        return corr[..., upper[0], upper[1]]

    def overall(x: torch.Tensor) -> torch.Tensor:
        n = w.sum().clamp_min(1.0)
        centred = (x - (x * w).sum(dim=(0, 1)) / n) * w
        flat = centred.reshape(-1, features)
        return pairs(flat.T @ flat / n)

    def within(x: torch.Tensor) -> torch.Tensor:
        centred, n = _centred(x, w)
        cov = torch.einsum("btf,btg->bfg", centred, centred) / n
        return pairs(cov).mean(dim=0)

    gap = (overall(real) - overall(fake)).abs().mean()
    return gap + (within(real) - within(fake)).abs().mean()
