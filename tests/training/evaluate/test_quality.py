"""The verdict (training/evaluate/quality.py, issue #15): a collapsed generator cannot pass it.
Real windows are a panel whose levels span five orders of magnitude, min-max scaled globally
(so real data also sit near zero, where the plain scores were fooled)."""

from __future__ import annotations

import numpy as np
import pytest

from training.evaluate.quality import feature_checks, quality_report, verdict, zscore_windows


def _panel(n: int, seed: int) -> np.ndarray:
    """(n, 24, 2) daily-cycle windows with levels 10**U(-2, 3), globally min-max scaled."""
    rng = np.random.default_rng(seed)
    t = np.arange(24)
    level = 10 ** rng.uniform(-2, 3, size=(n, 1, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1, 1))
    shape = 1.0 + 0.5 * np.sin(2 * np.pi * t[None, :, None] / 24 + phase)
    x = level * shape * (1 + 0.05 * rng.standard_normal((n, 24, 2)))
    return (x / 1500.0).astype(np.float32)  # the global range of both halves


@pytest.fixture(scope="module")
def halves() -> tuple[np.ndarray, np.ndarray]:
    return _panel(240, 1), _panel(240, 2)


def _report(real: np.ndarray, fake: np.ndarray, other: np.ndarray) -> dict:  # type: ignore[type-arg]
    return quality_report(
        real, fake, other, ["a", "b"], runs=5, disc_steps=200, batch_size=64, max_windows=240
    )


def test_quality_real_vs_real_passes(halves) -> None:  # type: ignore[no-untyped-def]
    real, other = halves
    report = _report(real, other, _panel(240, 3))
    assert report["verdict"]["passed"], report["verdict"]["line"]
    assert report["verdict"]["line"].startswith("PASS")
    assert len(report["discriminative_zscored"]["runs"]) == 5


@pytest.mark.parametrize(
    ("name", "make", "expected"),
    [
        ("constant", lambda r: np.full_like(r, 0.3), "spread"),
        (
            "stuck at the bottom",
            lambda r: (1e-4 * np.random.default_rng(0).random(r.shape)).astype(np.float32),
            "distinct",
        ),  # noqa: E501
        (
            "white noise",
            lambda r: np.random.default_rng(0).random(r.shape).astype(np.float32),
            "autocorrelation",
        ),  # noqa: E501
    ],
)
def test_quality_collapsed_or_noise_generators_fail(halves, name, make, expected) -> None:  # type: ignore[no-untyped-def]
    real, other = halves
    report = _report(real, make(real), other)
    v = report["verdict"]
    assert not v["passed"], f"{name} passed: {v['line']}"
    assert v["line"].startswith("FAIL")
    assert any(expected in f for f in v["failed"]), v["failed"]


def test_quality_zscored_disc_sees_the_shape_the_level_hides(halves) -> None:  # type: ignore[no-untyped-def]
    """Stuck near zero, the globally scaled windows look like most real ones; z-scored they
    are flat zeros or noise, which the classifier tells apart."""
    real, other = halves
    stuck = np.full_like(real, 1e-5)
    report = _report(real, stuck, other)
    assert report["discriminative_zscored"]["mean"] > 0.3
    assert report["discriminative_zscored_real_floor"]["mean"] < 0.1


def test_quality_zscore_windows_constant_is_zero() -> None:
    x = np.ones((2, 5, 1), dtype=np.float32)
    assert np.array_equal(zscore_windows(x), np.zeros_like(x))


def test_quality_feature_checks_skip_non_numeric(halves) -> None:  # type: ignore[no-untyped-def]
    real, other = halves
    checks = feature_checks(real, other, ["a", "b"], [True, False])
    assert checks and all(c["name"].startswith("a:") for c in checks)


def test_quality_verdict_names_each_failure() -> None:
    checks = [
        {
            "name": "x: spread (synthetic / real)",
            "value": 0.01,
            "passed": False,
            "rule": "in [0.5, 2.0]",
        },  # noqa: E501
        {"name": "y: KS statistic", "value": 0.1, "passed": True, "rule": "<= 0.2"},
    ]
    v = verdict(checks)
    assert v == {
        "passed": False,
        "line": "FAIL: 1 of 2 quality checks fail: x: spread (synthetic / real) = 0.010 (needs in [0.5, 2.0])",  # noqa: E501
        "failed": ["x: spread (synthetic / real)"],
        "collapse_suspected": True,
    }


def test_quality_too_much_spread_is_a_failure_but_not_collapse() -> None:
    rule = "in [0.5, 2.0]"
    wide = {"name": "x: spread within windows (synthetic / real)", "value": 2.4, "passed": False}
    narrow = {**wide, "value": 0.45}
    ks = {"name": "x: KS statistic", "value": 0.7, "passed": False, "rule": "<= 0.2"}
    assert verdict([{**wide, "rule": rule}, ks]) == {
        "passed": False,
        "line": "FAIL: 2 of 2 quality checks fail: x: spread within windows (synthetic / real) = "
        "2.400 (needs in [0.5, 2.0]); x: KS statistic = 0.700 (needs <= 0.2)",
        "failed": ["x: spread within windows (synthetic / real)", "x: KS statistic"],
        "collapse_suspected": False,
    }
    assert verdict([{**narrow, "rule": rule}, ks])["collapse_suspected"]
