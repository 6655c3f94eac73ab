"""engine.steptimers: callbacks due in the same 50 ms step of the loop's clock share one
timer, each runs no earlier than asked and at most one step late, in the order added; and a
plain-HTTP exchange's expiry (its deadline on those timers) leaves an answered one alone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

import pytest

from kubeplay.engine import probes, steptimers


class FakeLoop:
    """The loop's call_at, recorded instead of run (a fake clock: nothing sleeps)."""

    def __init__(self) -> None:
        self.timers: list[tuple[float, Callable[..., object], tuple[Any, ...]]] = []

    def call_at(self, when: float, callback: Callable[..., object], *args: Any) -> None:
        self.timers.append((when, callback, args))

    def fire(self, index: int) -> None:
        _when, callback, args = self.timers[index]
        callback(*args)


def _timers(loop: FakeLoop) -> steptimers.StepTimers:
    return steptimers.StepTimers(cast(asyncio.AbstractEventLoop, loop))


@pytest.mark.parametrize(
    ("whens", "timers"),
    [
        pytest.param([101.0] * 50, [101.0], id="a-batch-of-probes-arms-one-timer"),
        pytest.param([101.001, 101.049], [101.05], id="one-step-one-timer"),
        pytest.param([101.0, 101.06], [101.0, 101.1], id="two-steps-two-timers"),
        pytest.param([2020 * 0.05], [101.0], id="a-time-on-the-grid-keeps-its-step"),
    ],
)
def test_callbacks_of_a_step_share_one_timer(whens: list[float], timers: list[float]) -> None:
    loop = FakeLoop()
    due = _timers(loop)
    for when in whens:
        due.call_at(when, lambda: None)
    assert [when for when, _, _ in loop.timers] == pytest.approx(timers)
    for when in whens:
        fires = min(at for at, _, _ in loop.timers if at >= when - 1e-6)
        assert when - 1e-6 <= fires < when + steptimers.STEP


def test_a_step_runs_its_callbacks_once_in_order() -> None:
    loop = FakeLoop()
    due = _timers(loop)
    ran: list[str] = []
    due.call_at(101.0, ran.append, "first")
    due.call_at(101.0, ran.append, "second")
    due.call_at(102.0, ran.append, "later")
    loop.fire(0)
    assert ran == ["first", "second"]
    loop.fire(0)  # a step runs once
    loop.fire(1)
    assert ran == ["first", "second", "later"]


def test_the_timers_of_a_finished_loop_go_with_it() -> None:
    import gc

    async def use() -> None:
        steptimers.of(asyncio.get_running_loop()).call_at(0.0, lambda: None)

    before = len(steptimers._timers)
    asyncio.run(use())
    gc.collect()
    assert len(steptimers._timers) == before


def test_an_exchange_answered_in_time_does_not_time_out() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        answered = object.__new__(probes._PlainExchange)
        answered.done = loop.create_future()
        answered.done.set_result(b"HTTP/1.1 200 OK\r\n\r\n")
        answered.expire()
        assert answered.done.result() == b"HTTP/1.1 200 OK\r\n\r\n"
        waiting = object.__new__(probes._PlainExchange)
        waiting.done = loop.create_future()
        waiting.expire()
        with pytest.raises(TimeoutError):
            waiting.done.result()

    asyncio.run(main())
