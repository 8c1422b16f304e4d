"""Pieces of `collector serve` that do not need a running server."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from collector.runner import DataDirectoryBusy, data_directory_lock, serve_consumer_name
from collector.settings import Settings
from tests.helpers import run_cli


def test_serve_consumer_name_is_stable_per_data_directory(tmp_path: Path) -> None:
    one = Settings(data_dir=tmp_path / "one")
    assert serve_consumer_name(one) == serve_consumer_name(replace(one, port=9000))
    assert serve_consumer_name(one) != serve_consumer_name(Settings(data_dir=tmp_path / "two"))
    assert serve_consumer_name(one).startswith("serve-")


def test_one_collector_per_data_directory(tmp_path: Path) -> None:
    with (
        data_directory_lock(tmp_path),
        pytest.raises(DataDirectoryBusy, match="stop it first"),
        data_directory_lock(tmp_path),
    ):
        pass
    with data_directory_lock(tmp_path):  # released again
        pass


def test_snippet_command_uses_the_layout_height(tmp_path: Path) -> None:
    # The demo service (two questions) exists once `collector serve` ran; seed it here.
    from tests.e2e.browser import seed_services

    seed_services(tmp_path)
    full = run_cli(tmp_path, "snippet", "q2")
    assert full.returncode == 0, full.stderr
    note, iframe = full.stdout.splitlines()
    assert note.startswith("<!-- To rate each transaction at most once, add t=")
    assert iframe.startswith('<iframe src="https://feedback.example.gov/w/q2"')
    assert 'height="680"' in full.stdout
    compact = run_cli(tmp_path, "snippet", "q2", "--layout", "compact")
    assert 'src="https://feedback.example.gov/w/q2?layout=compact"' in compact.stdout
    assert 'height="120"' in compact.stdout
    missing = run_cli(tmp_path, "snippet", "nothing")
    assert missing.returncode == 1
    assert "no service 'nothing'" in missing.stderr


def test_snippet_of_a_service_that_requires_tokens(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "tenant", "add", "t", "--name", "T").returncode == 0
    added = run_cli(
        tmp_path,
        *("service", "add", "appeals", "--tenant", "t", "--name", "Appeals", "--config", "-"),
        stdin='{"token_policy": "required", "layout": "compact"}',
    )
    assert added.returncode == 0, added.stderr
    note, iframe = run_cli(tmp_path, "snippet", "appeals").stdout.splitlines()
    assert "replaces TRANSACTION_TOKEN" in note
    assert 'src="https://feedback.example.gov/w/appeals?t=TRANSACTION_TOKEN"' in iframe
    layout = run_cli(tmp_path, "snippet", "appeals", "--layout", "full").stdout
    assert "/w/appeals?layout=full&amp;t=TRANSACTION_TOKEN" in layout
