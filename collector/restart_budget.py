"""How often `collector serve` restarts a process that died: a backoff, and a limit
on restarts within a window.

A process that dies once in a while is restarted after a short pause. One that keeps
dying is restarted ever later, and past `limit` restarts within `window_seconds` it is
given up on: the collector then stops with a non-zero exit, for the service manager
(systemd's Restart=, a Kubernetes pod) to take over with its own logs and backoff,
rather than loop on a fault that a restart does not cure (a full disk, a bad binary).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    limit: int  # restarts allowed within the window; the next death gives up
    window_seconds: float
    first_delay_seconds: float  # doubled for every other death within the window
    longest_delay_seconds: float


# Short pauses: while the server is down, ratings go to the spool, and a new server
# loads its AOF in a fraction of a second.
EMBEDDED_SERVER_RESTARTS = RestartPolicy(
    limit=5, window_seconds=60, first_delay_seconds=0.1, longest_delay_seconds=5
)
WORKER_RESTARTS = RestartPolicy(
    limit=5, window_seconds=60, first_delay_seconds=0.1, longest_delay_seconds=5
)


class RestartBudget:
    """The deaths of one supervised process within the policy's window."""

    def __init__(self, policy: RestartPolicy, clock: Callable[[], float] = time.monotonic):
        self.policy = policy
        self._clock = clock
        self._deaths: deque[float] = deque()

    def delay_after_death(self) -> float | None:
        """Count a death now: the pause before restarting, or None to give up."""
        now = self._clock()
        self._deaths.append(now)
        while self._deaths[0] <= now - self.policy.window_seconds:
            self._deaths.popleft()
        deaths = len(self._deaths)
        if deaths > self.policy.limit:
            return None
        delay = self.policy.first_delay_seconds * 2.0 ** (deaths - 1)
        return min(delay, self.policy.longest_delay_seconds)

    def deaths_in_window(self) -> int:
        return len(self._deaths)
