"""The workload controllers, and running them once in a command's own process.

`workload_controllers(host)` is the registry of the controllers of kinds that own pods or
other objects (Deployment, ReplicaSet, StatefulSet, DaemonSet; Jobs... add theirs here): the
supervisor runs them on its loop beside the pod controller, and `reconcile` runs the same
ones in a command's process for the keys the command touched and their dependents
(Deployment -> ReplicaSet -> Pods), so that `play` or `apply` of a Deployment returns with
its pods created (the command then starts them itself and fails fast), and `scale` with its
pods created or marked for deletion. What is left (Ready-gated rollout steps, pods ending
their grace period) is the supervisor's, which the command nudges with the keys.

Each workload controller takes its object's key lock (a blocking flock) around its sync,
so a command and the supervisor never sync one object at once (no duplicate pods: the pod
rows are written before anything runs, so one writer at a time needs no "expectations").
A command must therefore not hold that key's lock when it calls `reconcile`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from kubeplay import log
from kubeplay.engine.host import Host
from kubeplay.engine.loop import Controller, ObjectKey, SyncResult
from kubeplay.engine.workloadkinds import WORKLOAD_KINDS as WORKLOAD_KINDS
from kubeplay.engine.workloadkinds import workloads_stored as workloads_stored
from kubeplay.state.store import PodRecord

if TYPE_CHECKING:
    from kubeplay.errors import PermanentError

# Kinds other than pods: every key looked at again this often, a safety net for a missed
# trigger only (as an informer's resync). What they depend on reaches them as keys: a command's
# nudge, a changed pod (its owner), what a sync wrote (`also`), and time as `requeue_after`
# (CronJob schedules, deadlines, back-offs, minReadySeconds); an idle supervisor does not
# wake to sync settled objects (issue #12: 10 CronJobs and 10 Deployments under 0.5 % of a core).
OTHER_RESYNC_SECONDS = 600.0
MAX_SYNCS_PER_KEY = 2  # in a command: a key named again by its dependents, synced once more

_log = log.get_logger(__name__)


class WorkloadController(Controller, Protocol):
    def needed(self) -> bool:
        """Whether any object of its kinds needs the supervisor now (a rollout under way, a
        timer), from the store alone: a command asks before it starts a supervisor."""
        ...


def workload_controllers(
    host: Host,
    *,
    clock: Callable[[], float] = time.time,
    held: frozenset[ObjectKey] = frozenset(),
    wait: bool = True,
) -> list[WorkloadController]:
    """Every workload controller, in dependency order (owners before what they own).
    `held`: keys whose lock the calling command holds (their syncs take it no more);
    `wait`: wait for an object's lock (a command) or requeue while it is held (the
    supervisor, whose workers must not block on a command)."""
    from kubeplay.engine.controllers.cronjobs import CronJobController
    from kubeplay.engine.controllers.daemonsets import DaemonSetController
    from kubeplay.engine.controllers.deployments import DeploymentController
    from kubeplay.engine.controllers.jobs import JobController
    from kubeplay.engine.controllers.replicasets import ReplicaSetController
    from kubeplay.engine.controllers.statefulsets import StatefulSetController

    return [
        DeploymentController(host, clock=clock, held=held, wait=wait),
        ReplicaSetController(host, clock=clock, held=held, wait=wait),
        CronJobController(host, clock=clock, held=held, wait=wait),
        JobController(host, clock=clock, held=held, wait=wait),
        StatefulSetController(host, clock=clock, held=held, wait=wait),
        DaemonSetController(host, clock=clock, held=held, wait=wait),
    ]


def resync_periods() -> dict[str, float]:
    """Seconds between full passes over each workload kind."""
    return dict.fromkeys(WORKLOAD_KINDS, OTHER_RESYNC_SECONDS)


def any_needed(host: Host) -> bool:
    if not workloads_stored(host):
        return False  # without importing the controllers (a command asks this)
    return any(c.needed() for c in workload_controllers(host))


def deferred_workload_controllers(
    host: Host, *, clock: Callable[[], float] = time.time, wait: bool = True
) -> list[WorkloadController]:
    """`workload_controllers`, made at the first full pass that finds a workload object
    (`workloads_stored`), or at a sync of one of their keys: the supervisor keeps what it
    imports for as long as pods run, and the controllers with their planners are ~1.3 MB
    that a supervisor of plain pods never uses (issue 11: memory per pod)."""
    made: dict[str, WorkloadController] = {}
    lock = threading.Lock()

    def controller(kind: str, *, force: bool) -> WorkloadController | None:
        with lock:
            if not made and (force or workloads_stored(host)):
                for c in workload_controllers(host, clock=clock, wait=wait):
                    made.update(dict.fromkeys(c.kinds, c))
            return made.get(kind)

    return [_Deferred(kind, controller) for kind in WORKLOAD_KINDS]


class _Deferred:
    """One workload kind's controller, made by `controller(kind, force=...)` when needed."""

    def __init__(self, kind: str, controller: Callable[..., WorkloadController | None]) -> None:
        self.kinds = frozenset({kind})
        self._kind = kind
        self._controller = controller

    def _made(self, *, force: bool) -> WorkloadController | None:
        return self._controller(self._kind, force=force)

    def keys(self) -> list[ObjectKey]:
        made = self._made(force=False)
        return made.keys() if made is not None else []

    def needed(self) -> bool:
        made = self._made(force=False)
        return made is not None and made.needed()

    def _forced(self) -> WorkloadController:
        made = self._made(force=True)
        assert made is not None, self._kind  # workload_controllers has every WORKLOAD_KIND
        return made

    def sync(self, key: ObjectKey, *, now: float) -> SyncResult:
        return self._forced().sync(key, now=now)

    def failed(self, key: ObjectKey, err: PermanentError, *, now: float) -> None:
        self._forced().failed(key, err, now=now)


