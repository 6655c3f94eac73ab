"""Prober: runs every running container's probes on the supervisor's asyncio loop.

The supervisor owns one Prober, calls `update(pods)` whenever its view of the pods changes
and `close()` on the way out. Like the kubelet's prober manager it keeps one worker (an
asyncio task, not a thread) per (pod, container, probe type) for the current container
instance: a new container id starts fresh workers, a container that is gone cancels them.
Each worker runs its handler every periodSeconds through `engine.probes` (no subprocess for
network probes), folds the result into `plan.probes`' state machine, records Unhealthy
events, publishes readiness and startup results to the store when they change (store
writes go to a thread: no SQLite on the asyncio thread), and calls
`on_restart(ProbeKill(...))` when liveness or startup fails (and `on_change(pod uid)` when a
published result changes, so a pod's owner hears of it). It restarts
nothing itself: what a kill and a restart mean is the supervisor's.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from kubeplay import log
from kubeplay.engine import steptimers
from kubeplay.engine.host import Host
from kubeplay.engine.probes import Handlers, HostHandlers
from kubeplay.plan import pods as pods_mod
from kubeplay.plan import probes
from kubeplay.plan.pods import ContainerKind, ContainerPlan, PodPlan
from kubeplay.plan.probes import ProbeKill, ProbeSpec, ProbeType
from kubeplay.state.store import PodRecord, ProbeStateRecord

OnRestart = Callable[[ProbeKill], Awaitable[None]]
OnChange = Callable[[str], Awaitable[None]]  # a pod uid whose readiness or startup changed
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
# Runs a store write off the asyncio thread (SQLite waits on its lock and the disk).
Offload = Callable[[Callable[[], object]], Awaitable[None]]


async def _to_thread(call: Callable[[], object]) -> None:
    await asyncio.to_thread(call)


WAKE_GRID = steptimers.STEP  # probes due within the same 50 ms wake the loop once


async def grid_sleep(seconds: float) -> None:
    """Sleep about `seconds`, ending on the nearest multiple of WAKE_GRID of the loop's clock
    (never earlier than half a grid step before): the probes of many pods with the same
    period then run in one wake-up of the loop rather than one each, and a probe's own
    duration does not push its next run later (period from start to start, as the kubelet's
    ticker; a probe slower than half a step slips one). The sleepers of one step share one
    timer (engine.steptimers)."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    steptimers.of(loop).call_at(grid_deadline(loop.time(), seconds), _wake, done)
    await done  # cancelled (the worker stops): _wake leaves it alone


def grid_deadline(now: float, seconds: float, grid: float = WAKE_GRID) -> float:
    """When a sleep of `seconds` from `now` ends on the grid: the nearest multiple of `grid`
    to `now + seconds`, or `now + seconds` itself if that multiple is not after `now`."""
    at = round((now + seconds) / grid) * grid
    return at if at > now else now + seconds


def _wake(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)


_log = log.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class _Target:
    """What one worker probes: a probe of one container instance."""

    pod_uid: str
    pod_ref: str
    container: str
    field_path: str
    container_id: str
    started_at: float
    pod_ip: str
    probe_type: ProbeType
    spec: ProbeSpec
    restart_policy: str
    has_startup: bool  # the container has a startup probe, which holds the other two


@dataclass
class _Published:
    """The results the store holds for one container instance."""

    container_id: str
    readiness: bool | None = None
    startup: bool | None = None


_Key = tuple[str, str, ProbeType]


