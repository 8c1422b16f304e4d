"""Numeric options of the `collector` command: a bad value is refused in one line that
names the option and its bounds, before any configuration or storage is touched."""

from __future__ import annotations

import pytest

from collector.cli import main
from collector.cli_options import whole_number

CASES = [
    (["dashboard-link", "--minutes", "99999"], "--minutes: 99999 is out of range: from 1 to 1440"),
    (["dashboard-link", "--minutes", "0"], "--minutes: 0 is out of range: from 1 to 1440"),
    (["dashboard-link", "--minutes", "ten"], "--minutes: 'ten' is not a whole number"),
    (["dashboard-link", "--minutes", "1.5"], "--minutes: '1.5' is not a whole number"),
    # Only ASCII digits: int() alone takes other scripts' digits, underscores and a plus.
    (["dashboard-link", "--minutes", "٣"], "--minutes: '٣' is not a whole number"),
    (["dashboard-link", "--minutes", "\uff11\uff15"], "--minutes: '\uff11\uff15' is not a whole"),
    (["dashboard-link", "--minutes", "3_0"], "--minutes: '3_0' is not a whole number"),
    (["dashboard-link", "--minutes", "+3"], "--minutes: '+3' is not a whole number"),
    (["token", "--days", "- 3"], "--days: '- 3' is not a whole number"),
    (["token", "--days", "100000"], "--days: 100000 is out of range: from 1 to 366"),
    (["token", "--days", "-3"], "--days: -3 is out of range: from 1 to 366"),
    (["serve", "--workers", "65"], "--workers: 65 is out of range: from 1 to 64"),
    (["serve", "--port", "70000"], "--port: 70000 is out of range: from 1 to 65535"),
    (["serve", "--port", "0"], "--port: 0 is out of range: from 1 to 65535"),
    (["flush", "--concurrency", "33"], "--concurrency: 33 is out of range: from 1 to 32"),
    # Past Python's 4,300-digit limit: quoted, cut to 40 characters.
    (["flush", "--concurrency", "1" * 5000], "--concurrency: '" + "1" * 40 + "' is not"),
    (
        ["erase", "--service", "s", "--transaction", "t", "--wait", "nan"],
        "--wait: nan is out of range: from 0 to 3600 seconds",
    ),
    (
        ["erase", "--service", "s", "--transaction", "t", "--wait", "1e9"],
        "--wait: 1e9 is out of range: from 0 to 3600 seconds",
    ),
    (
        ["erase", "--service", "s", "--transaction", "t", "--wait", "soon"],
        "--wait: 'soon' is not a number of seconds",
    ),
]


@pytest.mark.parametrize(("arguments", "message"), CASES)
def test_a_bad_number_is_refused_in_one_short_line(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(arguments)
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert message in error
    last_line = error.strip().splitlines()[-1]
    assert last_line.startswith("collector ")
    assert len(error) < 600, error


@pytest.mark.parametrize(
    ("value", "expected"), [("1", 1), ("1440", 1440), (" 15 ", 15), ("007", 7)]
)
def test_bounds_are_inclusive(value: str, expected: int) -> None:
    assert whole_number(1, 1440)(value) == expected
