"""Text cells that spreadsheet programs show as text, never run as formulas."""

from __future__ import annotations

# A cell starting with one of these is read as a formula (OWASP: CSV injection).
_FORMULA_STARTS = frozenset("=+-@\t\r")


def safe_cell(value: str) -> str:
    """The text with a leading apostrophe when a spreadsheet would run it. Leading
    spaces and line breaks are looked past: some spreadsheets skip them first."""
    if value[:1] in _FORMULA_STARTS or value.lstrip()[:1] in _FORMULA_STARTS:
        return "'" + value
    return value
