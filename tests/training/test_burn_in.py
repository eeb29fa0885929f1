"""Own-table generation past one window: training windows compared after the steps that come
before them in their entity (`train.burn_in`, training/families/table_gan.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.training.helpers import tiny_table
from training.checkpoint import load_run
from training.data.tables import make_windows
from training.families.table_gan import TableGAN
from training.provenance import recorded_config
from training.train import train


def test_windows_know_where_they_start_in_their_entity() -> None:
    entities = [
        (np.zeros((10, 2), np.float32), np.zeros(1, np.float32)),
        (np.zeros((3, 2), np.float32), np.ones(1, np.float32)),  # shorter: one padded window
    ]
    windows, valid, _, starts = make_windows(entities, seq_len=4, stride=3)
    assert starts.tolist() == [0, 3, 6, 0]
    assert windows.shape == (4, 4, 2) and valid[-1].tolist() == [1, 1, 1, 0]


def _trainer(tmp_path: Path, burn_in: int, head: str = "coupled"):  # type: ignore[no-untyped-def]
    config = tiny_table(tmp_path)
    config = dataclasses.replace(
        config,
        model=dataclasses.replace(config.model, table_head=head),
        train=dataclasses.replace(config.train, burn_in=burn_in),
    )
    return TableGAN().trainer(config, torch.Generator().manual_seed(0))


@pytest.mark.parametrize("head", ["coupled", "independent"])
def test_generator_runs_the_steps_before_each_window(tmp_path: Path, head: str) -> None:
    trainer = _trainer(tmp_path, burn_in=8, head=head)
    starts = torch.from_numpy(trainer.data.starts)
    assert int(starts.max()) > 8  # the tiny table has windows far into their entities
    assert torch.equal(trainer.burn, starts.clamp(max=8))
    real, _, cond, burn, noise, *uniforms = trainer._batch()
    length = trainer.windows.shape[1]
    assert noise.shape[1] == length + int(burn.max()) and int(burn.max()) == 8
    # The independent head's uniforms are as long as the noise; the coupled head has none.
    assert [u.shape[1] for u in uniforms] == [noise.shape[1]] * len(uniforms)
    assert bool(uniforms) == (head == "independent")
    fake = trainer._crop(trainer.sampler(noise, cond, 0.5, uniforms), burn)
    assert fake.shape == real.shape
    # Each row's window is the end of its own run: steps burn .. burn + T of it.
    full = torch.arange(4 * 20 * 3, dtype=torch.float32).reshape(4, 20, 3)
    rows = torch.tensor([0, 3, 8, 5])
    cropped = trainer._crop(full, rows)
    assert cropped.shape == (4, length, 3)
    for i, b in enumerate(rows.tolist()):
        assert torch.equal(cropped[i], full[i, b : b + length])


def test_without_burn_in_every_window_starts_the_run(tmp_path: Path) -> None:
    trainer = _trainer(tmp_path, burn_in=0)
    assert int(trainer.burn.max()) == 0
    _, _, _, _, noise, *_ = trainer._batch()
    assert noise.shape[1] == trainer.windows.shape[1]


def test_training_with_burn_in_selects_and_records_it(tmp_path: Path) -> None:
    config = tiny_table(tmp_path, steps=4)
    config = dataclasses.replace(
        config, train=dataclasses.replace(config.train, burn_in=8, select_every=2)
    )
    train(config, progress=False)
    ckpt = load_run(config.run_dir)
    assert ckpt.selection is not None and np.isfinite(ckpt.selection.val_crps)
    assert recorded_config(config.to_dict())["train"]["burn_in"] == 8
    # Not an option of other families: not recorded on them.
    other = config.to_dict()
    other["data"]["dataset"] = "energy"
    assert "burn_in" not in recorded_config(other)["train"]


def test_entities_within_one_window_train_as_without_burn_in(tmp_path: Path) -> None:
    """Every window of a table whose entities fit in one window starts its entity: burn-in
    changes nothing there, down to the bits; the autocorrelation term applies all the same."""
    weights = []
    for burn_in in (0, 8):
        config = tiny_table(tmp_path / str(burn_in), steps=3)
        config = dataclasses.replace(
            config,
            data=dataclasses.replace(config.data, seq_len=0),
            train=dataclasses.replace(config.train, burn_in=burn_in, acf_weight=10.0, acf_lags=24),
        )
        trainer = TableGAN().trainer(config, torch.Generator().manual_seed(0))
        assert int(trainer.burn.max()) == 0  # every window is a whole entity
        assert trainer.acf_lags == 24  # and the autocorrelation term is on all the same
        train(config, progress=False)
        weights.append(load_run(config.run_dir).generator)
    assert weights[0].keys() == weights[1].keys()
    for name, value in weights[0].items():
        assert torch.equal(value, weights[1][name]), name


def test_bad_burn_in_and_autocorrelation_settings_are_named(tmp_path: Path) -> None:
    from training.config import ConfigError

    config = tiny_table(tmp_path)
    for bad, message in (
        ({"burn_in": -1}, "train.burn_in"),
        ({"acf_weight": 1.0, "acf_lags": 0}, "train.acf_lags"),
        ({"xcorr_weight": -1.0}, "train.xcorr_weight"),
        ({"spread_weight": -0.5}, "train.spread_weight"),
    ):
        with pytest.raises(ConfigError, match=message):
            dataclasses.replace(config, train=dataclasses.replace(config.train, **bad))


def test_autocorrelation_term_sees_the_period_and_ignores_padding() -> None:
    from training.window_terms import autocorrelation_loss

    t = torch.arange(48, dtype=torch.float32)
    slow = torch.sin(2 * torch.pi * t / 24)[None, :, None].repeat(4, 1, 1)
    fast = torch.sin(2 * torch.pi * t / 6)[None, :, None].repeat(4, 1, 1)
    valid = torch.ones(4, 48)
    assert float(autocorrelation_loss(slow, slow, 12, valid, [0])) == 0.0
    assert float(autocorrelation_loss(slow, fast, 12, valid, [0])) > 0.5
    # Padded steps (after the real ones) change nothing, whatever they hold.
    short = valid.clone()
    short[:, 30:] = 0.0
    noisy = slow.clone()
    noisy[:, 30:] = torch.randn(4, 18, 1)
    a = autocorrelation_loss(slow * short[..., None], fast, 12, short, [0])
    b = autocorrelation_loss(noisy, fast, 12, short, [0])
    assert torch.allclose(a, b)


def test_autocorrelation_term_applies_to_windows_cut_from_longer_entities(tmp_path: Path) -> None:
    config = tiny_table(tmp_path)  # 12-row windows of ~55-row entities
    config = dataclasses.replace(
        config, train=dataclasses.replace(config.train, acf_weight=1.0, acf_lags=24)
    )
    trainer = TableGAN().trainer(config, torch.Generator().manual_seed(0))
    assert trainer.acf_lags == 11  # at most the window's length - 1


def test_cli_burn_in_is_one_window_of_the_chosen_length(tmp_path: Path) -> None:
    """`rnngan train --data` burns in one window: 96 rows by default, `--seq-len` rows when set."""
    from training.config_tables import AUTO_BURN_IN, table_config

    data = tmp_path / "t.csv"
    assert table_config(data, id_col="id").train.burn_in == AUTO_BURN_IN
    assert table_config(data, id_col="id", seq_len=48).train.burn_in == 48


def test_hide_missing_keeps_values_where_missing_from_the_discriminator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where a column is missing the real channel holds the codec's interpolation and the
    synthetic one what the generator made; with `hide_missing` (an ablation's switch, off by
    default) the discriminator judges neither."""
    from rnngan.core.tables.spec import channel_layout
    from training.families.table_gan import TableTrainer

    config = tiny_table(tmp_path)
    monkeypatch.setattr(TableTrainer, "hide_missing", True)  # the ablation's switch
    trainer = TableGAN().trainer(config, torch.Generator().manual_seed(0))
    layout = channel_layout(trainer.data.spec)
    value, mask = layout.values["humidity"].start, layout.masks["humidity"]
    x, cond = trainer.windows[:4].clone(), trainer.conditions[:4]
    x[..., mask] = (torch.arange(x.shape[1]) % 3 != 0).float()  # missing every third step
    missing = x[..., mask] == 0
    elsewhere = x.clone()
    elsewhere[..., value][missing] = 0.123  # another value, at missing steps only
    observed = x.clone()
    observed[..., value][~missing] += 0.1  # another value where observed
    with torch.no_grad():
        assert torch.equal(trainer._judge(x, cond), trainer._judge(elsewhere, cond))
        assert not torch.equal(trainer._judge(x, cond), trainer._judge(observed, cond))
        monkeypatch.setattr(TableTrainer, "hide_missing", False)  # the default
        seen = TableGAN().trainer(config, torch.Generator().manual_seed(0))
        assert not torch.equal(seen._judge(x, cond), seen._judge(elsewhere, cond))


def test_path_terms_see_the_coupled_heads_flags_and_masks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The coupled head draws flags and missing-value masks itself: their flips and their
    autocorrelation are matched like the numbers'. The independent head's graph emits
    probabilities there, so its terms keep to the numbers."""
    from rnngan.core.tables.spec import channel_layout
    from training.families.table_gan import TableTrainer

    config = tiny_table(tmp_path)
    rng = torch.Generator().manual_seed(0)
    trainer = TableGAN().trainer(config, rng)
    layout = channel_layout(trainer.data.spec)
    flags = {layout.values["open"].start, layout.masks["humidity"]}
    numbers = {layout.values["visitors"].start, layout.values["humidity"].start}
    assert flags | numbers == set(trainer.numeric_channels)
    independent = dataclasses.replace(
        config, model=dataclasses.replace(config.model, table_head="independent")
    )
    assert set(TableGAN().trainer(independent, rng).numeric_channels) == numbers
    monkeypatch.setattr(TableTrainer, "flag_terms", False)  # the ablation's switch
    assert set(TableGAN().trainer(config, rng).numeric_channels) == numbers
