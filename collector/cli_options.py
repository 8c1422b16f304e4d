"""Option types for the `collector` command: numbers with bounds, refused in one line.

argparse's `choices=range(...)` lists every allowed value when one is refused (a 7.6 KB
message for 1..1440); these name the bounds instead.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable

# ASCII digits, and a minus sign so that -3 is said to be out of range.
_WHOLE_NUMBER = re.compile(r"-?[0-9]+")


def whole_number(minimum: int, maximum: int) -> Callable[[str], int]:
    """An argparse type: a whole number from minimum to maximum."""

    def parse(text: str) -> int:
        try:
            # int() alone also takes other scripts' digits ('٣'), '3_0' and '+3'.
            if not _WHOLE_NUMBER.fullmatch(text.strip()):
                raise ValueError(text)
            value = int(text.strip(), 10)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text[:40]!r} is not a whole number (from {minimum} to {maximum})"
            ) from None
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(
                f"{value} is out of range: from {minimum} to {maximum}"
            )
        return value

    parse.__name__ = "whole number"  # argparse names the type in some messages
    return parse


def seconds(minimum: float, maximum: float) -> Callable[[str], float]:
    """An argparse type: a finite number of seconds from minimum to maximum."""

    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text[:40]!r} is not a number of seconds (from {minimum:g} to {maximum:g})"
            ) from None
        if not math.isfinite(value) or not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(
                f"{text[:40]} is out of range: from {minimum:g} to {maximum:g} seconds"
            )
        return value

    parse.__name__ = "seconds"
    return parse
