"""TSMixup of training windows (training/networks_forecast.py `mix_windows`): a share of a batch's
scaled windows become convex combinations of two windows, re-scaled like any window; the rest,
and every window at share 0, come back untouched; the draws follow the generator's seed."""

from __future__ import annotations

import torch

from training.networks_forecast import mix_windows, scaled_window, window_scale

SEASON, CONTEXT, HORIZON = 4, 16, 4


def _batch(n: int = 64) -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    t = torch.arange(CONTEXT + HORIZON, dtype=torch.float32)
    level = torch.rand(n, 1, generator=g) * 100
    shape = torch.sin(2 * torch.pi * (t / SEASON + torch.rand(n, 1, generator=g)))
    raw = level * (1 + 0.1 * shape) + torch.randn(n, CONTEXT + HORIZON, generator=g)
    z, _, _ = scaled_window(raw, CONTEXT, SEASON)
    return z


def test_share_zero_returns_the_batch_unchanged() -> None:
    z = _batch()
    assert torch.equal(mix_windows(z, CONTEXT, SEASON, 0.0, torch.Generator().manual_seed(0)), z)


def test_mixed_windows_are_rescaled_and_the_rest_untouched() -> None:
    z = _batch()
    out = mix_windows(z, CONTEXT, SEASON, 0.5, torch.Generator().manual_seed(1))
    changed = (out != z).any(dim=1)
    assert 16 <= int(changed.sum()) <= 48  # about half of 64
    loc, scale = window_scale(out[changed, :CONTEXT], SEASON)
    # a mixed window is scaled by its own history like any window: last season's mean 0 and
    # seasonal-naive MAE 1 (the one-season differences of z are those of the raw window / scale)
    assert torch.allclose(loc, torch.zeros_like(loc), atol=1e-4)
    assert torch.allclose(scale, torch.ones_like(scale), atol=1e-4)
    assert out.shape == z.shape and torch.isfinite(out).all()


def test_a_mixed_window_is_a_combination_of_two_windows() -> None:
    z = _batch(2)
    g = torch.Generator().manual_seed(0)
    out = mix_windows(z, CONTEXT, SEASON, 1.0, g)
    # with two windows, each mixed one lies in the plane of the two originals (after re-scaling,
    # which is affine): a least-squares fit on [z0, z1, 1] reproduces it
    basis = torch.stack([z[0], z[1], torch.ones_like(z[0])], dim=1).double()
    for row in out:
        coef = torch.linalg.lstsq(basis, row.double().unsqueeze(1)).solution
        assert torch.allclose(basis @ coef, row.double().unsqueeze(1), atol=1e-4)


def test_same_seed_same_mix() -> None:
    z = _batch()
    a = mix_windows(z, CONTEXT, SEASON, 0.5, torch.Generator().manual_seed(7))
    b = mix_windows(z, CONTEXT, SEASON, 0.5, torch.Generator().manual_seed(7))
    c = mix_windows(z, CONTEXT, SEASON, 0.5, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
