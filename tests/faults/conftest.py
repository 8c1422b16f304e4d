"""Fault tests: crashes and outages of real processes under load."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # CI runs them all; `-m "not slow"` leaves out the ones that take half a minute or more.
    config.addinivalue_line("markers", "slow: a fault test that runs for 20 s or more")
