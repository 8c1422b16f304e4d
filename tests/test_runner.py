"""Pieces of `collector serve` that do not need a running server."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from collector.runner import DataDirectoryBusy, data_directory_lock, serve_consumer_name
from collector.settings import Settings


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
