"""Reconciling what the collector acknowledged with what storage holds (SQLite).

Every POST of the fault tests carries a unique marker as its comment. After a run:
every marker that got a 303 is stored exactly once, no marker is stored twice, nothing
is stored that was never sent, and the daily rollups count exactly the stored rows.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from tests.faults.load import Outcomes

SERVICE = "demo-passport"


def _connect(database: Path) -> contextlib.closing[sqlite3.Connection]:
    # Read-only: the tests look, the collector writes.
    return contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30))


def stored_markers(database: Path, prefix: str) -> Counter[str]:
    """How many rows each marker of one run has in storage."""
    with _connect(database) as connection:
        rows = connection.execute(
            "SELECT comment, count(*) FROM ratings WHERE comment LIKE ? GROUP BY comment",
            (prefix.replace("_", r"\_") + "%",),
        ).fetchall()
    return Counter(dict(rows))


def stored_ids(database: Path, ids: Iterable[str]) -> int:
    """How many of these rating ids storage holds."""
    wanted = list(ids)
    if not wanted:
        return 0
    with _connect(database) as connection:
        marks = ",".join("?" * len(wanted))
        row = connection.execute(f"SELECT count(*) FROM ratings WHERE id IN ({marks})", wanted)  # noqa: S608 (placeholders only)
        return int(row.fetchone()[0])


def rows_and_rolled_up(database: Path) -> tuple[int, int]:
    """Stored rows of the service, and the ratings its daily rollups count."""
    with _connect(database) as connection:
        rows = connection.execute("SELECT count(*) FROM ratings WHERE service = ?", (SERVICE,))
        rolled = connection.execute(
            "SELECT coalesce(sum(ratings), 0) FROM daily_rollups WHERE service = ?", (SERVICE,)
        )
        return int(rows.fetchone()[0]), int(rolled.fetchone()[0])


def assert_reconciled(outcomes: Outcomes, database: Path, prefix: str, note: str = "") -> None:
    """0 lost, 0 duplicated: every thanked marker stored once, nothing stored twice."""
    stored = stored_markers(database, prefix)
    doubled = sorted(marker for marker, count in stored.items() if count > 1)
    lost = sorted(outcomes.markers(303) - stored.keys())
    unknown = sorted(stored.keys() - outcomes.markers())
    assert not doubled, f"{len(doubled)} stored twice, e.g. {doubled[:5]} {note}"
    assert not lost, f"{len(lost)} thanked but not stored, e.g. {lost[:5]} {note}"
    assert not unknown, f"{len(unknown)} stored but never sent, e.g. {unknown[:5]} {note}"
    rows, rolled_up = rows_and_rolled_up(database)
    assert rows == rolled_up, f"{rows} rows but the rollups count {rolled_up} {note}"
