"""The restart budget: a backoff that doubles, and a limit on restarts per window."""

from __future__ import annotations

import pytest

from collector.restart_budget import (
    EMBEDDED_SERVER_RESTARTS,
    WORKER_RESTARTS,
    RestartBudget,
    RestartPolicy,
)

POLICY = RestartPolicy(
    limit=4, window_seconds=60, first_delay_seconds=0.1, longest_delay_seconds=0.5
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_pause_doubles_up_to_the_longest_then_it_gives_up() -> None:
    clock = Clock()
    budget = RestartBudget(POLICY, clock)
    delays = []
    for _ in range(POLICY.limit):
        delays.append(budget.delay_after_death())
        clock.now += 1
    assert delays == [0.1, 0.2, 0.4, 0.5]
    assert budget.delay_after_death() is None  # one death more than the limit
    assert budget.deaths_in_window() == POLICY.limit + 1


def test_deaths_older_than_the_window_are_forgotten() -> None:
    clock = Clock()
    budget = RestartBudget(POLICY, clock)
    for _ in range(POLICY.limit):
        assert budget.delay_after_death() is not None
    clock.now += POLICY.window_seconds  # the first deaths are exactly a window old
    assert budget.delay_after_death() == POLICY.first_delay_seconds
    assert budget.deaths_in_window() == 1


def test_a_process_that_dies_now_and_then_is_always_restarted_at_once() -> None:
    clock = Clock()
    budget = RestartBudget(POLICY, clock)
    for _ in range(100):
        assert budget.delay_after_death() == POLICY.first_delay_seconds
        clock.now += POLICY.window_seconds + 1


@pytest.mark.parametrize("policy", [EMBEDDED_SERVER_RESTARTS, WORKER_RESTARTS])
def test_the_collectors_policies_survive_three_deaths_in_a_row(policy: RestartPolicy) -> None:
    # The fault tests kill three times within seconds; each must be restarted.
    budget = RestartBudget(policy, Clock())
    delays = [budget.delay_after_death() for _ in range(3)]
    assert all(delay is not None and delay < 1 for delay in delays), delays
