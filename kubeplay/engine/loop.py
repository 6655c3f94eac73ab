"""The controllers' loop: one asyncio loop, a keyed work queue, timers and a few threads.

A controller syncs one object key at a time (`Controller.sync`), level-triggered: it looks
at the store and the runtime, acts, and says when to look again and whether the supervisor
must stay up for it. The loop decides only *when* a key is synced:

- `WorkQueue`: one worker per key at a time; a key added while queued merges with it, a key
  added while its sync runs is synced once more afterwards, so the latest state always wins
  (kubelet `pod_workers.go`: "a new update may always replace a pending update"; kopf's
  `_core/reactor/queueing.py`).
- `Timers`: requeue-after deadlines on a heap, the earliest per key (back-offs, deadlines).
- `RetryBackoff`: an unexpected exception retries the key after 100 ms, doubling to 60 s
  (kopf); `TemporaryError(delay)` retries after its delay; `PermanentError` goes to the
  controller's `failed` (an event) and is not retried by itself.
- Resync: every key of a kind is listed again every `resync[kind]` seconds (pods: 10 s; only
  that kind's controller lists), and every key of every kind on `request_full` (a nudge
  naming no key, an exit nobody knows).
- Idle: with `on_idle`, once nothing is queued or running and no key needs the supervisor
  for `idle_seconds`, `on_idle` decides whether to stop.

Syncs run in a thread pool of `workers` threads, so a slow image pull holds up its own pod
only; nothing here touches the store on the asyncio thread. The loop decides nothing about
objects: what a sync does is its controller's.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import itertools
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from kubeplay import log
from kubeplay.errors import PermanentError, TemporaryError

RESYNC_SECONDS = 10.0  # pods: every key looked at at least this often
IDLE_SECONDS = 1.0  # nothing needs the supervisor this long: ask on_idle
RETRY_BASE = 0.1  # an unexpected error: first retry after this, doubling
RETRY_CAP = 60.0
AFTER_SYNC_SECONDS = 0.5  # while syncs go on, after_sync at most this often

_log = log.get_logger(__name__)


@dataclass(frozen=True, slots=True, order=True)
class ObjectKey:
    """What a controller syncs: an object by kind, namespace and name (not uid: a pod
    replaced under the same name is the same key, and its latest version wins)."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind.lower()}/{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class SyncResult:
    """`requeue_after`: sync the key again after this many seconds (None: only on a
    trigger or resync); `needs_supervisor`: the object needs the supervisor to stay up;
    `also`: keys this sync affected (the pods an owner made, the owner of a pod that
    changed), queued at once."""

    requeue_after: float | None = None
    needs_supervisor: bool = False
    also: tuple[ObjectKey, ...] = ()  # other keys to sync now (a pod's owner, new pods)


class Controller(Protocol):
    """One kind's (or a few kinds') reconciler. `sync` and `keys` run in a worker thread."""

    @property
    def kinds(self) -> frozenset[str]: ...

    def keys(self) -> list[ObjectKey]:
        """Every key of its kinds now (a full pass)."""
        ...

    def sync(self, key: ObjectKey, *, now: float) -> SyncResult: ...

    def failed(self, key: ObjectKey, err: PermanentError, *, now: float) -> None:
        """Record a sync's permanent failure (an event, a status)."""
        ...


class WorkQueue:
    """Keys waiting for a sync, in arrival order, at most once each; keys being synced."""

    def __init__(self) -> None:
        self._queued: dict[ObjectKey, None] = {}  # an ordered set
        self._running: set[ObjectKey] = set()
        self._again: set[ObjectKey] = set()

    def add(self, key: ObjectKey) -> None:
        if key in self._running:
            self._again.add(key)  # runs once more after the current sync
        else:
            self._queued.setdefault(key, None)  # merges with a queued one

    def take(self) -> ObjectKey | None:
        """The next key to sync (now marked running), or None."""
        for key in self._queued:
            del self._queued[key]
            self._running.add(key)
            return key
        return None

    def done(self, key: ObjectKey) -> None:
        self._running.discard(key)
        if key in self._again:
            self._again.discard(key)
            self._queued.setdefault(key, None)

    @property
    def queued(self) -> tuple[ObjectKey, ...]:
        return tuple(self._queued)

    @property
    def running(self) -> frozenset[ObjectKey]:
        return frozenset(self._running)

    def idle(self) -> bool:
        return not self._queued and not self._running


