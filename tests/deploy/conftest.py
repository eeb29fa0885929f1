"""Markers for the deployment checks."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "slow: a pip install into a fresh virtual environment (tens of seconds with a warm pip "
        "cache); deselect with -m 'not slow'",
    )
