"""Window statistics matched in both generator families (training/window_terms.py): the
cross-correlation term (`train.xcorr_weight`, how channels move together) and the within-window
spread term (`train.spread_weight`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from tests.training.helpers import tiny_table, tiny_timegan
from training.provenance import recorded_config
from training.train import train
from training.window_terms import cross_correlation_loss


def _pair(coupling: float, n: int = 256) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, 24, 1, generator=g)
    b = torch.randn(n, 24, 1, generator=g)
    return torch.cat([a, coupling * a + b], dim=-1)  # corr = c / sqrt(1 + c²)


def test_cross_correlation_loss_sees_coupling_not_marginals() -> None:
    coupled = _pair(3.0)  # corr ≈ 0.95
    assert cross_correlation_loss(coupled, coupled) == 0
    # Scaled and shifted channels: the same correlation, no gap.
    assert cross_correlation_loss(coupled, 5 * coupled + 2) < 1e-4
    loose = cross_correlation_loss(coupled, _pair(0.0))
    assert 1.8 < loose < 2.0  # about 0.95 over all steps and 0.95 within windows
    assert cross_correlation_loss(coupled[..., :1], _pair(0.0)[..., :1]) == 0  # one channel


def test_cross_correlation_loss_sees_coupling_within_windows() -> None:
    """Two channels sharing each window's level (corr ≈ 0.99 over all steps either way):
    moving together within the windows (real) or not (synthetic) is a gap of about 1."""
    g = torch.Generator().manual_seed(1)
    level = 10 * torch.randn(512, 1, 1, generator=g).expand(-1, 24, 1)
    a, b = (torch.randn(512, 24, 1, generator=g) for _ in range(2))
    real = torch.cat([level + a, level + a + 0.1 * b], dim=-1)
    fake = torch.cat([level + a, level + b], dim=-1)
    assert 0.9 < cross_correlation_loss(real, fake) < 1.05


def test_cross_correlation_loss_leaves_out_padded_steps() -> None:
    real, fake = _pair(3.0), _pair(3.0)
    valid = torch.ones(real.shape[:2])
    valid[:, 12:] = 0
    fake[:, 12:] = torch.randn(fake.shape[0], 12, 2)  # padding: anything
    assert cross_correlation_loss(real, fake, valid) < 1e-6
    assert cross_correlation_loss(real, fake) > 0.1


def test_both_generator_families_train_with_the_term(tmp_path: Path) -> None:
    for make, first_joint in ((tiny_timegan, 4), (tiny_table, 0)):
        base = make(tmp_path / make.__name__)
        config = dataclasses.replace(base, train=dataclasses.replace(base.train, xcorr_weight=10.0))
        history = train(config, progress=False)
        assert all(h["g_xcorr"] >= 0 for h in history[first_joint:]), make.__name__
        assert recorded_config(config.to_dict())["train"]["xcorr_weight"] == 10.0


def test_own_tables_match_channel_correlations_by_default(tmp_path: Path) -> None:
    from training.config_tables import table_config

    assert table_config(tmp_path / "t.csv", id_col="id").train.xcorr_weight == 10.0


def test_one_channel_tables_train_as_without_the_term(tmp_path: Path) -> None:
    """A table with one modelled channel has no pair to correlate: the term changes nothing,
    down to the bits (the example etth1_long is such a table)."""
    from training.checkpoint import load_run

    weights = []
    for weight in (0.0, 10.0):
        config = tiny_table(tmp_path / str(weight), steps=3)
        config = dataclasses.replace(
            config,
            data=dataclasses.replace(config.data, columns=["visitors"], bounds=[]),
            train=dataclasses.replace(config.train, xcorr_weight=weight),
        )
        history = train(config, progress=False)
        assert all(h.get("g_xcorr", 0.0) == 0.0 for h in history)
        weights.append(load_run(config.run_dir).generator)
    for name, value in weights[0].items():
        assert torch.equal(value, weights[1][name]), name


def test_window_spread_loss_sees_wandering_not_levels() -> None:
    from training.window_terms import window_spread_loss

    g = torch.Generator().manual_seed(2)
    level = 10 * torch.randn(256, 1, 2, generator=g)
    steps = torch.randn(256, 24, 2, generator=g)
    real = level + steps
    assert window_spread_loss(real, real) == 0
    assert window_spread_loss(real, level + 0.5 * steps) > 0.6  # about log 2
    assert window_spread_loss(real, 3 * level + steps) < 0.02  # levels: not its business
    valid = torch.ones(256, 24)
    valid[:, 12:] = 0
    padded = real.clone()
    padded[:, 12:] = 100.0
    assert window_spread_loss(real, padded, valid) < 1e-6


def test_both_generator_families_train_with_the_spread_term(tmp_path: Path) -> None:
    for make, first_joint in ((tiny_timegan, 4), (tiny_table, 0)):
        base = make(tmp_path / make.__name__)
        config = dataclasses.replace(
            base, train=dataclasses.replace(base.train, spread_weight=10.0)
        )
        history = train(config, progress=False)
        assert all(h["g_spread"] >= 0 for h in history[first_joint:]), make.__name__
        assert recorded_config(config.to_dict())["train"]["spread_weight"] == 10.0


def test_window_terms_bounded_on_a_collapsed_channel_and_free_of_units() -> None:
    """A synthetic batch that is a constant (a collapsed generator) gets finite, small
    gradients (the floors come from the real batch), and scaling both batches alike changes no
    term (the floors are relative)."""
    from training.window_terms import autocorrelation_loss, window_spread_loss

    g = torch.Generator().manual_seed(3)
    real = torch.rand(64, 24, 3, generator=g)
    collapsed = 0.5 + 1e-7 * torch.randn(64, 24, 3, generator=g)
    terms = {
        "acf": lambda r, f: autocorrelation_loss(r, f, 5),
        "spread": window_spread_loss,
        "xcorr": cross_correlation_loss,
    }
    other = torch.rand(64, 24, 3, generator=g) ** 2
    for name, term in terms.items():
        fake = collapsed.clone().requires_grad_(True)
        loss = term(real, fake)
        loss.backward()
        assert fake.grad is not None and torch.isfinite(fake.grad).all(), name
        assert fake.grad.abs().max() < 1.0, (name, fake.grad.abs().max())
        scaled = term(1000 * real, 1000 * other)
        assert torch.isclose(scaled, term(real, other), rtol=1e-4), name
