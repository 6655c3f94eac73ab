"""The pod controller: keeps each pod the way a kubelet runs it, one sync per pod key.

A sync (`sync`, in a worker thread of `engine.loop`) looks at the pod's row and its
containers (`engine.pods.observe`), first carries out the kills its probes asked for
(`kill_for_probe`, as the kubelet's killContainer: preStop, stop signal, the probe's or the
pod's grace period, then SIGKILL), enforces activeDeadlineSeconds, then asks
`plan.actions` which containers need starting and `plan.supervision` which of them the
restart back-off allows now. Held ones wait as CrashLoopBackOff (or ImagePullBackOff) and
the key is requeued for when their back-off ends; allowed ones go through
`engine.pods.sync_pod`, which retires the previous instance and starts a new one. A running
container made from another definition than the plan's (its stored spec hash differs: an
image update) is stopped first and started again at once.

The pod's flock is taken (without waiting) around the sync, so `down` and the controller
take turns; pods a command is still creating or already tearing down are left alone.
Back-off state lives in memory, as in the kubelet: a new supervisor starts counting afresh.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from kubeplay import crash, log
from kubeplay.engine import events, locks, ownedpods, pods, restarts
from kubeplay.engine.host import Host
from kubeplay.engine.loop import ObjectKey, SyncResult
from kubeplay.errors import KubeplayError, PermanentError
from kubeplay.plan import actions, deadline, supervision
from kubeplay.plan import backoff as backoff_mod
from kubeplay.plan import pods as plans
from kubeplay.plan import probes as probes_mod
from kubeplay.plan.backoff import BackoffEntry, BackoffPolicy
from kubeplay.plan.observed import ObservedPod
from kubeplay.plan.probes import ProbeKill, ProbeType
from kubeplay.state.store import PodRecord

KIND = "Pod"
BUSY_RETRY_SECONDS = 0.5  # a pod locked by a command is looked at again after this
FAILED_START_RETRY_SECONDS = 0.1  # a start that failed: the next look holds it in back-off
MOUNT_RETRY_BASE = 0.5  # a missing ConfigMap/Secret volume source: look again, doubling
MOUNT_RETRY_CAP = 122.0
_UNSEEN = object()
PENDING_RETRY_SECONDS = 1.0  # an unscheduled pod (its hostPort held): look again after this

# What the pod watchers were last told about a pod: its uid, lifecycle and observed state.
_View = tuple[str, str, ObservedPod]

# Maps a pod that changed (its latest record) to the keys of the objects that must look at it
# again: its controlling owner, the Services selecting it... (the supervisor's pod_watchers).
PodWatcher = Callable[[PodRecord], Iterable[ObjectKey]]

_log = log.get_logger(__name__)


def pod_key(namespace: str, name: str) -> ObjectKey:
    return ObjectKey(KIND, namespace, name)


@dataclass
class _PodState:
    uid: str
    backoff: dict[str, BackoffEntry] = field(default_factory=dict)
    killed_sandbox: str = ""  # the dead sandbox whose pod this controller killed already
    mount_delay: float = 0.0  # the current wait between volume set-up attempts


def _once(names: set[str]) -> Callable[[str], bool]:
    """A `may_start` that allows each name once per sync."""

    def take(name: str) -> bool:
        if name in names:
            names.discard(name)
            return True
        return False

    return take


class _Requeue:
    """The earliest of the times a sync wants to look at its pod again."""

    def __init__(self) -> None:
        self.after: float | None = None
        self.acted = False  # the sync changed the pod's rows: read them again after
        self.observed: ObservedPod | None = None  # what the sync saw (valid unless acted)

    def at(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self.after = seconds if self.after is None else min(self.after, seconds)


class PodController:
    kinds = frozenset({KIND})

    def __init__(
        self, host: Host, *, policy: BackoffPolicy, watchers: Sequence[PodWatcher] = ()
    ) -> None:
        self.host = host
        self.policy = policy
        self.watchers = watchers  # read at every sync: a list the supervisor may extend
        self._lock = threading.Lock()  # guards the maps below (workers and the loop)
        self._state: dict[ObjectKey, _PodState] = {}
        self._cids: dict[str, ObjectKey] = {}  # container id -> pod key
        self._records: dict[ObjectKey, PodRecord] = {}  # latest record of every pod
        self._kills: dict[ObjectKey, list[ProbeKill]] = {}
        self._plans: dict[ObjectKey, tuple[str, plans.PodPlan]] = {}
        self._views: dict[ObjectKey, object] = {}  # what the pod watchers last saw

    # --- what the supervisor asks (any thread) -------------------------------------------

    def key_for_container(self, cid: str) -> ObjectKey | None:
        with self._lock:
            return self._cids.get(cid)

    def records(self) -> list[PodRecord]:
        """The latest record of every pod (for the prober)."""
        with self._lock:
            return list(self._records.values())

    def request_kill(self, kill: ProbeKill) -> ObjectKey | None:
        """Queue a probe's kill for the pod's next sync; its key, None if unknown."""
        with self._lock:
            key = next((k for k, r in self._records.items() if r.uid == kill.pod_uid), None)
            if key is not None:
                self._kills.setdefault(key, []).append(kill)
            return key

    # --- Controller ----------------------------------------------------------------------

    def keys(self) -> list[ObjectKey]:
        records = self.host.store.list_pods()
        fresh = {pod_key(r.namespace, r.name): r for r in records}
        with self._lock:
            for key in set(self._state) - set(fresh):
                del self._state[key]
            for key in set(self._plans) - set(fresh):
                del self._plans[key]
            for key in set(self._views) - set(fresh):
                del self._views[key]
            self._records = fresh
            self._cids = {c.container_id: key for key, r in fresh.items() for c in r.containers}
        return sorted(fresh)

    def failed(self, key: ObjectKey, err: PermanentError, *, now: float) -> None:
        rec = self.host.store.get_pod(key.namespace, key.name)
        if rec is not None:
            events.record(
                self.host, rec.uid, type=events.WARNING, reason="Failed", message=str(err)
            )

    def sync(self, key: ObjectKey, *, now: float) -> SyncResult:
        store = self.host.store
        rec = store.get_pod(key.namespace, key.name)
        with self._lock:
            previous = self._records.get(key)
            kills = self._kills.pop(key, [])
            if rec is None:
                self._records.pop(key, None)
                self._state.pop(key, None)
                self._plans.pop(key, None)
            else:
                self._records[key] = rec
        seen = rec or previous
        result, view = self._sync(key, rec, kills, now=now)
        if seen is None or not self.watchers or not self._changed(key, view):
            return result
        return replace(result, also=(*result.also, *self._watched(seen)))

    def _changed(self, key: ObjectKey, view: _View | None) -> bool:
        """Whether the pod looks different from the last time its watchers were told (its
        lifecycle, containers, exits, probe results; or it is gone), so that a periodic
        resync of settled pods queues no owner. `view`: the pod as the sync left it, when
        the sync knows (it changed nothing); else it is read again."""
        if view is None:
            rec = self.host.store.get_pod(key.namespace, key.name)
            view = None if rec is None else (rec.uid, rec.lifecycle, pods.observe(self.host, rec))
        with self._lock:
            before = self._views.get(key, _UNSEEN)
            if view is None:
                self._views.pop(key, None)
            else:
                self._views[key] = view
        return before != view

    def _watched(self, rec: PodRecord) -> list[ObjectKey]:
        """The keys the pod watchers want synced after a sync of `rec` (any change of a pod
        shows in some sync of it: its creation, start, exit, readiness, deletion)."""
        keys: list[ObjectKey] = []
        for watcher in list(self.watchers):
            try:
                keys.extend(watcher(rec))
            except Exception as err:  # one watcher's trouble must not fail the pod's sync
                _log.error("pod_watcher_failed", pod=f"{rec.namespace}/{rec.name}", error=repr(err))
        return keys

    def _sync(
        self, key: ObjectKey, rec: PodRecord | None, kills: list[ProbeKill], *, now: float
    ) -> tuple[SyncResult, _View | None]:
        """The sync's result, and the pod as it left it when that is known without reading it
        again (an active pod it changed nothing of: a resync of a settled pod)."""
        store = self.host.store
        if rec is not None and rec.lifecycle == ownedpods.PENDING:
            with locks.try_pod_lock(self.host.settings.locks_dir, rec.namespace, rec.name) as got:
                scheduled = got and ownedpods.schedule(self.host, rec)
            if not scheduled:  # its hostPort is still held (or a command works on it)
                return SyncResult(requeue_after=PENDING_RETRY_SECONDS, needs_supervisor=True), None
            rec = store.get_pod_by_uid(rec.uid)
        if rec is None or rec.lifecycle not in ("active", "creating", "terminating"):
            return SyncResult(), None
        for kill in kills:
            if kill.pod_uid == rec.uid:
                self.kill_for_probe(rec, kill)
        with locks.try_pod_lock(self.host.settings.locks_dir, rec.namespace, rec.name) as got:
            if not got:  # a command works on it (a play bringing it up nudges us when done)
                busy = SyncResult(
                    requeue_after=BUSY_RETRY_SECONDS,
                    needs_supervisor=rec.lifecycle != "terminating",
                )
                return busy, None
            fresh = store.get_pod_by_uid(rec.uid)
            if fresh is None:
                return SyncResult(), None
            if fresh.lifecycle != "active":
                self._finish_interrupted(key, fresh)
                return SyncResult(), None
            crash.point("supervisor-sync")
            requeue = _Requeue()
            needed = self._sync_locked(key, fresh, requeue, now=now)
            after = (store.get_pod_by_uid(rec.uid) or fresh) if requeue.acted else fresh
            with self._lock:
                self._cids.update({c.container_id: key for c in after.containers})
                self._records[key] = after
            view = None
            if not requeue.acted and requeue.observed is not None:
                view = (after.uid, after.lifecycle, requeue.observed)
            return SyncResult(requeue_after=requeue.after, needs_supervisor=needed), view

    # --- one pod -------------------------------------------------------------------------

    def _finish_interrupted(self, key: ObjectKey, rec: PodRecord) -> None:
        """A pod still `creating` or `terminating` whose lock nobody holds: the play or down
        that worked on it was killed, or its owner deleted it (`engine.ownedpods.delete`).
        Roll the creation back (nothing half-made stays, the play failed as far as its user
        knows) or carry out the removal within the pod's grace period; with the pod's lock."""
        from kubeplay.engine import network

        if (
            rec.lifecycle == "terminating"
            and rec.manifest
            and ownedpods.controller_ref(rec.manifest)
        ):
            _log.info("pod_deleting", pod=f"{rec.namespace}/{rec.name}")
        else:
            _log.warning("pod_interrupted", pod=f"{rec.namespace}/{rec.name}", was=rec.lifecycle)
        pods.teardown_pod(self.host, rec, grace=0 if rec.lifecycle == "creating" else None)
        network.refresh(self.host)
        self._forget(key)

    def _sandbox_changed(
        self, rec: PodRecord, plan: plans.PodPlan, todo: actions.PodActions
    ) -> tuple[PodRecord, ObservedPod, actions.PodActions]:
        """The pod's sandbox died: kill the pod as the kubelet does (SandboxChanged), then
        look again; the sync that follows makes the new sandbox."""
        pods.kill_for_sandbox_change(self.host, plan, rec, recreate=todo.create_sandbox)
        rec = self.host.store.get_pod_by_uid(rec.uid) or rec
        observed = pods.observe(self.host, rec)
        return rec, observed, actions.compute_pod_actions(plan, observed)

    def _forget(self, key: ObjectKey) -> None:
        with self._lock:
            self._state.pop(key, None)
            self._plans.pop(key, None)

    def _plan(self, key: ObjectKey, rec: PodRecord) -> plans.PodPlan:
        """The pod's plan, decoded once per plan_json (a resync of 50 pods decodes none)."""
        with self._lock:
            cached = self._plans.get(key)
        if cached is not None and cached[0] == rec.plan_json:
            return cached[1]
        plan = plans.from_json(rec.plan_json)
        with self._lock:
            self._plans[key] = (rec.plan_json, plan)
        return plan

    def _pod_state(self, key: ObjectKey, uid: str) -> _PodState:
        with self._lock:
            state = self._state.get(key)
            if state is None or state.uid != uid:  # a new pod under the same name
                state = self._state[key] = _PodState(uid=uid)
            return state

    def _sync_locked(
        self, key: ObjectKey, rec: PodRecord, requeue: _Requeue, *, now: float
    ) -> bool:
        host = self.host
        plan = self._plan(key, rec)
        observed = requeue.observed = pods.observe(host, rec)
        if not supervision.needs_supervision(plan, observed):
            self._forget(key)
            return False
        left = deadline.seconds_left(plan.active_deadline_seconds, rec.started_at, now)
        if left is not None and left <= 0:  # activeDeadlineSeconds: the pod is Failed
            requeue.acted = True
            pods.enforce_deadline(host, rec, now=now)
            self._forget(key)
            return False
        if left is not None:
            requeue.at(left)
        state = self._pod_state(key, rec.uid)
        todo = actions.compute_pod_actions(plan, observed)
        if todo.kill_pod and state.killed_sandbox != observed.sandbox_id:
            requeue.acted = True
            state.killed_sandbox = observed.sandbox_id  # once per dead sandbox (back-off)
            rec, observed, todo = self._sandbox_changed(rec, plan, todo)
        if todo.kill_pod and not todo.create_sandbox:
            return supervision.needs_supervision(plan, observed)
        if todo.create_sandbox and not observed.sandbox_id:
            requeue.acted = True
            return self._create_pending(plan, state, requeue)
        if todo.kills:  # definition changed: stop that instance, then start the new one
            requeue.acted = True
            rec = self._kill_changed(plan, rec, todo.kills, state)
            observed = pods.observe(host, rec)
            todo = actions.compute_pod_actions(plan, observed)
        gates = supervision.gate_starts(
            plan, observed, todo, state.backoff, policy=self.policy, now=now
        )
        allowed: set[str] = set()
        for gate in gates:
            if gate.entry is not None:
                state.backoff[gate.name] = gate.entry
            if gate.allowed:
                allowed.add(gate.name)
                continue
            requeue.at(gate.wait)
            if restarts.retire(host, rec, gate.name, reason=gate.reason, message=gate.message):
                requeue.acted = True
                self._held(plan, gate)
                rec = host.store.get_pod_by_uid(rec.uid) or rec
        if allowed:
            requeue.acted = True
            _log.info("pod_sync", pod=plan.ref, start=sorted(allowed))
            try:
                pods.sync_pod(host, plan, may_start=_once(allowed))
            except KubeplayError as err:
                _log.warning("pod_sync_failed", pod=plan.ref, error=str(err))
                requeue.at(FAILED_START_RETRY_SECONDS)
            if todo.create_sandbox:  # a new sandbox (after a reboot: a new node network too)
                from kubeplay.engine import network

                network.refresh(host)
        return True

    def _create_pending(self, plan: plans.PodPlan, state: _PodState, requeue: _Requeue) -> bool:
        """A pod that never had a sandbox (its volumes waited for a ConfigMap or Secret):
        try its volumes again, then make the sandbox and start it as play would have. While
        a source is still missing, look again after a back-off (the kubelet's volume
        operations: 0.5 s doubling to 2 min 2 s); a command applying it nudges us sooner."""
        host = self.host
        try:
            pods.sync_pod(host, plan, may_start=lambda _name: True)
        except KubeplayError as err:  # the sandbox failed: try again, backing off as well
            _log.warning("pod_sync_failed", pod=plan.ref, error=str(err))
        else:
            rec = host.store.get_pod_by_uid(plan.uid)
            if rec is not None and pods.observe(host, rec).sandbox_id:
                state.mount_delay = 0.0
                return True
        state.mount_delay = min(
            MOUNT_RETRY_CAP, state.mount_delay * 2 if state.mount_delay else MOUNT_RETRY_BASE
        )
        requeue.at(state.mount_delay)
        return True

    def _kill_changed(
        self,
        plan: plans.PodPlan,
        rec: PodRecord,
        kills: tuple[actions.ContainerKill, ...],
        state: _PodState,
    ) -> PodRecord:
        """Stop each container whose definition changed (preStop, stop signal, the pod's
        grace period) and retire it, its instance becoming lastState; it starts again with
        a fresh back-off, as the kubelet's back-off key holds the container's hash."""
        host = self.host
        for kill in kills:
            this = tuple(c for c in rec.containers if c.name == kill.name and c.container_id)
            _log.info("container_definition_changed", pod=plan.ref, container=kill.name)
            pods.stop_containers(
                host,
                plan,
                replace(rec, containers=this),
                grace=float(plan.termination_grace_period),
                why=kill.message,
            )
            state.backoff.pop(kill.name, None)
            restarts.retire(host, host.store.get_pod_by_uid(rec.uid) or rec, kill.name)
        return host.store.get_pod_by_uid(rec.uid) or rec

    def _held(self, plan: plans.PodPlan, gate: supervision.StartGate) -> None:
        ctr = plan.container(gate.name)
        _log.info("container_back_off", pod=plan.ref, container=gate.name, wait=gate.wait)
        if gate.reason == "CrashLoopBackOff":
            message = backoff_mod.backoff_event_message(
                container=gate.name, pod=plan.name, namespace=plan.namespace, uid=plan.uid
            )
            events.record(
                self.host, plan.uid, type=events.WARNING, reason="BackOff", message=message, ctr=ctr
            )
        elif gate.reason == "ImagePullBackOff":
            events.record(self.host, plan.uid, reason="BackOff", message=gate.message, ctr=ctr)

    # --- probes --------------------------------------------------------------------------

    def kill_for_probe(self, rec: PodRecord, kill: ProbeKill) -> bool:
        """Stop the container a liveness (or startup) probe failed, as the kubelet's
        killContainer does (preStop, stop signal, the probe's or the pod's grace period,
        then SIGKILL); its exit then restarts it per restartPolicy, with back-off. False
        when that instance is gone already."""
        this = [
            c
            for c in rec.containers
            if c.name == kill.container and c.container_id == kill.container_id
        ]
        plan = plans.from_json(rec.plan_json)
        ctr = plan.container(kill.container)
        if not this or ctr is None or self.host.read_exit(kill.container_id) is not None:
            return False
        spec = ctr.startup if kill.probe_type is ProbeType.STARTUP else ctr.liveness
        grace = probes_mod.kill_grace_period(spec, pod_grace=plan.termination_grace_period)
        _log.info("container_probe_kill", pod=plan.ref, container=kill.container, grace=grace)
        only = replace(rec, containers=tuple(this))
        pods.stop_containers(self.host, plan, only, grace=float(grace), why=kill.message)
        return True
