"""Timers on a grid of the loop's clock, one per step, shared by every callback due in it.

The prober runs the probes of many pods with one period in the same wake-up of the loop
(its 50 ms wake grid), so their next wake-ups and their timeouts fall in the same steps. An
asyncio timer each (a TimerHandle pushed on and popped off the loop's heap, compared by a
Python `__lt__`, and for a timeout also cancelled and left in the heap until it comes up)
costs a sixth of a probe's user-space instructions apiece; here a step arms one timer, whose
callback runs the step's callbacks in the order they were added. A callback runs no earlier
than asked and at most one step late.
"""

from __future__ import annotations

import asyncio
import math
import weakref
from collections.abc import Callable
from typing import Any

STEP = 0.05  # seconds: the prober's wake grid


class StepTimers:
    def __init__(self, loop: asyncio.AbstractEventLoop, step: float = STEP) -> None:
        # weakly: `of` keeps these in a WeakKeyDictionary keyed by the loop
        self._loop = weakref.ref(loop)
        self.step = step
        self._due: dict[int, list[tuple[Callable[..., object], tuple[Any, ...]]]] = {}

    def call_at(self, when: float, callback: Callable[..., object], *args: Any) -> None:
        """Run `callback(*args)` at the first step at or after `when` (the loop's clock)."""
        n = math.ceil(when / self.step - 1e-6)  # a time on the grid stays in its own step
        waiting = self._due.get(n)
        if waiting is None:
            loop = self._loop()
            assert loop is not None, "the loop of these timers is gone"
            waiting = self._due[n] = []
            loop.call_at(n * self.step, self._run, n)
        waiting.append((callback, args))

    def _run(self, n: int) -> None:
        for callback, args in self._due.pop(n, ()):
            callback(*args)


_timers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, StepTimers] = (
    weakref.WeakKeyDictionary()
)


def of(loop: asyncio.AbstractEventLoop) -> StepTimers:
    """The step timers of `loop` (made on first use)."""
    found = _timers.get(loop)
    if found is None:
        found = _timers[loop] = StepTimers(loop)
    return found
