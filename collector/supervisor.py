"""The supervisor: the first process of `collector serve`, which serves nothing itself.

It forks the serving workers and keeps them, and the embedded valkey-server it
started, running. A worker that dies is forked again into its slot (the first slot
also runs the flusher, so the flusher comes back with it); a valkey-server that dies
is started again on the same port with the same data directory (its AOF), while the
workers spool the ratings that arrive meanwhile and reconnect by themselves. Each has
a RestartBudget: one that keeps dying stops the collector with a non-zero exit, so
that the service manager takes over.

Nothing is restarted once a shutdown began (SIGTERM or Ctrl-C): the workers finish
their requests and the flusher its batch; a rating that finds no server then goes to
the spool, replayed on the next start.

Why a process of its own: forking a new worker from a process with an event loop and
threads (storage's, the spool's) could copy a lock another thread held into the child.
This one has no thread and no loop, and takes its signals with sigtimedwait only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from collector.embedded_redis import EmbeddedRedis, EmbeddedRedisError, die_with_parent
from collector.restart_budget import EMBEDDED_SERVER_RESTARTS, WORKER_RESTARTS, RestartBudget

logger = logging.getLogger(__name__)

_SIGNALS = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT}
# Children are checked at least this often, should a SIGCHLD ever go unseen.
_CHECK_SECONDS = 1.0
# A worker ends by itself within its stop timeout (COLLECTOR_STOP_TIMEOUT_SECONDS,
# collector/shutdown.py); one still running this much later hangs, and is killed.
KILL_MARGIN_SECONDS = 30.0

# Runs in a forked child: serve in slot `number` until stopped; `first_start` tells
# whether this slot starts for the first time (only then is the banner printed).
WorkerMain = Callable[[int, bool], None]


class SupervisionGaveUp(RuntimeError):
    """A worker or the embedded server kept dying; the collector stopped."""


@dataclass(slots=True)
class _Slot:
    number: int
    budget: RestartBudget
    pid: int | None = None
    starts: int = 0
    restart_at: float | None = None


class Supervisor:
    """Runs `workers` serving processes and watches them and the embedded server."""

    def __init__(
        self,
        workers: int,
        worker_main: WorkerMain,
        listening: socket.socket,
        embedded: EmbeddedRedis | None = None,
        worker_stop_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._worker_main = worker_main
        self._worker_stop_seconds = worker_stop_seconds
        self._listening = listening
        self._embedded = embedded
        self._clock = clock
        self._slots = [
            _Slot(number, RestartBudget(WORKER_RESTARTS, clock)) for number in range(workers)
        ]
        self._server_budget = RestartBudget(EMBEDDED_SERVER_RESTARTS, clock)
        self._server_restart_at: float | None = None
        self._stopping = False
        self._gave_up: str | None = None
        self._child_mask: set[int | signal.Signals] = set()

    def run(self) -> None:
        """Fork the workers and supervise until a stop signal, then stop the workers.

        Raises SupervisionGaveUp (after stopping the workers) if something kept dying.
        The stop signals stay blocked afterwards: a late one must not interrupt the
        embedded server's own stop, which the caller does next.
        """
        self._child_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        try:
            for slot in self._slots:
                self._fork(slot)
            while not self._stopping:
                received = signal.sigtimedwait(_SIGNALS, self._timeout())
                if received is not None and received.si_signo != signal.SIGCHLD:
                    logger.info("stopping: the workers finish their requests")
                    self._stopping = True
                    break
                self._check_server()
                self._check_workers()
                self._restart_what_is_due()
        finally:
            self._stop_workers()
        if self._gave_up is not None:
            raise SupervisionGaveUp(self._gave_up)

    def _timeout(self) -> float:
        now = self._clock()
        due = [slot.restart_at for slot in self._slots if slot.restart_at is not None]
        if self._server_restart_at is not None:
            due.append(self._server_restart_at)
        return max(0.0, min([_CHECK_SECONDS, *(moment - now for moment in due)]))

    # The embedded server

    def _check_server(self) -> None:
        if self._embedded is None or self._server_restart_at is not None:
            return
        code = self._embedded.returncode
        if code is not None:
            self._server_died(f"valkey-server (pid {self._embedded.pid}) {_exit_text(code)}")

    def _server_died(self, what: str) -> None:
        delay = self._server_budget.delay_after_death()
        if delay is None:
            self._give_up(f"embedded {what}", "the embedded valkey-server", self._server_budget)
            return
        assert self._embedded is not None
        logger.error(
            "embedded %s; restarting it in %.1f s on port %s with its data (until then "
            "ratings are spooled, or refused with the spool off)",
            what,
            delay,
            self._embedded.port,
        )
        self._server_restart_at = self._clock() + delay

    def _restart_server(self) -> None:
        assert self._embedded is not None
        self._server_restart_at = None
        self._embedded.stop()  # reaps the dead process
        try:
            self._embedded.start()
        except EmbeddedRedisError as error:
            self._server_died(f"valkey-server did not start again: {error}")
            return
        logger.warning("embedded valkey-server restarted, pid %s", self._embedded.pid)

    # The workers

    def _fork(self, slot: _Slot) -> None:
        first_start = slot.starts == 0
        # What this process buffered would otherwise be written again by the child.
        sys.stdout.flush()
        sys.stderr.flush()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            self._worker(slot.number, first_start, parent)
        slot.pid, slot.restart_at = pid, None
        slot.starts += 1
        logger.info("worker %d started, pid %d", slot.number, pid)

    def _worker(self, number: int, first_start: bool, parent: int) -> None:
        """The child's side of a fork: serve, and never return into the supervisor."""
        code = 1
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, self._child_mask)
            die_with_parent(parent)
            self._worker_main(number, first_start)
            code = 0
        except SystemExit as stop:  # a stop signal before the HTTP server ran
            code = stop.code if isinstance(stop.code, int) else 1
        except BaseException:
            logger.exception("worker %d stopped with an error", number)
        finally:
            os._exit(code)

    def _check_workers(self) -> None:
        for slot in self._slots:
            if slot.pid is None:
                continue
            status = _reaped(slot.pid)
            if status is None:
                continue
            what = f"worker {slot.number} (pid {slot.pid}) {status}"
            slot.pid = None
            delay = slot.budget.delay_after_death()
            if delay is None:
                self._give_up(what, f"worker {slot.number}", slot.budget)
                return
            logger.error("%s; starting a new one in %.1f s", what, delay)
            slot.restart_at = self._clock() + delay

    def _restart_what_is_due(self) -> None:
        now = self._clock()
        due = self._server_restart_at
        if not self._stopping and due is not None and due <= now:
            self._restart_server()
        for slot in self._slots:
            if not self._stopping and slot.restart_at is not None and slot.restart_at <= now:
                self._fork(slot)

    def _give_up(self, what: str, who: str, budget: RestartBudget) -> None:
        self._gave_up = (
            f"{what}; {who} died {budget.deaths_in_window()} times in "
            f"{budget.policy.window_seconds:.0f} s: giving up, the collector stops so that "
            "the service manager restarts it"
        )
        logger.critical("%s", self._gave_up)
        self._stopping = True

    def _stop_workers(self) -> None:
        """SIGTERM: each finishes its requests; one stuck past the timeout is killed."""
        # Kept open until now for the workers forked again; once the workers close
        # theirs, a new connection is refused instead of waiting in the backlog.
        self._listening.close()
        running = {slot.pid for slot in self._slots if slot.pid is not None}
        for pid in running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = self._clock() + self._worker_stop_seconds + KILL_MARGIN_SECONDS
        while running:
            running = {pid for pid in running if _reaped(pid) is None}
            if running and self._clock() > deadline:
                logger.error("workers %s did not stop in time; killing them", sorted(running))
                for pid in running:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                deadline = float("inf")
            if running:
                # Another stop signal changes nothing: the workers have theirs already.
                signal.sigtimedwait(_SIGNALS, _CHECK_SECONDS)
        for slot in self._slots:
            slot.pid = None


def _reaped(pid: int) -> str | None:
    """None while the child runs; once it has ended, how it ended (and it is reaped)."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return "is gone"
    if done == 0:
        return None
    return _exit_text(os.waitstatus_to_exitcode(status))


def _exit_text(code: int) -> str:
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"
