"""`collector purge` and `collector erase`, run as an operator (or a daily timer) would."""

from __future__ import annotations

import re
import time
from pathlib import Path

import msgspec
import pytest

from collector.buffer import Outcome
from collector.flusher import Flusher
from collector.runtime import Runtime
from collector.services import Service, ServiceConfig
from collector.storage import open_storage
from collector.storage.base import CommentQuery
from tests.helpers import DAY, event, run_cli, stored_rating

_LINE = re.compile(
    r"(?P<service>[a-z-]+): (?P<verb>would purge|purged) (?P<count>\d+) of the comments "
    r"received before \d{4}-\d\d-\d\dT\d\d:\d\dZ \(retention (?P<days>\d+) days\)"
)


async def _two_services(data_dir: Path) -> None:
    """permits keeps comments 30 days, passports the default 1095; each has an old one."""
    storage = open_storage(f"sqlite:///{data_dir / 'collector.db'}")
    await storage.migrate()
    await storage.save_tenant("city", "City")
    await storage.save_service(
        Service(
            slug="permits",
            tenant_id="city",
            name="Permits",
            config=ServiceConfig(retention_days=30),
        )
    )
    await storage.save_service(Service(slug="passports", tenant_id="city", name="Passports"))
    now = int(time.time() * 1000)
    await storage.store(
        [
            stored_rating(1, 1, now - 40 * DAY, service="permits", comment="40 days old"),
            stored_rating(2, 2, now - 45 * DAY, service="permits", comment="45 days old"),
            stored_rating(3, 5, now - 10 * DAY, service="permits", comment="recent"),
            stored_rating(4, 3, now - 40 * DAY, service="passports", comment="40 days old"),
            stored_rating(5, 3, now - 1100 * DAY, service="passports", comment="3 years old"),
        ]
    )
    await storage.close()


def _report(output: str) -> list[tuple[str, str, int, int]]:
    lines = []
    for line in output.splitlines():
        match = _LINE.fullmatch(line)
        assert match, line
        lines.append((match["service"], match["verb"], int(match["count"]), int(match["days"])))
    return lines


async def _comments(data_dir: Path) -> dict[str, str]:
    storage = open_storage(f"sqlite:///{data_dir / 'collector.db'}")
    query = CommentQuery(services=("passports", "permits"), with_comment=False)
    try:
        return {row.id[-1]: row.comment for row in await storage.comments(query)}
    finally:
        await storage.close()


async def test_purge_blanks_what_each_service_keeps_no_longer(tmp_path: Path) -> None:
    await _two_services(tmp_path)

    dry = run_cli(tmp_path, "purge", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert _report(dry.stdout) == [
        ("passports", "would purge", 1, 1095),
        ("permits", "would purge", 2, 30),
    ]
    assert len([text for text in (await _comments(tmp_path)).values() if text]) == 5

    done = run_cli(tmp_path, "purge")
    assert done.returncode == 0, done.stderr
    assert _report(done.stdout) == [("passports", "purged", 1, 1095), ("permits", "purged", 2, 30)]
    assert await _comments(tmp_path) == {
        "1": "",
        "2": "",
        "3": "recent",
        "4": "40 days old",
        "5": "",
    }
    again = run_cli(tmp_path, "purge", "--service", "permits")
    assert _report(again.stdout) == [("permits", "purged", 0, 30)]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("purge", "--service", "nowhere"), "collector: no service 'nowhere'\n"),
        (
            ("erase", "--service", "permits", "--transaction", ""),
            "collector: a transaction reference is 1 to 128 characters",
        ),
        (
            ("erase", "--service", "permits", "--transaction", "t"),
            "collector: erase needs Redis: set REDIS_URL, or start `collector serve`",
        ),
    ],
)
async def test_refusals_name_the_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arguments: tuple[str, ...], message: str
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    await _two_services(tmp_path)
    refused = run_cli(tmp_path, *arguments)
    assert refused.returncode == 2
    assert refused.stderr.startswith(message)
    assert refused.stdout == ""


async def test_erase_removes_the_rating_from_redis_and_storage(
    runtime: Runtime, flusher: Flusher, monkeypatch: pytest.MonkeyPatch
) -> None:
    for transaction in ("txn-1", "txn-2"):
        rated = msgspec.structs.replace(event(2, comment="call me"), transaction=transaction)
        result = await runtime.buffer.submit(rated, f"nonce-{transaction}", 3_600_000)
        assert result.outcome is Outcome.ACCEPTED
    await flusher.process(await flusher.read_new(block=False), redelivered=False)
    monkeypatch.setenv("REDIS_URL", runtime.settings.redis_url)
    arguments = ("erase", "--service", "demo-passport", "--transaction")

    erased = run_cli(runtime.settings.data_dir, *arguments, "txn-1")

    assert (erased.returncode, erased.stderr) == (0, "")
    assert erased.stdout == (
        "transaction 'txn-1' of demo-passport: erased 1 stream entries, 0 dead letters, "
        "1 stored ratings\n"
    )
    query = CommentQuery(services=("demo-passport",), with_comment=False)
    assert [row.transaction_ref for row in await runtime.storage.comments(query)] == ["txn-2"]
    unknown = run_cli(runtime.settings.data_dir, *arguments, "txn-3")
    assert unknown.stdout.endswith("erased 0 stream entries, 0 dead letters, 0 stored ratings\n")
    missing = run_cli(runtime.settings.data_dir, "erase", "--service", "x", "--transaction", "t")
    assert (missing.returncode, missing.stderr) == (2, "collector: no service 'x'\n")
