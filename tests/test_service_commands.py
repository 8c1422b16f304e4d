"""`collector tenant` and `collector service`, run as a person would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import run_cli

PERMITS_CONFIG = json.dumps(
    {
        "names": {"ru": "Разрешения"},
        "questions": ["resolved", "duration"],
        "layout": "compact",
        "theme": {"accent": "#1d4d2b", "radius": 8},
    }
)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    assert run_cli(tmp_path, "tenant", "add", "city-hall", "--name", "City hall").returncode == 0
    return tmp_path


def test_add_list_show_update(data_dir: Path) -> None:
    added = run_cli(
        data_dir,
        *("service", "add", "permits", "--tenant", "city-hall", "--name", "Permits"),
        *("--default-language", "ru", "--config", "-"),
        stdin=PERMITS_CONFIG,
    )
    assert (added.returncode, added.stdout) == (0, "service permits saved\n"), added.stderr
    listed = run_cli(data_dir, "service", "list").stdout
    assert listed == "permits\tcity-hall\tcompact\tresolved,duration\tPermits\n"
    shown = json.loads(run_cli(data_dir, "service", "show", "permits").stdout)
    assert shown["default_language"] == "ru"
    assert shown["config"]["theme"] == {"accent": "#1d4d2b", "radius": 8, "font": "system"}
    renamed = run_cli(data_dir, "service", "update", "permits", "--name", "Building permits")
    assert renamed.returncode == 0
    shown = json.loads(run_cli(data_dir, "service", "show", "permits").stdout)
    assert shown["name"] == "Building permits"
    assert shown["config"]["layout"] == "compact"  # untouched by a name change


@pytest.mark.parametrize(
    ("arguments", "stdin", "message"),
    [
        (
            ("service", "add", "Bad Slug", "--tenant", "city-hall", "--name", "X"),
            None,
            "service slug 'Bad Slug': use 1 to 63 lower-case letters",
        ),
        (
            ("service", "add", "x", "--tenant", "nobody", "--name", "X"),
            None,
            "no tenant 'nobody': create it with `collector tenant add`",
        ),
        (
            ("service", "add", "x", "--tenant", "city-hall", "--name", "X", "--config", "-"),
            '{"theme": {"accent": "#ffff00"}}',
            "contrast 1.07:1",
        ),
        (
            ("service", "add", "x", "--tenant", "city-hall", "--name", "X", "--config", "-"),
            "{not json",
            "invalid configuration in -",
        ),
        (
            ("service", "add", "x", "--tenant", "city-hall", "--name", "X", "--config", "/nope"),
            None,
            "cannot read /nope",
        ),
        (("service", "update", "ghost", "--name", "X"), None, "no service 'ghost'"),
        (("service", "show", "ghost"), None, "no service 'ghost'"),
        (("tenant", "add", "City Hall", "--name", "X"), None, "tenant id 'City Hall'"),
        (("tenant", "add", "tax\n", "--name", "X"), None, "tenant id 'tax\\n'"),
        (
            ("tenant", "add", "tax", "--name", "Tax\x01office"),
            None,
            "--name: holds the control character U+0001 at position 4",
        ),
        (
            # Bytes that are no UTF-8 reach Python as lone surrogates.
            ("tenant", "add", "tax", "--name", "Tax \udcff"),
            None,
            "--name: holds the control character U+DCFF at position 5",
        ),
        (("tenant", "add", "tax", "--name", " \t "), None, "--name: must not be empty"),
        (
            ("service", "add", "x", "--tenant", "city-hall", "--name", "X\u202e"),
            None,
            "--name: holds the control character U+202E at position 2",
        ),
        (
            ("service", "add", "x", "--tenant", "city-hall", "--name", "X", "--config", "-"),
            '{"names": {"en": "A\\u0000B"}}',
            "--config -: names.en: holds the control character U+0000 at position 2",
        ),
        (
            ("service", "add", "x", "--tenant", "city-hall", "--name", "X", "--config", "-"),
            '{"questions": ["easy"], "question_texts": {"ru": {"easy": "\\u0085"}}}',
            "--config -: question_texts.ru.easy: holds the control character U+0085",
        ),
    ],
)
def test_mistakes_are_explained_and_nothing_is_written(
    data_dir: Path, arguments: tuple[str, ...], stdin: str | None, message: str
) -> None:
    result = run_cli(data_dir, *arguments, stdin=stdin)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert run_cli(data_dir, "service", "list").stdout == ""


def test_adding_twice_is_refused(data_dir: Path) -> None:
    command = ("service", "add", "permits", "--tenant", "city-hall", "--name", "Permits")
    assert run_cli(data_dir, *command).returncode == 0
    again = run_cli(data_dir, *command)
    assert again.returncode == 2
    assert "exists: use `service update`" in again.stderr
