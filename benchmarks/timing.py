"""Timings that alternate between the functions compared, round by round.

On a shared virtual machine the CPU's speed can change within a run (another tenant, memory
reclaim). Timed one after the other, two functions can land on different sides of such a
change, and their ratio measures the machine as much as the code. Timed in alternating
rounds, each round's ratio compares the two at the same moment, and the median over the
rounds ignores the rounds that a change cut through.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.utils import benchmark

#: Rounds per comparison.
ROUNDS = 7


def _timer(step: Callable[[], object]) -> benchmark.Timer:
    """A timer of step() on the torch threads of the process (Timer's default is one)."""
    return benchmark.Timer(
        stmt="step()", globals={"step": step}, num_threads=torch.get_num_threads()
    )


def seconds(step: Callable[[], object], min_run_time: float) -> float:
    """Median seconds of one call of step()."""
    return _timer(step).blocked_autorange(min_run_time=min_run_time).median


def fwd_bwd_step(fn, tensors):
    """One forward + backward of fn(*tensors) with respect to all of them, as a function."""
    leaves = [t.detach().requires_grad_(True) for t in tensors]
    grad = torch.ones_like(fn(*leaves))
    return lambda: torch.autograd.grad(fn(*leaves), leaves, grad)


def median(values: Sequence[float]) -> float:
    return sorted(values)[len(values) // 2]


def alternating(
    steps: Sequence[Callable[[], object]], min_run_time: float, rounds: int = ROUNDS
) -> list[list[float]]:
    """Each step's median seconds per call in each of ``rounds`` rounds (one list per step);
    within a round the steps run one after the other, ``min_run_time / rounds`` each, on the
    torch threads of the process."""
    timers = [_timer(step) for step in steps]
    times: list[list[float]] = [[] for _ in steps]
    for _ in range(rounds):
        for timer, seconds in zip(timers, times, strict=True):
            seconds.append(timer.blocked_autorange(min_run_time=min_run_time / rounds).median)
    return times


def ratios(theirs: Sequence[float], ours: Sequence[float]) -> list[float]:
    """Each round's ours / theirs."""
    return [b / a for a, b in zip(theirs, ours, strict=True)]