@dataclass(frozen=True, slots=True)
class Reconciled:
    synced: tuple[ObjectKey, ...] = ()  # the workload keys synced, in order
    pods: tuple[ObjectKey, ...] = ()  # the pods those syncs made or deleted
    needs_supervisor: bool = False  # something is left to the supervisor (nudge it)


def reconcile(
    host: Host,
    keys: Iterable[ObjectKey],
    *,
    clock: Callable[[], float] = time.time,
    controllers: Sequence[Controller] | None = None,
) -> Reconciled:
    """Sync `keys` and the keys their syncs name (`SyncResult.also`: a Deployment's
    ReplicaSets, then their pods) once each, in this process, in order. Pod keys are not
    synced: they are returned, for the command to start (or leave to the supervisor)."""
    chosen = (
        list(controllers) if controllers is not None else workload_controllers(host, clock=clock)
    )
    by_kind: dict[str, Controller] = {}
    for controller in chosen:
        for kind in controller.kinds:
            by_kind[kind] = controller
    queue: list[ObjectKey] = list(dict.fromkeys(keys))
    counts: dict[ObjectKey, int] = {}
    synced: list[ObjectKey] = []
    pods: dict[ObjectKey, None] = {}
    needs = False
    while queue:
        key = queue.pop(0)
        if key.kind == "Pod":
            pods[key] = None
            continue
        owner = by_kind.get(key.kind)
        if owner is None or counts.get(key, 0) >= MAX_SYNCS_PER_KEY:
            continue
        counts[key] = counts.get(key, 0) + 1
        with log.bound(kind=key.kind, object=f"{key.namespace}/{key.name}"):
            result = owner.sync(key, now=clock())
        synced.append(key)
        needs = needs or result.needs_supervisor or result.requeue_after is not None
        for other in result.also:
            if other.kind == "Pod":
                pods[other] = None
            elif other != key and other not in queue:
                queue.append(other)
    return Reconciled(synced=tuple(synced), pods=tuple(pods), needs_supervisor=needs)


def start_pods(
    host: Host,
    keys: Iterable[ObjectKey],
    *,
    parallelism: int,
    held: frozenset[ObjectKey] = frozenset(),
) -> list[BaseException]:
    """Start, in this process and under their locks, the pods of `keys` that are bound but
    have no sandbox yet (the ones `reconcile` made), as `play` starts its pods: init
    containers run to completion, and a failure is returned (one per pod), not retried.
    Pods the supervisor already started, unscheduled or terminating ones are left alone.
    `held`: pod keys whose lock the caller holds already (a flock is not re-entrant)."""
    from concurrent.futures import ThreadPoolExecutor

    from kubeplay.engine import locks, pods
    from kubeplay.kube.kinds import ObjectKey as LockKey
    from kubeplay.plan import pods as plans

    def startable(key: ObjectKey) -> PodRecord | None:
        rec = host.store.get_pod(key.namespace, key.name)
        if rec is None or rec.lifecycle != "active" or pods.observe(host, rec).sandbox_id:
            return None  # gone, unscheduled, terminating, or started already
        return rec

    def start(key: ObjectKey) -> None:
        if startable(key) is None:
            return
        lock = [] if key in held else [LockKey("", "Pod", key.namespace, key.name)]
        with locks.key_locks(host.settings.locks_dir, lock):
            rec = startable(key)
            if rec is not None:
                pods.sync_pod(host, plans.from_json(rec.plan_json))

    todo = [k for k in dict.fromkeys(keys) if k.kind == "Pod"]
    if not todo:
        return []
    errors: list[BaseException] = []
    with ThreadPoolExecutor(max_workers=max(1, min(parallelism, len(todo)))) as pool:
        for fut in [pool.submit(start, k) for k in todo]:
            if (exc := fut.exception()) is not None:
                errors.append(exc)
    return errors
