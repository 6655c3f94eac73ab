"""Plain-HTTP probe timeouts (engine.probes._Deadlines): exchanges due in the same 50 ms step
of the loop's clock share one timer, each times out no earlier than its deadline and at most
one step late, and one answered in time is left alone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

import pytest

from kubeplay.engine import probes


class FakeLoop:
    """The loop's call_at, recorded instead of run (a fake clock: nothing sleeps)."""

    def __init__(self) -> None:
        self.timers: list[tuple[float, Callable[..., object], tuple[Any, ...]]] = []

    def call_at(self, when: float, callback: Callable[..., object], *args: Any) -> None:
        self.timers.append((when, callback, args))

    def fire_all(self) -> None:
        for _when, callback, args in self.timers:
            callback(*args)


class FakeExchange:
    def __init__(self) -> None:
        self.expired = 0

    def expire(self) -> None:
        self.expired += 1


def _deadlines(loop: FakeLoop) -> probes._Deadlines:
    return probes._Deadlines(cast(asyncio.AbstractEventLoop, loop))


def _add(deadlines: probes._Deadlines, at: float, exchange: FakeExchange) -> None:
    deadlines.add(at, cast(probes._PlainExchange, exchange))


@pytest.mark.parametrize(
    ("deadlines", "timers"),
    [
        pytest.param([101.0] * 50, [101.0], id="a-batch-of-probes-arms-one-timer"),
        pytest.param([101.001, 101.049], [101.05], id="one-step-one-timer"),
        pytest.param([101.0, 101.06], [101.0, 101.1], id="two-steps-two-timers"),
    ],
)
def test_deadlines_share_a_timer_per_step(deadlines: list[float], timers: list[float]) -> None:
    loop = FakeLoop()
    due = _deadlines(loop)
    for at in deadlines:
        _add(due, at, FakeExchange())
    assert [when for when, _, _ in loop.timers] == pytest.approx(timers)
    for at, (when, _, _) in zip(sorted(set(deadlines)), loop.timers, strict=False):
        assert at <= when + 1e-9 < at + probes._Deadlines.STEP


def test_each_exchange_is_expired_once_when_its_step_comes() -> None:
    loop = FakeLoop()
    due = _deadlines(loop)
    first, second, later = FakeExchange(), FakeExchange(), FakeExchange()
    _add(due, 101.0, first)
    _add(due, 101.0, second)
    _add(due, 102.0, later)
    _when, callback, args = loop.timers[0]
    callback(*args)
    assert (first.expired, second.expired, later.expired) == (1, 1, 0)
    loop.fire_all()
    assert (first.expired, second.expired, later.expired) == (1, 1, 1)


def test_an_exchange_answered_in_time_does_not_time_out() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        exchange = object.__new__(probes._PlainExchange)
        exchange.done = loop.create_future()
        exchange.done.set_result(b"HTTP/1.1 200 OK\r\n\r\n")
        exchange.expire()
        assert exchange.done.result() == b"HTTP/1.1 200 OK\r\n\r\n"
        waiting = object.__new__(probes._PlainExchange)
        waiting.done = loop.create_future()
        waiting.expire()
        with pytest.raises(TimeoutError):
            waiting.done.result()

    asyncio.run(main())
