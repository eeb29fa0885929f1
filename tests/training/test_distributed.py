"""Data-parallel training (training/distributed.py): two gloo processes on the CPU train the
same model as one process at the same global batch (every family that trains data-parallel),
rank 0 alone writes the run, and a family that cannot train data-parallel says so."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
from typer.testing import CliRunner

from rnngan.cli import app
from tests.training.helpers import (
    tiny_forecast,
    tiny_generate,
    tiny_image,
    tiny_table,
    tiny_table_forecast,
    tiny_timegan,
)
from tests.training.ranks import train_on_ranks
from training.checkpoint import load_run
from training.config import ConfigError, RunConfig, from_dict
from training.distributed import SINGLE, Shard, check_supported
from training.export import export
from training.families import DATA_PARALLEL, family_for
from training.train import train

GLOO = dist.is_available() and dist.is_gloo_available()
# Two processes average gradients in another order than one: float32 rounding only. The same
# tolerance holds for every logged loss and every generator weight of every family below.
LOSS_TOLERANCE = 1e-5
# ... except that Adam divides a gradient by its own running size: where a weight's gradient is
# float noise (near zero), the rounding's sign decides a step of up to a fraction of the learning
# rate. Which few weights that hits depends on the CPU's float kernels, so: nearly every weight
# within LOSS_TOLERANCE, none further than WEIGHT_OUTLIER (a wrong gradient average moves them
# all, and by more).
WEIGHT_OUTLIERS = 0.01
WEIGHT_OUTLIER = 1e-3


def _toml(config: RunConfig) -> str:
    """The config as TOML (scalars and lists of strings; None left out: the default)."""
    lines = []
    sections = {k: v for k, v in config.to_dict().items() if isinstance(v, dict)}
    for key, value in config.to_dict().items():
        if key not in sections and value is not None:
            lines.append(f"{key} = {json.dumps(value)}")
    for name, section in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in section.items() if v is not None]
    return "\n".join(lines) + "\n"


def _losses(run_dir: Path) -> list[dict[str, Any]]:
    text = (run_dir / "losses.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def test_shard_take_is_the_rank_block_and_single_is_identity() -> None:
    x = torch.arange(8).reshape(8, 1)
    assert Shard(rank=1, world=2).take(x).flatten().tolist() == [4, 5, 6, 7]
    assert Shard(rank=0, world=4).take(x.T, dim=1).flatten().tolist() == [0, 1]
    assert SINGLE.take(x) is x and SINGLE.gather(x) is x
    assert SINGLE.average({"d_loss": 0.5}) == {"d_loss": 0.5}
    loss = torch.tensor(0.25)
    assert SINGLE.mean(loss) is loss


def test_shard_wrap_through_is_the_call_as_forward() -> None:
    net = torch.nn.Linear(2, 1)
    x = torch.ones(3, 2)
    doubled = SINGLE.wrap(net, through=lambda m, v: 2 * m(v))
    assert list(doubled.parameters()) == list(net.parameters())
    torch.testing.assert_close(doubled(x), 2 * net(x), atol=0, rtol=0)
    assert SINGLE.wrap(net) is net


def test_distributed_unsupported_family_is_a_clear_error(tmp_path: Path) -> None:
    config = tiny_image(tmp_path)
    message = (
        "--nproc > 1 is not supported for image yet "
        "(data-parallel families: rcgan, timegan, forgan, table_gan, table_forecast)"
    )
    assert DATA_PARALLEL == ("rcgan", "timegan", "forgan", "table_gan", "table_forecast")
    with pytest.raises(ConfigError) as err:
        check_supported(config, family_for(config), 2, DATA_PARALLEL)
    assert str(err.value) == message
    (tmp_path / "tiny.toml").write_text(_toml(config))
    result = CliRunner().invoke(
        app, ["train", "--config", str(tmp_path / "tiny.toml"), "--nproc", "2"]
    )
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert not config.run_dir.exists()


def test_distributed_batch_must_split_evenly(tmp_path: Path) -> None:
    config = tiny_generate(tmp_path)  # batch_size 16
    check_supported(config, family_for(config), 4)
    with pytest.raises(ConfigError, match=r"train.batch_size=16 must be divisible by the 3 "):
        check_supported(config, family_for(config), 3)


@pytest.mark.skipif(not GLOO, reason="torch.distributed with gloo is not available")
def test_distributed_two_processes_match_one(tmp_path: Path) -> None:
    """`rnngan train --nproc 2` (DDP, gloo) gives one process's losses at the same global batch,
    rank 0 alone writes the run, and the export passes the ONNX parity check."""
    steps = 6
    single = tiny_generate(tmp_path / "one", steps=steps)
    train(single, progress=False)
    config = tiny_generate(tmp_path / "two", steps=steps)
    (tmp_path / "tiny.toml").write_text(_toml(config))
    result = CliRunner().invoke(
        app, ["train", "--config", str(tmp_path / "tiny.toml"), "--nproc", "2"]
    )
    assert result.exit_code == 0, result.output
    assert f"checkpoint: {config.run_dir / 'checkpoint.pt'}" in result.output

    # Rank 0 wrote the run and nothing else was written beside it.
    assert sorted(p.name for p in (tmp_path / "two").rglob("*")) == [
        "checkpoint.pt",
        "losses.jsonl",
        "resume.pt",
        "tiny_sines",
        "training.json",
    ]
    report = json.loads((config.run_dir / "training.json").read_text())
    assert (report["steps"], report["processes"], report["threads"]) == (steps, 2, 1)
    assert_same_run(single, config, tmp_path / "models")


def assert_same_run(
    one: RunConfig, two: RunConfig, models: Path, processes: int = 2
) -> list[dict[str, Any]]:
    """Run `two` (on `processes`) logged the losses and holds the generator weights of run `one`
    (1 process) within LOSS_TOLERANCE, and its export passes the ONNX parity check; returns
    one's losses."""
    report = json.loads((two.run_dir / "training.json").read_text())
    assert report["processes"] == processes
    first, second = _losses(one.run_dir), _losses(two.run_dir)
    assert [r["step"] for r in second] == [r["step"] for r in first]
    assert [sorted(r) for r in second] == [sorted(r) for r in first]
    for a, b in zip(first, second, strict=True):
        for name in a:
            assert b[name] == pytest.approx(a[name], abs=LOSS_TOLERANCE), (
                two.name,
                a["step"],
                name,
            )

    ckpt, ckpt_one = load_run(two.run_dir), load_run(one.run_dir)
    assert ckpt.step == ckpt_one.step
    assert list(ckpt.generator) == list(ckpt_one.generator)  # plain names, no DDP "module."
    gaps = torch.cat(
        [(w - ckpt_one.generator[name]).abs().flatten() for name, w in ckpt.generator.items()]
    )
    outliers = float((gaps > LOSS_TOLERANCE).float().mean())
    assert outliers <= WEIGHT_OUTLIERS and float(gaps.max()) <= WEIGHT_OUTLIER, (
        two.name,
        outliers,
        float(gaps.max()),
    )
    out = export(two.run_dir, models)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["metrics"]["onnx_parity_max_scaled_diff"] < 1e-5
    return first


