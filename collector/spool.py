"""The spool: ratings that Redis did not take are kept on local disk until it does.

While Redis does not answer, the hot path appends the rating to this process's spool
file and fsyncs it before the citizen is thanked; a background loop sends the files to
Redis when it answers again, through the same submit script (its nonce and transaction
checks make a second send of the same rating a no-op, so a replay interrupted by a
crash is simply done again). Rate limits do not apply to a replay: the citizen was
already thanked.

Each process writes its own file and holds an exclusive flock on it, so any process
(or the same one after a restart) can tell a file whose writer is gone from one still
in use, and two processes never replay the same file at once.

Record: 4-byte big-endian length, 4-byte CRC-32 of the payload, payload (msgpack). A
record cut short by a crash was never fsynced, so never acknowledged: it is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import socket
import struct
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import msgspec
from redis.exceptions import RedisError

from collector.buffer import RatingBuffer, SubmitResult
from collector.errors import ServiceUnavailable
from collector.messages import EVENT_DECODER, EVENT_ENCODER, RatingEvent
from collector.redis_clients import RedisClient

logger = logging.getLogger(__name__)

_HEADER = struct.Struct(">II")
_SUFFIX = ".spool"
SPOOL_DIRECTORY = "spool"  # in the data directory
# About two million ratings: past that the disk is likelier full than Redis merely down,
# and a 503 page ("not saved, send again") is the honest answer.
DEFAULT_MAXIMUM_BYTES = 1 << 30
REPLAY_INTERVAL_SECONDS = 1.0
_RETRY_AFTER_A_BUG_SECONDS = 60.0
# Sent together (the submit script's group commit makes them one round trip or so).
_REPLAY_CHUNK = 256


class SpooledRating(msgspec.Struct, array_like=True):
    event: bytes  # EVENT_ENCODER's bytes, as the stream would have held them
    nonce: str
    transaction_ttl_milliseconds: int


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(SpooledRating)


class SpoolFull(OSError):
    """The spool reached its size limit; the rating was not kept."""


class RatingSpool:
    """Appends ratings to a local file while Redis is down; replays them afterwards."""

    def __init__(self, directory: Path, maximum_bytes: int = DEFAULT_MAXIMUM_BYTES) -> None:
        self.directory = directory
        self._maximum_bytes = maximum_bytes
        self._descriptor: int | None = None
        self._written = 0
        self._lock = asyncio.Lock()
        self._stopping = asyncio.Event()

    async def append(self, event: RatingEvent, nonce: str, transaction_ttl: int) -> None:
        """Keep one rating on disk (written and fsynced when this returns); OSError if not."""
        payload = _ENCODER.encode(
            SpooledRating(EVENT_ENCODER.encode(event), nonce, transaction_ttl)
        )
        record = _HEADER.pack(len(payload), zlib.crc32(payload)) + payload
        async with self._lock:
            if self._written + len(record) > self._maximum_bytes:
                raise SpoolFull(f"the spool holds {self._written} bytes, its limit")
            await asyncio.to_thread(self._write, record)
            self._written += len(record)

    def _write(self, record: bytes) -> None:
        if self._descriptor is None:
            self._descriptor = _create_locked(self.directory)
            logger.warning("Redis does not answer: ratings are spooled to %s", self.directory)
        try:
            view = memoryview(record)
            while view:
                view = view[os.write(self._descriptor, view) :]
            os.fsync(self._descriptor)
        except OSError:
            # Part of the record may be written: close the file so it stays that file's
            # cut-short last record (dropped when replayed; it was never acknowledged),
            # and the next rating starts a new file instead of writing after it.
            self._seal()
            raise

    def waiting(self) -> bool:
        """Whether any spool file (this process's or a dead one's) is waiting."""
        return self._descriptor is not None or any(_spool_files(self.directory))

    async def replay(self, buffer: RatingBuffer) -> int:
        """Send every spool file no live process holds to Redis; returns how many ratings
        Redis took (duplicates excluded). Raises ServiceUnavailable if Redis stops
        answering: the file stays, to be sent again."""
        async with self._lock:
            self._seal()
        taken = 0
        for path in _spool_files(self.directory):
            taken += await self._replay_file(path, buffer)
        return taken

    def _seal(self) -> None:
        """Close this process's file: later ratings go to a new one, and this one can be
        replayed (closing it releases its lock)."""
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None
            self._written = 0

    async def _replay_file(self, path: Path, buffer: RatingBuffer) -> int:
        try:
            descriptor = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return 0  # another process replayed it just now
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return 0  # its writer is alive, or another process is replaying it
            if not _still_linked(path, descriptor):
                return 0
            data = await asyncio.to_thread(_read_all, descriptor)
            ratings, damaged = _records(data)
            taken = 0
            for start in range(0, len(ratings), _REPLAY_CHUNK):
                results = await asyncio.gather(
                    *(_send(buffer, spooled) for spooled in ratings[start : start + _REPLAY_CHUNK])
                )
                taken += sum(result.stream_id is not None for result in results)
            await asyncio.to_thread(self._finish, path, damaged, len(ratings))
            logger.info("replayed %s: %d ratings, %d new", path.name, len(ratings), taken)
            return taken
        finally:
            os.close(descriptor)

    def _finish(self, path: Path, damaged: bool, readable: int) -> None:
        """Remove a replayed file; keep a damaged one aside for a person to look at."""
        if damaged:
            kept = path.with_suffix(".damaged")
            path.rename(kept)
            logger.error(
                "spool file %s is damaged past its %d readable ratings; kept as %s",
                path.name,
                readable,
                kept.name,
            )
        else:
            path.unlink()
        _sync_directory(self.directory)

    async def run(self, buffer: RatingBuffer, redis: RedisClient) -> None:
        """Every second, while anything is spooled and Redis answers, send it to Redis."""
        while not self._stopping.is_set():
            wait = REPLAY_INTERVAL_SECONDS
            if self.waiting() and await _answers(redis):
                try:
                    await self.replay(buffer)
                except ServiceUnavailable as error:
                    # Part of the file may be in Redis already (a reply lost after the
                    # script ran): the whole file is sent again, and the nonce check
                    # drops what Redis has.
                    logger.debug("spool kept, Redis still does not answer: %s", error.detail)
                except OSError as error:
                    logger.error("could not replay the spool: %s", error)
                except Exception:
                    # A bug, not an outage (collector/buffer.py): keep the file for
                    # whoever reads the log, and keep replaying, less often.
                    logger.exception("could not replay the spool; kept, tried again later")
                    wait = _RETRY_AFTER_A_BUG_SECONDS
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), wait)

    def stop(self) -> None:
        self._stopping.set()

    def close(self) -> None:
        """Release this process's file; whoever starts next replays it."""
        self._seal()


