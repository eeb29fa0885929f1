"""The rule a forecaster's 80 % interval is judged by: in the verdict `rnngan evaluate` writes
(training/evaluate/versus.py) and on the model card for a verdict stored before the rule
existed (service/card_quality.py). Plain values, no dependencies."""

from __future__ import annotations

from typing import Literal

# The 80 % interval's coverage on the test windows: outside COVERAGE_RANGE the verdict warns;
# outside COVERAGE_FAR it fails. For a Gaussian, 0.60 and 0.95 are intervals about 1.5 times too
# narrow and too wide (z 0.84 and 1.96 against 1.28), 0.75 and 0.85 about 1.1 times.
COVERAGE_RANGE = (0.75, 0.85)
COVERAGE_FAR = (0.60, 0.95)


def judge_coverage(coverage: float) -> tuple[Literal["fail", "warn"], str] | None:
    """("fail", "outside 0.60–0.95") or ("warn", "outside 0.75–0.85") for an 80 % coverage off
    the rule (NaN fails), None within 0.75-0.85. Judge the value as it is printed (3 places)."""
    if not COVERAGE_FAR[0] <= coverage <= COVERAGE_FAR[1]:  # NaN too
        return "fail", f"outside {COVERAGE_FAR[0]:.2f}–{COVERAGE_FAR[1]:.2f}"
    if not COVERAGE_RANGE[0] <= coverage <= COVERAGE_RANGE[1]:
        return "warn", f"outside {COVERAGE_RANGE[0]:.2f}–{COVERAGE_RANGE[1]:.2f}"
    return None