def _train(config: RunConfig, **train: Any) -> RunConfig:
    return dataclasses.replace(config, train=dataclasses.replace(config.train, **train))


def _forgan_v1(out: Path) -> RunConfig:
    config = _train(tiny_forecast(out, steps=4), select_every=2)
    return dataclasses.replace(config, model=dataclasses.replace(config.model, kind="forgan_v1"))


def _promo_forecast(out: Path) -> RunConfig:
    """The panel forecaster of an own table with a known-future column and calendar features."""
    from examples.tables import promo_panel

    raw = tiny_table_forecast(out, steps=4).to_dict()
    promo_panel(entities=2, rows=24 * 10).to_csv(out / "promo.csv", index=False)
    data = {"path": str(out / "promo.csv"), "id_col": "store", "time_col": "time"}
    data |= {"target": "sales", "future_cols": ["promo"], "calendar": ["auto"]}
    config: RunConfig = from_dict(RunConfig, {**raw, "data": {**raw["data"], **data}})
    return config


def _timegan_observed(out: Path) -> RunConfig:
    """TimeGAN with the observation-noise map, the data-space discriminator, the relative
    first-difference, autocorrelation, cross-correlation and spread terms and held-out
    selection: two more wrapped networks and their grads."""
    config = _train(
        tiny_timegan(out, steps=6),
        d_threshold=D_THRESHOLD_DATA,
        diff_weight=1.0,
        diff_relative=True,
        acf_weight=1.0,
        acf_lags=5,
        xcorr_weight=1.0,
        spread_weight=1.0,
        data_adv_weight=1.0,
        select_every=2,
    )
    return dataclasses.replace(config, model=dataclasses.replace(config.model, noise_skip=True))


