"""A TCP proxy between a Redis client and a real server that loses one chosen reply
(or resets every connection at once).

It reads the commands the client sends and the replies the server sends back (RESP2 and
RESP3), and pairs them in order: a connection's replies, pipelined or not, come in the
order of its commands. When a reply answers the command a test chose, the proxy does
not forward it and closes both sockets instead. The server ran the command; the client
never hears about it, as when a server exits after running a command and before its
reply left. Which reply is lost is decided by what the proxy sees, never by timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections import deque
from collections.abc import Callable
from urllib.parse import urlsplit

Command = list[bytes]
# Given a command and the raw bytes of its reply: lose this reply?
DropRule = Callable[[Command, bytes], bool]

_SIMPLE = b"+-:_#,("  # one line: status, error, integer, null, boolean, double, big number
_BLOB = b"$=!"  # a length line, then that many bytes: bulk string, verbatim, blob error
_AGGREGATE = b"*~>"  # a count line, then that many values: array, set, push
_PAIRS = b"%|"  # a count line, then that many pairs: map, attribute


def value_end(data: bytes | bytearray, at: int) -> int | None:
    """Where the RESP value starting at `at` ends, or None if it is not complete yet."""
    line_end = data.find(b"\r\n", at)
    if line_end < 0:
        return None
    kind, header, after = data[at : at + 1], data[at + 1 : line_end], line_end + 2
    if kind in _SIMPLE:
        return after
    if kind in _BLOB:
        length = int(header)
        if length < 0:  # RESP2's null bulk string
            return after
        end = after + length + 2
        return end if end <= len(data) else None
    if kind in _AGGREGATE + _PAIRS:
        count = int(header)
        if count < 0:  # RESP2's null array
            return after
        for _ in range(count * 2 if kind in _PAIRS else count):
            end_of_item = value_end(data, after)
            if end_of_item is None:
                return None
            after = end_of_item
        if kind == b"|":  # an attribute comes before the value it describes
            return value_end(data, after)
        return after
    raise ValueError(f"not RESP at byte {at}: {bytes(data[at : at + 20])!r}")


def command_words(data: bytes | bytearray, at: int, end: int) -> Command:
    """The bulk strings of the command array data[at:end] (what redis-py sends)."""
    line_end = data.find(b"\r\n", at)
    words: Command = []
    position = line_end + 2
    while position < end:
        length_end = data.find(b"\r\n", position)
        length = int(data[position + 1 : length_end])
        words.append(bytes(data[length_end + 2 : length_end + 2 + length]))
        position = length_end + 2 + length + 2
    return words


def succeeded(reply: bytes) -> bool:
    """The reply is no error (a script that was not loaded yet answers NOSCRIPT)."""
    return reply[:1] not in (b"-", b"!")


class RedisProxy:
    """Listens on a free port of 127.0.0.1 and forwards every connection to `upstream`."""

    def __init__(self, upstream_url: str) -> None:
        self._upstream = urlsplit(upstream_url)
        self._server: asyncio.Server | None = None
        self._rule: DropRule | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._connections: set[asyncio.Task[object]] = set()
        self.dropped = asyncio.Event()  # set when the armed rule lost a reply
        self.drops = 0
        self.lost: list[Command] = []  # the commands whose replies were lost

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    @property
    def url(self) -> str:
        """The upstream URL (credentials, database) with the proxy's address."""
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        credentials, _, _ = self._upstream.netloc.rpartition("@")
        netloc = f"{credentials}@127.0.0.1:{port}" if credentials else f"127.0.0.1:{port}"
        return self._upstream._replace(netloc=netloc).geturl()

    def drop_next(self, rule: DropRule) -> None:
        """Lose the next reply the rule picks (on any connection), once."""
        self.dropped.clear()
        self._rule = rule

    def reset_connections(self) -> None:
        """Reset every connection (RST, not FIN): the client's socket is closed under
        it, with no end of stream for a pool's check of an idle connection to see."""
        linger_at_once = struct.pack("ii", 1, 0)
        for writer in list(self._writers):
            writer.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, linger_at_once
            )
            writer.transport.abort()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        # Python 3.11's wait_closed() does not wait for the connections' handlers.
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        this = asyncio.current_task()
        assert this is not None
        self._connections.add(this)
        this.add_done_callback(self._connections.discard)
        host, port = self._upstream.hostname or "127.0.0.1", self._upstream.port or 6379
        try:
            server_reader, server = await asyncio.open_connection(host, port)
        except OSError:
            client.close()
            return
        self._writers.update((client, server))
        sent: deque[Command] = deque()
        directions = [
            asyncio.create_task(self._commands(client_reader, server, sent)),
            asyncio.create_task(self._replies(server_reader, client, sent)),
        ]
        try:
            # Either side closing, or a lost reply, ends the connection on both sides.
            await asyncio.wait(directions, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in directions:
                task.cancel()
            for task in directions:
                with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
                    await task
            for writer in (client, server):
                writer.close()
                self._writers.discard(writer)
                with contextlib.suppress(ConnectionError, OSError):
                    await writer.wait_closed()

    async def _commands(
        self, reader: asyncio.StreamReader, server: asyncio.StreamWriter, sent: deque[Command]
    ) -> None:
        """Client to server: each command is noted before its last byte is forwarded,
        so it is in `sent` before the server can answer it."""
        buffer = bytearray()
        while chunk := await reader.read(65536):
            buffer += chunk
            at = 0
            while (end := value_end(buffer, at)) is not None:
                sent.append(command_words(buffer, at, end))
                at = end
            del buffer[:at]
            server.write(chunk)
            await server.drain()

    async def _replies(
        self, reader: asyncio.StreamReader, client: asyncio.StreamWriter, sent: deque[Command]
    ) -> None:
        """Server to client, one whole reply at a time, unless the rule loses one."""
        buffer = bytearray()
        while chunk := await reader.read(65536):
            buffer += chunk
            at = 0
            while (end := value_end(buffer, at)) is not None:
                reply = bytes(buffer[at:end])
                at = end
                if reply.startswith(b">"):  # a push message answers no command
                    client.write(reply)
                    continue
                command = sent.popleft()
                rule = self._rule
                if rule is not None and rule(command, reply):
                    self._rule = None
                    self.drops += 1
                    self.lost.append(command)
                    self.dropped.set()
                    return  # _serve closes both sockets
                client.write(reply)
            del buffer[:at]
            await client.drain()
