"""Cells no spreadsheet runs as a formula, in exports and open data."""

from __future__ import annotations

import pytest

from collector.spreadsheet import safe_cell


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+7 900", "'+7 900"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        (" =1+1", "' =1+1"),
        ("\n=cmd", "'\n=cmd"),
        ("fine = good", "fine = good"),
        ("", ""),
    ],
)
def test_cells_never_start_a_formula(value: str, expected: str) -> None:
    assert safe_cell(value) == expected


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\rx", "'\rx"),
        ("  =1", "'  =1"),
        ("Parking permits", "Parking permits"),
        ("1-2", "1-2"),
        ("", ""),
    ],
)
def test_safe_cell(text: str, safe: str) -> None:
    assert safe_cell(text) == safe