async def _send(buffer: RatingBuffer, spooled: SpooledRating) -> SubmitResult:
    event = EVENT_DECODER.decode(spooled.event)
    return await buffer.submit(
        event, spooled.nonce, spooled.transaction_ttl_milliseconds, rate_limited=False
    )


async def _answers(redis: RedisClient) -> bool:
    # Checked first so that a long outage does not seal a new file every second. PING
    # changes nothing: the next round asks again.
    try:
        return bool(await redis.ping())
    except (RedisError, OSError):
        return False


def _create_locked(directory: Path) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{socket.gethostname()}-{os.getpid()}-{time.time_ns()}{_SUFFIX}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC
    descriptor = os.open(directory / name, flags, 0o600)
    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    _sync_directory(directory)  # the file's name must survive a power cut too
    return descriptor


def _spool_files(directory: Path) -> Iterator[Path]:
    if directory.is_dir():
        yield from sorted(directory.glob(f"*{_SUFFIX}"))


def _still_linked(path: Path, descriptor: int) -> bool:
    """False if the file was replayed and removed while we waited for its lock."""
    try:
        return os.stat(path).st_ino == os.fstat(descriptor).st_ino
    except FileNotFoundError:
        return False


def _read_all(descriptor: int) -> bytes:
    chunks = []
    while chunk := os.read(descriptor, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _records(data: bytes) -> tuple[list[SpooledRating], bool]:
    """The file's readable ratings, and whether anything but a cut-short last record
    follows them (damage we must not hide)."""
    ratings: list[SpooledRating] = []
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, checksum = _HEADER.unpack_from(data, offset)
        end = offset + _HEADER.size + length
        payload = data[offset + _HEADER.size : end]
        if end > len(data):
            return ratings, False  # cut short by a crash while it was written
        if zlib.crc32(payload) != checksum:
            return ratings, end < len(data)
        try:
            ratings.append(_DECODER.decode(payload))
        except msgspec.DecodeError:
            return ratings, True
        offset = end
    return ratings, False


def _sync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
