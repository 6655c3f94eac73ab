"""Component tests: the engine with fakes (kubeplay.testing) and a real store, no root.

Every test here that runs an event loop must leave no task behind: `asyncio.run` is wrapped
so that tasks still pending when its coroutine returns fail the test (they would be
cancelled silently otherwise, hiding a worker or timer that outlives its owner).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def no_pending_tasks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    left: list[str] = []
    real_run = asyncio.run

    async def checked(main: Coroutine[Any, Any, Any]) -> Any:
        result = await main
        await asyncio.sleep(0)  # let tasks that were just cancelled finish
        me = asyncio.current_task()
        left.extend(t.get_name() for t in asyncio.all_tasks() if t is not me and not t.done())
        return result

    def run(main: Coroutine[Any, Any, Any], **kwargs: Any) -> Any:
        return real_run(checked(main), **kwargs)

    monkeypatch.setattr(asyncio, "run", run)
    yield left
    if left:
        pytest.fail(f"asyncio tasks left pending: {sorted(left)}")
