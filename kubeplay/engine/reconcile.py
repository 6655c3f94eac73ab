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

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from kubeplay import log
from kubeplay.engine.host import Host
from kubeplay.engine.loop import Controller, ObjectKey
from kubeplay.state.store import PodRecord

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
    return {
        kind: OTHER_RESYNC_SECONDS
        for kind in ("Deployment", "ReplicaSet", "CronJob", "Job", "StatefulSet", "DaemonSet")
    }


def any_needed(host: Host) -> bool:
    return any(c.needed() for c in workload_controllers(host))


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
