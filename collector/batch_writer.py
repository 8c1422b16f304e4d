"""Writing a batch of stream entries to storage: in one transaction, or row by row to
find the rows storage refuses (they become dead letters) and keep the others.

An outage of storage refuses nothing: the writer waits for it, as the flusher says,
and the batch stays pending in Redis meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

import msgspec

from collector.acknowledgement import DeadLetter, StoredEntries
from collector.device import classify
from collector.messages import EVENT_DECODER, RatingEvent, StoredRating
from collector.redaction import redact
from collector.storage import RecordRejected, Storage, StorageUnavailable

logger = logging.getLogger(__name__)

StreamEntry = tuple[bytes, dict[bytes, bytes]]
Events = list[tuple[bytes, RatingEvent]]  # (stream entry id, its rating)
Written = tuple[list[StoredEntries], list[DeadLetter]]
# Called while storage does not answer: returns when it is worth trying again.
WaitForStorage = Callable[[StorageUnavailable], Awaitable[None]]


def decode(entries: Sequence[StreamEntry]) -> tuple[Events, list[DeadLetter], list[bytes]]:
    """The entries' ratings, the undecodable entries as dead letters, and the ids of
    entries deleted from the stream while pending (nothing left to store)."""
    events: Events = []
    dead: list[DeadLetter] = []
    vanished: list[bytes] = []
    for entry_id, fields in entries:
        if not fields:
            vanished.append(entry_id)
            continue
        payload = fields.get(b"e", b"")
        try:
            events.append((entry_id, EVENT_DECODER.decode(payload)))
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            dead.append(DeadLetter(entry_id, payload, f"undecodable entry: {error}"))
    return events, dead, vanished


def to_stored(event: RatingEvent) -> StoredRating:
    device = classify(event.user_agent)
    return StoredRating(
        id=event.id,
        service=event.service,
        rating=event.rating,
        # The hot path redacted it already; again here for entries that reached the
        # stream or a spool before it did (redacting twice changes nothing).
        comment=redact(event.comment),
        language=event.language,
        channel=event.channel,
        received_at=event.received_at,
        device_class=device.device_class,
        os_family=device.os_family,
        browser_family=device.browser_family,
        is_bot=device.is_bot,
        answers={str(question): value for question, value in event.answers.items()},
        transaction=event.transaction,
        office=event.office,
        operator=event.operator,
        answer_seconds=event.answer_seconds,
    )


class BatchWriter:
    def __init__(self, storage: Storage, wait_for_storage: WaitForStorage) -> None:
        self._storage = storage
        self._wait_for_storage = wait_for_storage

    async def write(self, events: Events) -> Written:
        """Store in one transaction; if the batch is refused, store row by row."""
        if not events:
            return [], []
        while True:
            try:
                new_rows = await self._storage.store([to_stored(event) for _, event in events])
            except StorageUnavailable as error:
                await self._wait_for_storage(error)
            except Exception:  # one row spoils the batch: find it, keep the others
                return await self.write_each(events)
            else:
                return [_settled([entry_id for entry_id, _ in events], new_rows)], []

    async def write_each(self, events: Events) -> Written:
        """Store row by row; a row that fails for any reason but an outage is refused.
        Each row is settled on its own, so its acknowledgement counts it exactly."""
        settled: list[StoredEntries] = []
        refused: list[DeadLetter] = []
        for entry_id, event in events:
            while True:
                try:
                    new_rows = await self._storage.store([to_stored(event)])
                    settled.append(_settled([entry_id], new_rows))
                    break
                except StorageUnavailable as error:
                    await self._wait_for_storage(error)
                except Exception as error:
                    if not isinstance(error, RecordRejected):
                        logger.exception("flusher: unexpected error storing %s", entry_id)
                    payload = msgspec.json.encode(event)
                    reason = f"storage refused it: {type(error).__name__}: {error}"
                    refused.append(DeadLetter(entry_id, payload, reason))
                    break
        return settled, refused


def _settled(entry_ids: list[bytes], new_rows: int) -> StoredEntries:
    """Entries one storage call took: new rows, and duplicates (stored already, or a
    transaction rated already)."""
    return StoredEntries(entry_ids, new_rows, len(entry_ids) - new_rows)
