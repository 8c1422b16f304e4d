"""Load for the fault tests: concurrent rating POSTs, each carrying a unique marker.

A 303 does not name the rating's id (ids are made at the collector), so every POST
carries a comment of its own (`fault-<run>-n<number>`) and a fresh form token, and
storage is reconciled by comment afterwards. Raw HTTP/1.1 over asyncio streams rather
than httpx: on this 2-core machine, 16 connections sent about 500 POSTs/s with httpx
and 5,000/s with this client, so httpx, not the collector, set the pace.
"""

from __future__ import annotations

import asyncio
import secrets
import string
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from collector.form_token import FormTokenSigner

NO_RESPONSE = 0  # the request was sent, but no response came back
_REQUEST_TIMEOUT_SECONDS = 30.0
_RECONNECT_PAUSE_SECONDS = 0.05
_FILL_SECONDS = 10  # how long our citizens take to fill the form in


@dataclass(frozen=True, slots=True)
class Result:
    marker: str
    status: int
    sent_at: float  # time.monotonic() when the request was written
    answered_at: float


@dataclass(slots=True)
class Outcomes:
    results: list[Result] = field(default_factory=list)

    def markers(self, status: int | None = None) -> set[str]:
        """Markers sent (with this response status, if given)."""
        return {r.marker for r in self.results if status is None or r.status == status}

    def statuses(self) -> Counter[int]:
        return Counter(r.status for r in self.results)

    def thanked_after(self, moment: float) -> int:
        """How many POSTs sent after `moment` got their thank-you (303)."""
        return sum(1 for r in self.results if r.status == 303 and r.sent_at > moment)


class RatingLoad:
    """POSTs ratings to one service over `connections` keep-alive connections."""

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        connections: int = 16,
        per_second: float | None = None,
        service: str = "demo-passport",
    ) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self._connections = connections
        self._period = connections / per_second if per_second else 0.0
        self._service = service
        self._signer = FormTokenSigner(secret, max_age_seconds=3600)
        self._headers = f"host: {self.host}:{self.port}\r\n"
        # Letters around the number: a long run of digits in a comment could be taken
        # for a phone or ID number and redacted before storage.
        self.run_id = "".join(secrets.choice(string.ascii_lowercase) for _ in range(8))
        self.prefix = f"fault-{self.run_id}-n"
        self.outcomes = Outcomes()
        self._next = 0
        self._stop = asyncio.Event()

    def thanked_since(self, moment: float, at_least: int) -> Callable[[], Awaitable[bool]]:
        """A check for `eventually`: this many 303s to POSTs sent after `moment`."""

        async def check() -> bool:
            return self.outcomes.thanked_after(moment) >= at_least

        return check

    def stop(self) -> None:
        """Send no more POSTs; those in flight still get their answer."""
        self._stop.set()

    async def run(self, total: int | None = None) -> Outcomes:
        """POST `total` ratings (or until stop()); returns every POST's outcome."""
        await asyncio.gather(*(self._connection(total) for _ in range(self._connections)))
        return self.outcomes

    def _take(self, total: int | None) -> int | None:
        if self._stop.is_set() or (total is not None and self._next >= total):
            return None
        number, self._next = self._next, self._next + 1
        return number

    async def _connection(self, total: int | None) -> None:
        streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            while (number := self._take(total)) is not None:
                started = time.monotonic()
                while streams is None and not self._stop.is_set():
                    try:
                        streams = await asyncio.open_connection(self.host, self.port)
                    except OSError:  # the collector is not listening (yet, or any more)
                        await asyncio.sleep(_RECONNECT_PAUSE_SECONDS)
                if streams is None:
                    return
                if not await self._post(streams, number):
                    streams[1].close()
                    streams = None
                # Each connection sends at most one POST per period, and never catches
                # up after a slow answer: the load stays what it was during an outage.
                # Not a wait for a condition: the load's rate is the schedule.
                pause = started + self._period - time.monotonic()
                if pause > 0:
                    await asyncio.sleep(pause)
        finally:
            if streams is not None:
                streams[1].close()

    def form(self, number: int) -> tuple[str, bytes]:
        """The marker and the url-encoded body of POST number `number`."""
        marker = f"{self.prefix}{number}"
        body = urlencode(
            {
                # Issued a while ago: a form sent back at once is refused as a bot's.
                "token": self._signer.issue(self._service, time.time() - _FILL_SECONDS),
                "rating": str(number % 5 + 1),
                "comment": marker,
            }
        ).encode()
        return marker, body

    def head(self, body: bytes, *extra_lines: str) -> bytes:
        """The request line and headers of a POST of `body`."""
        lines = "".join(f"{line}\r\n" for line in extra_lines)
        return (
            f"POST /w/{self._service} HTTP/1.1\r\n{self._headers}{lines}"
            "content-type: application/x-www-form-urlencoded\r\n"
            f"content-length: {len(body)}\r\n\r\n"
        ).encode()

    async def _post(
        self, streams: tuple[asyncio.StreamReader, asyncio.StreamWriter], number: int
    ) -> bool:
        """One POST; records its outcome and says whether the connection stays open."""
        reader, writer = streams
        marker, body = self.form(number)
        sent_at = time.monotonic()
        status, keep = NO_RESPONSE, False
        try:
            async with asyncio.timeout(_REQUEST_TIMEOUT_SECONDS):
                writer.write(self.head(body) + body)
                await writer.drain()
                status, keep = await read_response(reader)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
            status, keep = NO_RESPONSE, False
        self.outcomes.results.append(Result(marker, status, sent_at, time.monotonic()))
        return keep


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Status and whether the server keeps the connection open; the body is skipped."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers.get("connection") != "close"
