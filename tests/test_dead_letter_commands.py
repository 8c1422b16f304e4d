"""`collector dead-letters list|replay`, the real command against real Redis and SQLite:
dead letters an older flusher left (it could not read entries of this version) go back
to their stream and are stored; the others stay where they are."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector import keys
from collector.acknowledgement import Acknowledgement, DeadLetter
from collector.dead_letters import DeadLetters
from collector.flusher import Flusher
from collector.messages import EVENT_ENCODER
from collector.runtime import Runtime
from tests.helpers import event, rows, run_cli, stream_entries

OLD_FLUSHER_REASON = "undecodable entry: Object missing required field `client_hash`"


async def dead_letter(runtime: Runtime, flusher: Flusher, payload: bytes, reason: str) -> None:
    """An entry in the stream, read by a flusher that dead-letters it with `reason`, by
    the flusher's own acknowledgement script."""
    await runtime.redis.xadd(keys.STREAM, {"e": payload})
    (entry_id, _), *_ = await flusher.read_new(block=False)
    letter = DeadLetter(entry_id, payload, reason)
    await Acknowledgement(runtime.redis, 0, flusher.consumer).send([], [letter], 0.01)


async def test_replay_sends_chosen_dead_letters_back_once(
    runtime: Runtime, flusher: Flusher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", runtime.settings.redis_url)
    ratings = [event(5, comment="kept"), event(2)]
    for rating in ratings:
        await dead_letter(runtime, flusher, EVENT_ENCODER.encode(rating), OLD_FLUSHER_REASON)
    await dead_letter(runtime, flusher, b"not a rating", "undecodable entry: JSON is malformed")

    listed = run_cli(runtime.settings.data_dir, "dead-letters", "list")
    assert (listed.returncode, listed.stderr) == (0, "")
    lines = listed.stdout.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("shard 0 entry ")
    assert lines[0].endswith(f": {OLD_FLUSHER_REASON}")

    replayed = run_cli(
        runtime.settings.data_dir, "dead-letters", "replay", "--reason", "client_hash"
    )
    assert (replayed.returncode, replayed.stderr) == (0, "")
    assert replayed.stdout == "sent 2 dead letters back to their streams (shard 0: 2)\n"
    assert await runtime.redis.xlen(keys.DEAD_LETTERS) == 1  # the malformed one stays
    again = run_cli(runtime.settings.data_dir, "dead-letters", "replay", "--reason", "client_hash")
    assert again.stdout == "sent 0 dead letters back to their streams (shard 0: 0)\n"

    assert await flusher.run_once(block=False) == 2
    assert await rows(runtime) == 2
    assert await runtime.redis.xlen(keys.DEAD_LETTERS) == 1


async def test_replay_pages_through_many_dead_letters(runtime: Runtime, flusher: Flusher) -> None:
    """More than a page (100) of them, deleted while they are read."""
    payloads = [EVENT_ENCODER.encode(event()) for _ in range(250)]
    for payload in payloads:
        await runtime.redis.xadd(keys.STREAM, {"e": payload})
    entries = await flusher.read_new(block=False)
    dead = [
        DeadLetter(entry_id, fields[b"e"], "storage refused it") for entry_id, fields in entries
    ]
    await Acknowledgement(runtime.redis, 0, flusher.consumer).send([], dead, 0.01)
    letters = DeadLetters(runtime.redis)
    assert len([letter async for letter in letters.read("storage")]) == 250
    assert await letters.replay("storage") == [250]
    assert await runtime.redis.xlen(keys.DEAD_LETTERS) == 0
    back = await stream_entries(runtime.redis, keys.STREAM)
    assert sorted(fields[b"e"] for _, fields in back[250:]) == sorted(payloads)


async def test_dead_letters_need_redis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    refused = run_cli(tmp_path, "dead-letters", "list")
    assert refused.returncode == 2
    assert refused.stderr.startswith("collector: dead-letters needs Redis: set REDIS_URL")
