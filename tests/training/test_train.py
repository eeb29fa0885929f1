from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from tests.training.helpers import tiny_forecast, tiny_generate, tiny_timegan
from training.checkpoint import CHECKPOINT, load_run
from training.export import export
from training.families import build_graph, family_for
from training.train import train
from training.window_terms import diff_loss


@pytest.mark.parametrize(
    ("make", "steps"),
    [(tiny_generate, 2), (tiny_forecast, 2), (tiny_timegan, 6)],
    ids=["generate", "forecast", "timegan"],
)
def test_train_two_steps_same_seed_same_losses(tmp_path: Path, make, steps: int) -> None:  # type: ignore[no-untyped-def]
    first = train(make(tmp_path / "a"), progress=False)
    second = train(make(tmp_path / "b"), progress=False)
    assert len(first) == steps
    assert first == second
    other = train(make(tmp_path / "c", seed=1), progress=False)
    assert other != first


def test_train_saves_checkpoint_with_config_and_logs(tmp_path: Path) -> None:
    config = tiny_generate(tmp_path)
    train(config, progress=False)
    ckpt = torch.load(config.run_dir / CHECKPOINT, weights_only=False)
    assert ckpt["config"] == config.to_dict()
    assert ckpt["step"] == 2
    lines = (config.run_dir / "losses.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [1, 2]
    assert set(json.loads(lines[0])) == {"step", "d_loss", "g_adversarial", "g_moment"}


def test_train_timegan_runs_its_three_phases_in_order(tmp_path: Path) -> None:
    history = train(tiny_timegan(tmp_path), progress=False)
    keys = [set(h) - {"step"} for h in history]
    assert keys[0] == keys[1] == {"e_reconstruction"}
    assert keys[2] == keys[3] == {"s_supervised"}
    assert keys[4] == {
        "g_adversarial",
        "g_adversarial_e",
        "g_supervised",
        "g_moment",
        "e_reconstruction",
        "d_loss",
    }


def test_timegan_autocorrelation_term_joins_the_joint_steps_only(tmp_path: Path) -> None:
    """`train.acf_weight` adds `g_acf` to the joint steps (lags cut to the window's length - 1)
    and changes what the generator learns; the first two phases are untouched."""
    base = tiny_timegan(tmp_path / "off")
    plain = train(base, progress=False)
    lags = base.data.seq_len + 5  # more than the window has
    config = dataclasses.replace(
        base,
        out_dir=tmp_path / "on",
        train=dataclasses.replace(base.train, acf_weight=10.0, acf_lags=lags),
    )
    from training.families.timegan import TimeGANTrainer

    assert (
        TimeGANTrainer(config, torch.Generator().manual_seed(0)).acf_lags == base.data.seq_len - 1
    )
    history = train(config, progress=False)
    assert history[:4] == plain[:4]  # embedding and supervised steps as before
    joint = [h for h in history if "g_adversarial" in h]
    assert joint and all(h["g_acf"] >= 0 for h in joint)
    assert all("g_acf" not in h for h in plain)
    assert joint[-1]["g_moment"] != plain[-1]["g_moment"]


def test_timegan_noise_skip_trains_and_exports(tmp_path: Path) -> None:
    """The observation-noise path starts at zero, is trained by the data-space terms (moment,
    relative first differences) and exports to ONNX with the rest of the generator."""
    base = tiny_timegan(tmp_path / "runs", steps=6)
    config = dataclasses.replace(
        base,
        name="tiny_skip",
        model=dataclasses.replace(base.model, noise_skip=True),
        train=dataclasses.replace(
            base.train, diff_weight=1.0, diff_relative=True, data_adv_weight=1.0, acf_weight=1.0
        ),
    )
    train(config, progress=False)
    ckpt = load_run(config.run_dir)
    assert ckpt.generator["skip.weight"].abs().sum() > 0
    out = export(config.run_dir, tmp_path / "models", force=True)
    example = family_for(config).example_inputs(ckpt, 3, 17)
    with torch.no_grad():
        expected = build_graph(ckpt)(*example.values()).numpy()
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {k: v.numpy() for k, v in example.items()})
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


def test_relative_first_differences_weigh_smooth_channels_alike() -> None:
    """Channel 0 smooth (real roughness 0.01, synthetic 0.03), channel 1 noisy (1.0 vs 1.1):
    the absolute gap hardly sees the smooth channel's threefold error, the relative one does."""
    g = torch.Generator().manual_seed(0)

    def walk(scale: float) -> torch.Tensor:
        return torch.cumsum(torch.randn(4000, 24, generator=g) * scale, dim=1)

    real = torch.stack([walk(0.01), walk(1.0)], dim=-1)
    fake = torch.stack([walk(0.03), walk(1.1)], dim=-1)
    only_smooth = torch.stack([walk(0.03), walk(1.0)], dim=-1)
    absolute = [diff_loss(real, x).item() for x in (fake, only_smooth)]
    relative = [diff_loss(real, x, relative=True).item() for x in (fake, only_smooth)]
    assert absolute[1] < 0.02 < absolute[0]  # the noisy channel's gap dominates
    assert relative[1] > 0.5 and relative[0] > relative[1]  # log 3 / 2 from the smooth one