class Timers:
    """Requeue-after deadlines: the earliest one per key counts."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, ObjectKey]] = []
        self._at: dict[ObjectKey, float] = {}
        self._seq = itertools.count()

    def add(self, key: ObjectKey, at: float) -> None:
        current = self._at.get(key)
        if current is not None and current <= at:
            return
        self._at[key] = at
        heapq.heappush(self._heap, (at, next(self._seq), key))

    def _drop_stale(self) -> None:
        while self._heap and self._at.get(self._heap[0][2]) != self._heap[0][0]:
            heapq.heappop(self._heap)

    def due(self, now: float) -> list[ObjectKey]:
        """Remove and return the keys whose deadline has come, earliest first."""
        out: list[ObjectKey] = []
        self._drop_stale()
        while self._heap and self._heap[0][0] <= now:
            _, _, key = heapq.heappop(self._heap)
            del self._at[key]
            out.append(key)
            self._drop_stale()
        return out

    def next_at(self) -> float | None:
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def get(self, key: ObjectKey) -> float | None:
        return self._at.get(key)


class RetryBackoff:
    """Per-key delay after unexpected errors: base, doubling up to cap; reset on success."""

    def __init__(self, *, base: float = RETRY_BASE, cap: float = RETRY_CAP) -> None:
        self.base = base
        self.cap = cap
        self._delays: dict[ObjectKey, float] = {}

    def failed(self, key: ObjectKey) -> float:
        previous = self._delays.get(key)
        delay = self.base if previous is None else min(self.cap, previous * 2)
        self._delays[key] = delay
        return delay

    def succeeded(self, key: ObjectKey) -> None:
        self._delays.pop(key, None)


@dataclass(frozen=True, slots=True)
class _Outcome:
    result: SyncResult
    error: bool = False  # an unexpected exception: back off


class Loop:
    def __init__(
        self,
        controllers: Sequence[Controller],
        *,
        workers: int = 4,
        clock: Callable[[], float] = time.time,
        resync: Mapping[str, float] | None = None,
        idle_seconds: float = IDLE_SECONDS,
        on_idle: Callable[[], Awaitable[bool]] | None = None,
        after_sync: Callable[[], None] | None = None,
        retry: RetryBackoff | None = None,
    ) -> None:
        self._controllers = list(controllers)
        self._by_kind: dict[str, Controller] = {}
        for controller in self._controllers:
            for kind in controller.kinds:
                self._by_kind[kind] = controller
        self.workers = max(1, workers)
        self.clock = clock
        self.resync = dict(resync if resync is not None else {"Pod": RESYNC_SECONDS})
        self.idle_seconds = idle_seconds
        self.on_idle = on_idle
        self.after_sync = after_sync
        self.retry = retry or RetryBackoff()
        self.queue = WorkQueue()
        self.timers = Timers()
        self.needs: dict[ObjectKey, bool] = {}
        self._full = True  # list every key on the first turn
        self._due: set[str] = set()  # kinds whose resync is due (listed on their own)
        self._next_resync: dict[str, float] = {}
        self._stopping = False
        self._wake: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._listing: asyncio.Task[None] | None = None
        self._synced = False  # a sync finished since after_sync last ran
        self._after_sync_at = 0.0
        self._executor: ThreadPoolExecutor | None = None

    # --- triggers (call on the loop's thread) -------------------------------------------

    def add(self, keys: Iterable[ObjectKey]) -> None:
        """Sync these keys as soon as a worker is free."""
        for key in keys:
            if key.kind in self._by_kind:
                self.queue.add(key)
        self._poke()

    def request_full(self) -> None:
        """List and sync every key of every controller."""
        self._full = True
        self._poke()

    def stop(self) -> None:
        self._stopping = True
        self._poke()

    @property
    def listing(self) -> bool:
        """A full pass (or a kind's resync) is listing keys."""
        return self._listing is not None

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    # --- running ------------------------------------------------------------------------

    async def run(self) -> None:
        """Sync keys until `stop()` (or `on_idle` says so)."""
        self._wake = asyncio.Event()
        idle_since: float | None = None
        try:
            while not self._stopping:
                self._wake.clear()
                now = self.clock()
                self.turn(now)
                if self._listing is None and self.queue.idle() and not self._full:
                    if self.on_idle is None or any(self.needs.values()):
                        idle_since = None
                    elif idle_since is None:
                        idle_since = now
                    elif now - idle_since >= self.idle_seconds:
                        idle_since = None
                        if await self.on_idle():
                            return
                        self.request_full()
                        continue
                else:
                    idle_since = None
                wake_at = [*self._next_resync.values()]
                if (at := self.timers.next_at()) is not None:
                    wake_at.append(at)
                if idle_since is not None:
                    wake_at.append(idle_since + self.idle_seconds)
                timeout = max(0.0, min(wake_at) - self.clock()) if wake_at else None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
        finally:
            await self.drain_running()
            if self._executor is not None:
                self._executor.shutdown(wait=False)
                self._executor = None

    def turn(self, now: float) -> None:
        """One step: resyncs and timers that are due queue their keys, free workers take
        keys, and `after_sync` runs if a sync finished since the last turn."""
        for kind, period in self.resync.items():
            if now >= self._next_resync.get(kind, 0.0):
                self._due.add(kind)  # only that kind's controller lists its keys
                self._next_resync[kind] = now + period
        if self._due and self._listing is None and not self._full:
            due, self._due = self._due, set()
            self._listing = asyncio.get_running_loop().create_task(
                self._list(due), name="list keys"
            )
        for key in self.timers.due(now):
            self.queue.add(key)
        if self._full and self._listing is None:
            self._full = False
            self._due = set()
            self._listing = asyncio.get_running_loop().create_task(self._list(), name="list keys")
        self._dispatch()
        # after_sync once a batch is done, or every AFTER_SYNC_SECONDS while syncs go on
        # (50 pods resynced must not mean 50 passes of the prober over 50 pods).
        if self._synced and (self.queue.idle() or now - self._after_sync_at >= AFTER_SYNC_SECONDS):
            self._synced = False
            self._after_sync_at = now
            if self.after_sync is not None:
                self.after_sync()

    async def drain(self, *, timeout: float = 30.0) -> None:
        """Turn until nothing is queued, listing or running (tests: the clock stands)."""

        async def _until_idle() -> None:
            while True:
                self.turn(self.clock())
                if self._listing is None and self.queue.idle() and not self._full:
                    self.turn(self.clock())  # after_sync of the last sync
                    return
                await asyncio.wait(
                    [*self._tasks, *([self._listing] if self._listing else [])],
                    return_when=asyncio.FIRST_COMPLETED,
                )

        await asyncio.wait_for(_until_idle(), timeout)

    async def drain_running(self) -> None:
        """Wait for the syncs under way (threads cannot be cancelled)."""
        pending = [*self._tasks, *([self._listing] if self._listing else [])]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=self.workers, thread_name_prefix="kubeplay-sync"
            )
        return self._executor

    async def _list(self, kinds: set[str] | None = None) -> None:
        """List the keys of every controller (a full pass), or of those of `kinds` (their
        resync is due), and queue them."""
        try:
            listed: list[ObjectKey] = []
            chosen = [c for c in self._controllers if kinds is None or c.kinds & kinds]
            for controller in chosen:
                keys = await asyncio.get_running_loop().run_in_executor(
                    self._pool(), controller.keys
                )
                listed.extend(keys)
            known = set(listed)
            covered = {k for c in chosen for k in c.kinds}
            running = self.queue.running
            for key in (set(self.needs) | running) - known:
                if key.kind not in covered:
                    continue
                if key in running:  # its sync may have read it before it went:
                    self.queue.add(key)  # once more after, to see it gone
                else:
                    del self.needs[key]
            for key in listed:
                self.queue.add(key)
        except Exception as err:  # a listing failure: try the full pass again shortly
            _log.error("controller_list_failed", error=repr(err))
            self._next_resync = {kind: self.clock() + RETRY_BASE for kind in self.resync}
        finally:
            self._listing = None
            self._poke()

    def _dispatch(self) -> None:
        loop = asyncio.get_running_loop()
        while len(self._tasks) < self.workers:
            key = self.queue.take()
            if key is None:
                return
            task = loop.create_task(self._work(key), name=f"sync {key}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _work(self, key: ObjectKey) -> None:
        controller = self._by_kind[key.kind]
        try:
            outcome = await asyncio.get_running_loop().run_in_executor(
                self._pool(), functools.partial(self._sync, controller, key)
            )
        finally:
            self.queue.done(key)
            self._synced = True
            self._poke()
        self.needs[key] = outcome.result.needs_supervisor
        if outcome.result.also:
            self.add(k for k in outcome.result.also if k != key)
        if outcome.error:
            self.timers.add(key, self.clock() + self.retry.failed(key))
            return
        self.retry.succeeded(key)
        if outcome.result.requeue_after is not None:
            self.timers.add(key, self.clock() + max(0.0, outcome.result.requeue_after))

    def _sync(self, controller: Controller, key: ObjectKey) -> _Outcome:
        """In a worker thread: the sync, its exceptions sorted by type."""
        now = self.clock()
        with log.bound(kind=key.kind, object=f"{key.namespace}/{key.name}"):
            return self._sync_bound(controller, key, now)

    def _sync_bound(self, controller: Controller, key: ObjectKey, now: float) -> _Outcome:
        try:
            return _Outcome(controller.sync(key, now=now))
        except TemporaryError as err:
            _log.info("sync_retry", key=str(key), error=str(err), delay=err.delay)
            return _Outcome(SyncResult(requeue_after=err.delay, needs_supervisor=True))
        except PermanentError as err:
            _log.warning("sync_failed_permanently", key=str(key), error=str(err))
            try:
                controller.failed(key, err, now=now)
            except Exception as report:  # recording it failed: retry the whole sync
                _log.error("sync_report_failed", key=str(key), error=repr(report))
                return _Outcome(SyncResult(needs_supervisor=True), error=True)
            return _Outcome(SyncResult(needs_supervisor=False))
        except Exception as err:  # one object's trouble must not stop the others
            _log.error("sync_failed", key=str(key), error=repr(err))
            return _Outcome(SyncResult(needs_supervisor=True), error=True)
