"""TSMixup of training windows (training/networks_forecast.py `mix_windows`): a share of a batch's
scaled windows become convex combinations of two windows, re-scaled like any window (a short,
NaN-padded history by its observed values, as at inference); the rest, and every window at
share 0, are the plain scaled windows; the draws follow the generator's seed."""

from __future__ import annotations

import torch

from training.networks_forecast import mix_windows, scaled_window, window_scale

SEASON, CONTEXT, HORIZON = 4, 16, 4


def _batch(n: int = 64) -> torch.Tensor:
    """Raw windows: levels up to 100, a seasonal shape at a random phase, unit noise."""
    g = torch.Generator().manual_seed(3)
    t = torch.arange(CONTEXT + HORIZON, dtype=torch.float32)
    level = torch.rand(n, 1, generator=g) * 100
    shape = torch.sin(2 * torch.pi * (t / SEASON + torch.rand(n, 1, generator=g)))
    return level * (1 + 0.1 * shape) + torch.randn(n, CONTEXT + HORIZON, generator=g)


def _scaled(w: torch.Tensor) -> torch.Tensor:
    return scaled_window(w, CONTEXT, SEASON)[0]


def test_share_zero_is_the_scaled_batch_and_draws_nothing() -> None:
    w, g = _batch(), torch.Generator().manual_seed(0)
    assert torch.equal(mix_windows(w, CONTEXT, SEASON, 0.0, g), _scaled(w))
    assert torch.equal(g.get_state(), torch.Generator().manual_seed(0).get_state())


def test_mixed_windows_are_rescaled_and_the_rest_untouched() -> None:
    w = _batch()
    z = _scaled(w)
    out = mix_windows(w, CONTEXT, SEASON, 0.5, torch.Generator().manual_seed(1))
    changed = (out != z).any(dim=1)
    assert 16 <= int(changed.sum()) <= 48  # about half of 64
    loc, scale = window_scale(out[changed, :CONTEXT], SEASON)
    # a mixed window is scaled by its own history like any window: last season's mean 0 and
    # seasonal-naive MAE 1 (the one-season differences of z are those of the raw window / scale)
    assert torch.allclose(loc, torch.zeros_like(loc), atol=1e-4)
    assert torch.allclose(scale, torch.ones_like(scale), atol=1e-4)
    assert out.shape == z.shape and torch.isfinite(out).all()


def test_a_mixed_window_is_a_combination_of_two_windows() -> None:
    w = _batch(2)
    z = _scaled(w)
    out = mix_windows(w, CONTEXT, SEASON, 1.0, torch.Generator().manual_seed(0))
    # with two windows, each mixed one lies in the plane of the two originals (after re-scaling,
    # which is affine): a least-squares fit on [z0, z1, 1] reproduces it
    basis = torch.stack([z[0], z[1], torch.ones_like(z[0])], dim=1).double()
    for row in out:
        coef = torch.linalg.lstsq(basis, row.double().unsqueeze(1)).solution
        assert torch.allclose(basis @ coef, row.double().unsqueeze(1), atol=1e-4)


def test_same_seed_same_mix() -> None:
    w = _batch()
    a = mix_windows(w, CONTEXT, SEASON, 0.5, torch.Generator().manual_seed(7))
    b = mix_windows(w, CONTEXT, SEASON, 0.5, torch.Generator().manual_seed(7))
    c = mix_windows(w, CONTEXT, SEASON, 0.5, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_mixed_short_histories_are_filled_and_scaled_by_their_observed_values() -> None:
    w = _batch()
    pad = 2 * SEASON
    w[:, :pad] = float("nan")  # every history two seasons short, as a cut training window
    out = mix_windows(w, CONTEXT, SEASON, 1.0, torch.Generator().manual_seed(2))
    assert torch.isfinite(out).all()
    # filled as the graph fills one: each missing value is the same phase one season later
    for i in range(pad):
        assert torch.equal(out[:, i], out[:, pad + i % SEASON])
    # and scaled by the observed values only: last season's mean 0, their seasonal-naive MAE 1
    observed = torch.ones(out.shape[0], CONTEXT)
    observed[:, :pad] = 0
    loc, scale = window_scale(out[:, :CONTEXT], SEASON, observed)
    assert torch.allclose(loc, torch.zeros_like(loc), atol=1e-4)
    assert torch.allclose(scale, torch.ones_like(scale), atol=1e-4)


def test_mix_share_falls_from_all_to_half_with_the_panels_windows() -> None:
    """Every window mixed on a small panel, half on a large one, monotone in between."""
    from training.networks_forecast import MIX_ALL_BELOW, MIX_HALF_FROM, mix_share

    assert mix_share(1) == mix_share(MIX_ALL_BELOW) == 1.0
    assert mix_share(MIX_HALF_FROM) == mix_share(10 * MIX_HALF_FROM) == 0.5
    between = [mix_share(n) for n in range(MIX_ALL_BELOW, MIX_HALF_FROM + 1, 1000)]
    assert all(a >= b for a, b in zip(between, between[1:], strict=False))
    assert 0.5 < mix_share(int((MIX_ALL_BELOW * MIX_HALF_FROM) ** 0.5)) < 1.0