class Prober:
    def __init__(
        self,
        host: Host,
        *,
        on_restart: OnRestart,
        on_change: OnChange | None = None,
        handlers: Handlers | None = None,
        clock: Clock = time.time,
        sleep: Sleep = grid_sleep,
        offload: Offload = _to_thread,
    ) -> None:
        self._host = host
        self._offload = offload
        self._writes = asyncio.Lock()
        self._on_restart = on_restart
        self._on_change = on_change
        self._handlers: Handlers = handlers or HostHandlers(runtime=None)
        self._exec_runtime = handlers is None  # the real runtime, detected on first exec probe
        self._clock = clock
        self._sleep = sleep
        self._tasks: dict[_Key, tuple[_Target, asyncio.Task[None]]] = {}
        self._published: dict[tuple[str, str], _Published] = {}
        self._plans: dict[str, tuple[str, PodPlan]] = {}  # uid -> (plan_json, plan)

    # -- what to probe ---------------------------------------------------------------------

    def _plan(self, rec: PodRecord) -> PodPlan:
        cached = self._plans.get(rec.uid)
        if cached is not None and cached[0] == rec.plan_json:
            return cached[1]
        plan = pods_mod.from_json(rec.plan_json)
        self._plans[rec.uid] = (rec.plan_json, plan)
        return plan

    def _targets(self, rec: PodRecord) -> list[_Target]:
        if rec.lifecycle == "terminating":
            return []
        plan = self._plan(rec)
        pod_ip = self._host.host_ip if plan.host_network else rec.pod_ip
        out: list[_Target] = []
        for c in rec.containers:
            if c.kind == ContainerKind.INFRA or not c.container_id or not c.pid:
                continue
            ctr = plan.container(c.name)
            if ctr is None or c.started_at is None or not _has_probes(ctr):
                continue
            if self._host.read_exit(c.container_id) is not None:
                continue  # exited: nothing to probe until it runs again
            group = "initContainers" if ctr.kind == ContainerKind.INIT else "containers"
            for probe_type, spec in (
                (ProbeType.STARTUP, ctr.startup),
                (ProbeType.LIVENESS, ctr.liveness),
                (ProbeType.READINESS, ctr.readiness),
            ):
                if spec is None:
                    continue
                out.append(
                    _Target(
                        pod_uid=rec.uid,
                        pod_ref=f"{rec.namespace}/{rec.name}",
                        container=ctr.name,
                        field_path=f"spec.{group}{{{ctr.name}}}",
                        container_id=c.container_id,
                        started_at=c.started_at,
                        pod_ip=pod_ip,
                        probe_type=probe_type,
                        spec=spec,
                        restart_policy=ctr.restart_policy or plan.restart_policy,
                        has_startup=ctr.startup is not None,
                    )
                )
        return out

    def update(self, pods: Sequence[PodRecord]) -> None:
        """Start workers for the running containers' probes of `pods`; cancel the others."""
        wanted: dict[_Key, _Target] = {}
        for rec in pods:
            for target in self._targets(rec):
                wanted[(target.pod_uid, target.container, target.probe_type)] = target
        for key, (target, task) in list(self._tasks.items()):
            if wanted.get(key) != target:
                task.cancel()
                del self._tasks[key]
        for key, target in wanted.items():
            if key not in self._tasks:
                task = asyncio.get_running_loop().create_task(
                    self._work(target), name=f"probe {target.pod_ref} {key[1]} {key[2]}"
                )
                self._tasks[key] = (target, task)
        live = {(uid, name) for uid, name, _ in wanted}
        for ref in set(self._published) - live:
            del self._published[ref]
        uids = {rec.uid for rec in pods}
        for uid in set(self._plans) - uids:
            del self._plans[uid]

    def workers(self) -> list[tuple[str, str, ProbeType]]:
        """(pod uid, container, probe type) of every running worker (for tests and status)."""
        return sorted(self._tasks)

    async def close(self) -> None:
        tasks = [task for _, task in self._tasks.values()]
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- one worker ------------------------------------------------------------------------

    def _published_for(self, t: _Target) -> _Published:
        ref = (t.pod_uid, t.container)
        current = self._published.get(ref)
        if current is None or current.container_id != t.container_id:
            current = _Published(container_id=t.container_id)
            self._published[ref] = current
        return current

    def _started(self, t: _Target) -> bool:
        """The container has started: it has no startup probe, or that probe succeeded."""
        return not t.has_startup or self._published_for(t).startup is True

    async def _publish(self, t: _Target, result: bool | None) -> None:
        pub = self._published_for(t)
        before = (pub.readiness, pub.startup)
        if t.probe_type is ProbeType.READINESS:
            pub.readiness = result
        elif t.probe_type is ProbeType.STARTUP:
            pub.startup = result
        else:
            return  # liveness has no status field: its failures become kills
        changed = before != (pub.readiness, pub.startup)
        async with self._writes:  # in order: a row written later holds the later results
            row = ProbeStateRecord(
                pod_uid=t.pod_uid,
                name=t.container,
                container_id=t.container_id,
                readiness=pub.readiness,
                startup=pub.startup,
                updated_at=self._clock(),
            )
            await self._offload(lambda: self._host.store.put_probe_state(row))
        if changed and self._on_change is not None:
            await self._on_change(t.pod_uid)

    async def _record(self, t: _Target, event: probes.ProbeEvent) -> None:
        at = self._clock()

        def add() -> None:
            with contextlib.suppress(sqlite3.IntegrityError):  # the pod is gone meanwhile
                self._host.store.add_event(
                    t.pod_uid,
                    type=event.type,
                    reason=event.reason,
                    message=event.message,
                    field_path=t.field_path,
                    at=at,
                )

        await self._offload(add)

    def _handlers_for_exec(self) -> Handlers:
        if self._exec_runtime:
            self._handlers = HostHandlers(runtime=self._host.runtime)
            self._exec_runtime = False
        return self._handlers

    async def _work(self, t: _Target) -> None:
        state = probes.initial_state(t.probe_type, t.container_id)
        if t.probe_type is not ProbeType.LIVENESS:
            await self._publish(t, state.result)
        handlers = (
            self._handlers_for_exec()
            if isinstance(t.spec.handler, probes.ExecAction)
            else self._handlers
        )
        while True:
            if probes.should_probe(
                state, t.spec, started_at=t.started_at, now=self._clock(), started=self._started(t)
            ):
                outcome = await handlers.run(
                    t.spec.handler,
                    pod_ip=t.pod_ip,
                    container_id=t.container_id,
                    timeout=float(t.spec.timeout),
                )
                verdict = probes.observe_result(
                    state,
                    outcome,
                    t.spec,
                    container=t.container,
                    restart_policy=t.restart_policy,
                )
                state = verdict.state
                for event in verdict.events:
                    await self._record(t, event)
                if verdict.changed:
                    _log.info(
                        "probe_result",
                        pod=t.pod_ref,
                        container=t.container,
                        probe=t.probe_type.value,
                        result=state.result,
                    )
                    await self._publish(t, state.result)
                if verdict.kill:
                    await self._kill(t, verdict.kill)
            await self._sleep(float(t.spec.period))

    async def _kill(self, t: _Target, message: str) -> None:
        try:
            await self._on_restart(
                ProbeKill(
                    pod_uid=t.pod_uid,
                    container=t.container,
                    container_id=t.container_id,
                    probe_type=t.probe_type,
                    message=message,
                )
            )
        except Exception as err:  # the supervisor's failure must not stop probing others
            _log.warning(
                "probe_restart_failed", pod=t.pod_ref, container=t.container, error=str(err)
            )


def _has_probes(ctr: ContainerPlan) -> bool:
    return any(p is not None for p in (ctr.liveness, ctr.readiness, ctr.startup))
