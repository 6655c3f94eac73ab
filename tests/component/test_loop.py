"""The controllers' loop (engine.loop) with scripted controllers and a fake clock.

The keyed work queue as the kubelet's pod workers and kopf's queueing have it (one worker
per key, merging, latest wins), requeue-after timers, retries typed by exception, resync
and the idle hand-off.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable

import pytest

from kubeplay.engine.loop import (
    Loop,
    ObjectKey,
    RetryBackoff,
    SyncResult,
    Timers,
    WorkQueue,
)
from kubeplay.errors import PermanentError, TemporaryError
from kubeplay.testing import FakeClock

A = ObjectKey("Pod", "default", "a")
B = ObjectKey("Pod", "default", "b")
C = ObjectKey("Pod", "default", "c")
T0 = 1_700_000_000.0


class Scripted:
    """A controller whose syncs do what the test scripts per key (default: nothing)."""

    kinds = frozenset({"Pod"})

    def __init__(self, keys: list[ObjectKey] | None = None) -> None:
        self.listed = keys or []
        self.syncs: list[ObjectKey] = []
        self.failures: list[tuple[ObjectKey, str]] = []
        self.script: dict[ObjectKey, Callable[[], SyncResult]] = {}
        self.running: Counter[ObjectKey] = Counter()
        self.most_at_once: Counter[ObjectKey] = Counter()
        self._lock = threading.Lock()

    def keys(self) -> list[ObjectKey]:
        return list(self.listed)

    def sync(self, key: ObjectKey, *, now: float) -> SyncResult:
        with self._lock:
            self.syncs.append(key)
            self.running[key] += 1
            self.most_at_once[key] = max(self.most_at_once[key], self.running[key])
        try:
            step = self.script.get(key)
            return step() if step is not None else SyncResult()
        finally:
            with self._lock:
                self.running[key] -= 1

    def failed(self, key: ObjectKey, err: PermanentError, *, now: float) -> None:
        self.failures.append((key, str(err)))


@pytest.mark.parametrize(
    ("steps", "queued", "running"),
    [
        pytest.param(["add a", "add b", "add a"], [A, B], [], id="add-while-queued-merges"),
        pytest.param(["add a", "take", "add a"], [], [A], id="add-while-running-waits"),
        pytest.param(
            ["add a", "take", "add a", "add a", "done a"], [A], [], id="runs-once-more-after"
        ),
        pytest.param(["add a", "add b", "take"], [B], [A], id="first-in-first-out"),
        pytest.param(["add a", "take", "done a"], [], [], id="done-without-new-add-is-idle"),
    ],
)
def test_work_queue(steps: list[str], queued: list[ObjectKey], running: list[ObjectKey]) -> None:
    keys = {"a": A, "b": B}
    queue = WorkQueue()
    for step in steps:
        verb, _, name = step.partition(" ")
        if verb == "add":
            queue.add(keys[name])
        elif verb == "take":
            assert queue.take() is not None
        else:
            queue.done(keys[name])
    assert list(queue.queued) == queued
    assert sorted(queue.running) == running
    assert queue.take() == (queued[0] if queued else None)


def test_timers_keep_the_earliest_deadline_per_key_and_fire_in_order() -> None:
    timers = Timers()
    timers.add(A, 30.0)
    timers.add(A, 10.0)  # earlier wins
    timers.add(A, 20.0)  # later is ignored
    timers.add(B, 5.0)
    assert timers.next_at() == 5.0
    assert timers.due(9.9) == [B]
    assert timers.due(9.9) == []
    assert timers.get(A) == 10.0
    assert timers.due(100.0) == [A]
    assert timers.next_at() is None


def test_retry_backoff_doubles_from_100_ms_to_60_s_and_resets_on_success() -> None:
    retry = RetryBackoff()
    delays = [retry.failed(A) for _ in range(12)]
    assert delays[:4] == pytest.approx([0.1, 0.2, 0.4, 0.8])
    assert delays[-1] == 60.0
    assert retry.failed(B) == pytest.approx(0.1)  # per key
    retry.succeeded(A)
    assert retry.failed(A) == pytest.approx(0.1)


def _loop(controller: Scripted, clock: FakeClock, **kwargs: object) -> Loop:
    return Loop([controller], workers=2, clock=clock, **kwargs)  # type: ignore[arg-type]


def test_a_full_pass_syncs_every_listed_key_once() -> None:
    controller = Scripted([B, A, C])
    clock = FakeClock(T0)

    async def scenario() -> None:
        loop = _loop(controller, clock)
        await loop.drain()
        assert sorted(controller.syncs) == [A, B, C]
        loop.add([A, A, A])  # merged
        await loop.drain()
        assert controller.syncs.count(A) == 2

    asyncio.run(scenario())


def test_one_worker_per_key_and_a_key_added_while_running_runs_once_more() -> None:
    """A's sync blocks; A is added twice meanwhile: it runs exactly once more, after, never
    alongside itself; B is not held up by A (another worker takes it)."""
    controller = Scripted([])
    clock = FakeClock(T0)
    release = threading.Event()
    first = [True]

    def slow() -> SyncResult:
        if first[0]:
            first[0] = False
            release.wait(10)
        return SyncResult()

    controller.script[A] = slow

    async def scenario() -> None:
        loop = _loop(controller, clock)
        await loop.drain()
        loop.add([A])
        loop.turn(clock())
        while A not in controller.running:
            await asyncio.sleep(0.001)
        loop.add([A, A, B])
        loop.turn(clock())
        while B not in controller.syncs:  # B runs on the other worker while A is held
            await asyncio.sleep(0.001)
        assert controller.syncs.count(A) == 1
        release.set()
        await loop.drain()
        assert controller.syncs.count(A) == 2
        assert controller.most_at_once[A] == 1

    asyncio.run(scenario())


def test_a_key_gone_from_a_full_pass_while_its_sync_runs_is_synced_once_more() -> None:
    """A's sync read A before it was deleted (it needs the supervisor); a full pass that no
    longer lists A comes meanwhile: A runs once more after, sees it gone, and stops needing
    the supervisor (a watched source unwatched during its reconcile kept an idle supervisor
    up for a whole interval)."""
    controller = Scripted([A])
    clock = FakeClock(T0)
    release = threading.Event()
    first = [True]

    def read_before_deleted() -> SyncResult:
        if first[0]:
            first[0] = False
            release.wait(10)
            return SyncResult(needs_supervisor=True)
        return SyncResult()

    controller.script[A] = read_before_deleted

    async def scenario() -> None:
        loop = _loop(controller, clock)
        while A not in controller.running:  # the first full pass lists A and syncs it
            loop.turn(clock())
            await asyncio.sleep(0.001)
        controller.listed = []
        loop.request_full()
        loop.turn(clock())
        while loop.listing:  # the pass that no longer lists A, while A's sync runs
            await asyncio.sleep(0.001)
        release.set()
        await loop.drain()
        assert controller.syncs == [A, A]
        assert loop.needs == {A: False}

    asyncio.run(scenario())


def test_requeue_after_is_a_timer_on_the_fake_clock() -> None:
    controller = Scripted([A])
    controller.script[A] = lambda: SyncResult(requeue_after=10.0, needs_supervisor=True)
    clock = FakeClock(T0)

    async def scenario() -> None:
        loop = _loop(controller, clock, resync={})
        await loop.drain()
        assert controller.syncs == [A]
        assert loop.timers.get(A) == T0 + 10.0
        clock.advance(9.9)
        await loop.drain()
        assert controller.syncs == [A]
        clock.advance(0.1)
        await loop.drain()
        assert controller.syncs == [A, A]

    asyncio.run(scenario())


def test_errors_are_typed_temporary_permanent_or_backed_off() -> None:
    controller = Scripted([A, B, C])

    def temporary() -> SyncResult:
        raise TemporaryError("configmap cfg not found", delay=5.0)

    def permanent() -> SyncResult:
        raise PermanentError("cannot ever run")

    def boom() -> SyncResult:
        raise RuntimeError("bug")

    controller.script.update({A: temporary, B: permanent, C: boom})
    clock = FakeClock(T0)

    async def scenario() -> None:
        loop = _loop(controller, clock, resync={})
        await loop.drain()
        assert loop.timers.get(A) == T0 + 5.0
        assert loop.timers.get(B) is None  # not retried by itself
        assert controller.failures == [(B, "cannot ever run")]
        assert loop.timers.get(C) == pytest.approx(T0 + 0.1)
        assert loop.needs == {A: True, B: False, C: True}
        clock.advance(0.1)
        await loop.drain()
        assert loop.timers.get(C) == pytest.approx(T0 + 0.1 + 0.2)  # doubled
        controller.script[C] = SyncResult
        clock.advance(0.2)
        await loop.drain()
        assert loop.timers.get(C) is None
        assert loop.retry.failed(C) == pytest.approx(0.1)  # reset by the success

    asyncio.run(scenario())


def test_resync_lists_every_key_again_after_its_period() -> None:
    controller = Scripted([A])
    clock = FakeClock(T0)

    async def scenario() -> None:
        loop = _loop(controller, clock, resync={"Pod": 10.0})
        await loop.drain()
        clock.advance(5)
        await loop.drain()
        assert controller.syncs == [A]
        controller.listed = [A, B]
        clock.advance(5)
        await loop.drain()
        assert sorted(controller.syncs) == [A, A, B]

    asyncio.run(scenario())


def test_a_kinds_resync_lists_only_its_controller_and_also_keys_are_queued() -> None:
    pods = Scripted([A])
    owners = Scripted([ObjectKey("ReplicaSet", "default", "web")])
    owners.kinds = frozenset({"ReplicaSet"})  # type: ignore[misc]
    rs = ObjectKey("ReplicaSet", "default", "web")
    pods.script[A] = lambda: SyncResult(also=(rs,))  # a pod that changed names its owner
    clock = FakeClock(T0)

    async def scenario() -> None:
        loop = Loop(
            [pods, owners],  # type: ignore[list-item]
            workers=2,
            clock=clock,
            resync={"Pod": 10.0, "ReplicaSet": 30.0},
        )
        await loop.drain()
        assert pods.syncs == [A] and owners.syncs == [rs, rs]  # listed, then named by A
        pods.script.pop(A)
        clock.advance(10)  # the pods' resync: the ReplicaSets are not listed again
        await loop.drain()
        assert (pods.syncs, owners.syncs) == ([A, A], [rs, rs])
        clock.advance(20)  # 30 s: both kinds are due
        await loop.drain()
        assert (pods.syncs, owners.syncs) == ([A, A, A], [rs, rs, rs])

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("needs", "handed_over"),
    [
        pytest.param(False, True, id="nothing-needs-the-supervisor-it-exits"),
        pytest.param(True, False, id="a-pod-needs-the-supervisor-it-stays"),
    ],
)
def test_idle_exit_asks_on_idle_only_when_no_key_needs_the_supervisor(
    needs: bool, handed_over: bool
) -> None:
    controller = Scripted([A])
    controller.script[A] = lambda: SyncResult(needs_supervisor=needs)
    asked: list[bool] = []

    async def on_idle() -> bool:
        asked.append(True)
        return True

    async def scenario() -> None:
        loop = Loop([controller], workers=1, idle_seconds=0.0, on_idle=on_idle)
        runner = asyncio.create_task(loop.run())
        await asyncio.wait([runner], timeout=0.5)
        if not runner.done():
            loop.stop()
            await runner
        assert bool(asked) is handed_over

    asyncio.run(scenario())


def test_the_fixture_fails_a_test_that_leaves_a_task_pending(
    no_pending_tasks: list[str],
) -> None:
    async def forever() -> None:
        await asyncio.Event().wait()

    async def scenario() -> None:
        asyncio.get_running_loop().create_task(forever(), name="stray")

    asyncio.run(scenario())
    assert no_pending_tasks == ["stray"]
    no_pending_tasks.clear()  # seen: this one test passes


def test_a_syncs_log_events_name_its_object() -> None:
    """kopf's ObjectLogger: every event a sync logs carries the key it is about."""
    import io
    import json

    from kubeplay import log

    stream = io.StringIO()
    controller = Scripted([A])

    def logs() -> SyncResult:
        log.get_logger("test").info("pod_sync")
        return SyncResult()

    controller.script[A] = logs
    log.configure(level="info", stream=stream)
    try:
        asyncio.run(_loop(controller, FakeClock(T0)).drain())
    finally:
        log.configure()
    (line,) = [json.loads(x) for x in stream.getvalue().splitlines() if "pod_sync" in x]
    assert (line["kind"], line["object"]) == ("Pod", "default/a")
