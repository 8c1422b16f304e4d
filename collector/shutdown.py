"""A serving worker's shutdown: one deadline, from the stop signal, for all its steps.

COLLECTOR_STOP_TIMEOUT_SECONDS after the signal a worker has ended. Its HTTP server
finishes the requests in flight (for at most REQUESTS_SECONDS of it); then the
background loops (the last widget views, the spool replay, the impression flusher, the
flushers' batches) are stopped together and share what is left, and the connections
close. A step still running at the deadline is cancelled: what a flusher read but did
not acknowledge stays pending in Redis and is stored after the next start, so nothing
thanked is lost. The supervisor kills a worker only well after this deadline
(collector/supervisor.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from types import FrameType

import uvicorn

logger = logging.getLogger(__name__)

# The in-flight requests' part of the deadline: uvicorn then cancels those still
# running (they get no answer, and none of them was thanked).
REQUESTS_SECONDS = 10

# A background loop to stop: its name (for the log), how to ask it, its task.
Loop = tuple[str, Callable[[], None], "asyncio.Task[None]"]


class ShutdownDeadline:
    """Runs from the first stop signal (or the first question, if none came)."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._at: float | None = None

    def begin(self) -> None:
        """The stop signal came; a second one changes nothing."""
        if self._at is None:
            self._at = self._clock() + self.seconds

    def remaining(self) -> float:
        self.begin()
        assert self._at is not None
        return max(0.0, self._at - self._clock())

    async def stop(self, loops: Sequence[Loop]) -> None:
        """Ask every loop to finish, wait for them until the deadline, cancel the rest."""
        tasks = {task: name for name, _, task in loops}
        for _, ask, _ in loops:
            ask()
        if not tasks:
            return
        done, late = await asyncio.wait(tasks, timeout=self.remaining())
        for task in late:
            logger.error(
                "the %s did not stop within %g s of the stop signal: cancelled (entries "
                "a flusher did not acknowledge stay pending in Redis)",
                tasks[task],
                self.seconds,
            )
            task.cancel()
        if late:
            await asyncio.wait(late)
        for task in done:
            error = None if task.cancelled() else task.exception()
            if error is not None:
                logger.error("the %s ended with an error", tasks[task], exc_info=error)

    async def finish(self, step: Awaitable[None], name: str) -> None:
        """Run a last step (closing connections) with what is left, cancelled after."""
        try:
            await asyncio.wait_for(step, self.remaining())
        except TimeoutError:
            logger.error("%s did not finish before the stop deadline: cancelled", name)


class StoppingServer(uvicorn.Server):
    """uvicorn's server, starting the worker's deadline when its stop signal comes."""

    def __init__(self, config: uvicorn.Config, deadline: ShutdownDeadline) -> None:
        super().__init__(config)
        self.deadline = deadline

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.deadline.begin()
        super().handle_exit(sig, frame)