# A tiny run per family beside rcgan, each exercising what data-parallel training has to agree
# on: TimeGAN's three phases with its threshold met and then not (the discriminator updates at
# some joint steps and skips others); the own-table GAN's hard samples, masked losses and
# held-out selection, stopped early by patience (a high learning rate: its score soon turns),
# and its burn-in; both forecasters: the panel one (also with covariates on an own table,
# selecting) and ForGAN v1.
D_THRESHOLD = 1.4145
D_THRESHOLD_DATA = 1.422  # the same for the case with a data-space discriminator, for its losses
CASES: dict[str, Callable[[Path], RunConfig]] = {
    "timegan": lambda out: _train(tiny_timegan(out, steps=6), d_threshold=D_THRESHOLD),
    "timegan_observed": _timegan_observed,
    "table_gan": lambda out: _train(
        tiny_table(out, steps=12),
        select_every=1,
        patience=2,
        ema_decay=0.0,
        lr_g=0.05,
        diff_weight=1.0,
    ),
    # Each synthetic window after up to 8 steps of its run, its autocorrelation and channel
    # correlations matched (a learning rate that does not magnify float noise: Adam turns
    # near-zero gradients at 0.05 into steps of 1e-5 and more).
    "table_gan_burn_in": lambda out: _train(
        tiny_table(out, steps=4),
        burn_in=8,
        diff_weight=1.0,
        acf_weight=1.0,
        acf_lags=6,
        xcorr_weight=1.0,
        spread_weight=1.0,
    ),
    "forgan": lambda out: tiny_forecast(out, steps=4),
    "forgan_v1": _forgan_v1,
    "table_forecast": _promo_forecast,
}


@pytest.mark.skipif(not GLOO, reason="torch.distributed with gloo is not available")
def test_distributed_families_match_one_process(tmp_path: Path) -> None:
    """Every family that trains data-parallel, on 2 processes (DDP, gloo, one spawn for all):
    one process's losses and weights at the same global batch, and an export with ONNX parity."""
    one = {name: case(tmp_path / "one" / name) for name, case in CASES.items()}
    two = {name: case(tmp_path / "two" / name) for name, case in CASES.items()}
    for config in one.values():
        train(config, progress=False)
    train_on_ranks(list(two.values()))
    runs = {
        name: assert_same_run(one[name], two[name], tmp_path / "models" / name) for name in CASES
    }

    d_losses = [r["d_loss"] for r in runs["timegan"] if "d_loss" in r]
    assert min(d_losses) < D_THRESHOLD < max(d_losses)  # both branches were taken
    d_data = [r["d_loss_data"] for r in runs["timegan_observed"] if "d_loss_data" in r]
    assert min(d_data) < D_THRESHOLD_DATA < max(d_data)  # the data discriminator's too
    assert load_run(two["timegan_observed"].run_dir).selection is not None
    # Rank 0 validated and both ranks stopped at its decision, where one process stops.
    stopped = [
        json.loads((c.run_dir / "training.json").read_text())
        for c in (one["table_gan"], two["table_gan"])
    ]
    assert stopped[0]["steps_run"] == stopped[1]["steps_run"] < 12
    reason = "no better validation score in 2 checks"
    assert stopped[0]["stopped"] == stopped[1]["stopped"] == reason
    # A data-parallel run's resume.pt goes on in one process (--resume runs in one for now) as
    # one process would have: TimeGAN, its DDP wrappers saved as the plain networks.
    longer = {
        name: _train(c, steps=8) for name, c in (("one", one["timegan"]), ("two", two["timegan"]))
    }
    train(longer["one"], progress=False)
    train(longer["two"], progress=False, resume=True)
    assert_same_run(longer["one"], longer["two"], tmp_path / "models" / "resumed", processes=1)
    selected = [load_run(c.run_dir).selection for c in (one["table_gan"], two["table_gan"])]
    assert selected[0] is not None and selected[1] is not None
    # The best score came 2 checks (patience) before the stop, on both.
    assert selected[1].step == selected[0].step == stopped[0]["steps_run"] - 2
    assert selected[1].val_crps == pytest.approx(selected[0].val_crps, abs=LOSS_TOLERANCE)


class _Process:
    """A finished or running rank as `_join` sees it (no pid: nothing to signal)."""

    def __init__(self, exitcode: int | None) -> None:
        self.exitcode, self.pid, self.killed = exitcode, None, False

    def kill(self) -> None:
        self.killed = True


class _Context:
    def __init__(self, *codes: int | None) -> None:
        self.processes = [_Process(code) for code in codes]

    def join(self) -> bool:
        if any(p.exitcode not in (None, 0) for p in self.processes):
            raise RuntimeError("a rank failed")
        return True


def test_rank_jobs_end_when_all_finish_fail_fast_and_time_out() -> None:
    """The tests' rank helper: a job whose ranks all finished returns; one failed rank raises at
    once (with the survivors asked for their stacks), however long the others would wait; a
    job past its deadline is killed and fails."""
    from tests.training.ranks import _join

    _join(_Context(0, 0), "done", deadline_s=0.0)
    with pytest.raises(RuntimeError, match="a rank failed"):
        _join(_Context(None, -6), "aborted", deadline_s=60.0)
    hung = _Context(None, None)
    with pytest.raises(TimeoutError, match=r"hung: ranks still running after 0.1 s"):
        _join(hung, "hung", deadline_s=0.1)
    assert all(p.killed for p in hung.processes)
