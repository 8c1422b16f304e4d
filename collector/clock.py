"""The clock: seconds since the epoch, read through one injected function wherever a
rating's moment or a calendar day is decided, so that tests can choose the date.

Durations that guard security (token expiry, form age, fill time) stay on the wall
clock, as the token libraries and Redis's own expiry do.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeAlias

Clock: TypeAlias = Callable[[], float]


def wall_clock() -> float:
    """The system's time now."""
    return time.time()
