"""The supervisor: after `play` returns, pods go on behaving the way a kubelet runs them.

One per install (a flock under the run root), a single asyncio loop woken by conmon's exit
files (inotify on the exits dir, so an exit is noticed at once), by commands nudging it (a file
made in its wake dir), by back-off timers and by a periodic resync (which also catches a
conmon that vanished without an exit file). Each wake-up syncs the pods concerned, one at a
time in a worker thread, under the pod's lock so that `down` and the supervisor take turns:
`plan.actions` says which containers need starting, `plan.supervision` which of them the
back-off allows now; held ones wait as CrashLoopBackOff (or ImagePullBackOff), allowed ones
go through `pods.sync_pod`, which retires the previous instance and starts a new one.

At start it adopts every pod of the store, including containers that exited while no
supervisor ran. Containers belong to their conmon, so killing the supervisor (even with
SIGKILL) stops no pod. Started in the background by commands (`idle_exit`), it exits once no
pod needs it, releasing its lock before a last look so that a command that just played a pod
either sees it running or starts a new one. It logs to a file under the run root.
Back-off state lives in memory, as in the kubelet: a new supervisor starts counting afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from kubeplay import crash, log
from kubeplay.engine import events, locks, pods, restarts
from kubeplay.engine import host as host_mod
from kubeplay.errors import KubeplayError
from kubeplay.plan import actions, deadline, supervision
from kubeplay.plan import backoff as backoff_mod
from kubeplay.plan import pods as plans
from kubeplay.plan.backoff import BackoffEntry, BackoffPolicy
from kubeplay.plan.observed import ObservedPod
from kubeplay.settings import Settings
from kubeplay.state.store import PodRecord

if TYPE_CHECKING:
    from kubeplay.engine.prober import Prober

RESYNC_SECONDS = 10.0  # a full pass over every pod at least this often
IDLE_SECONDS = 1.0  # idle this long (no pod needs supervising) before exiting
BUSY_RETRY_SECONDS = 0.5  # a pod locked by a command is looked at again after this
_CONTAINER_ID = re.compile(r"^[0-9a-f]{64}$")

_log = log.get_logger(__name__)


def lock_path(settings: Settings) -> Path:
    return settings.locks_dir / "supervisor.lock"


def pid_path(settings: Settings) -> Path:
    return settings.runroot / "supervisor.pid"


def log_path(settings: Settings) -> Path:
    return settings.runroot / "supervisor.log"


def wake_dir(settings: Settings) -> Path:
    return settings.runroot / "supervisor-wake"


def running_pid(settings: Settings) -> int | None:
    """The running supervisor's pid, or None when none holds the lock."""
    if not locks.is_locked(lock_path(settings)):
        return None
    try:
        return int(pid_path(settings).read_text().strip())
    except (OSError, ValueError):
        return None


def nudge(settings: Settings) -> None:
    """Make a running supervisor look at every pod now (pods played or removed)."""
    directory = wake_dir(settings)
    with contextlib.suppress(OSError):
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{os.getpid()}-{time.monotonic_ns()}"
        path.touch()
        path.unlink()


@dataclass
class _PodState:
    backoff: dict[str, BackoffEntry] = field(default_factory=dict)
    killed_sandbox: str = ""  # the dead sandbox whose pod this supervisor killed already


def _once(names: set[str]) -> Callable[[str], bool]:
    """A `may_start` that allows each name once per sync."""

    def take(name: str) -> bool:
        if name in names:
            names.discard(name)
            return True
        return False

    return take


class Supervisor:
    def __init__(
        self,
        settings: Settings,
        *,
        idle_exit: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.idle_exit = idle_exit
        self.clock = clock
        self.policy = BackoffPolicy(base=settings.backoff_base, cap=settings.backoff_cap)
        self.host = host_mod.open_host(settings)
        self._pods: dict[str, _PodState] = {}
        self._cids: dict[str, str] = {}  # container id -> pod uid
        self._timers: dict[str, float] = {}  # pod uid -> when to look at it again
        self._dirty: set[str] = set()
        self._full = True
        self._stopping = False
        self._lock_fd: int | None = None
        self._wake: asyncio.Event | None = None
        self._records: dict[str, PodRecord] = {}  # the latest record of every pod, for probes
        self._prober: Prober | None = None

    # --- lifecycle ----------------------------------------------------------------------

    def run(self) -> bool:
        """Supervise until stopped (or idle, with `idle_exit`); False if another supervisor
        holds the lock."""
        if not self._acquire():
            _log.info("supervisor_already_running")
            self.host.close()
            return False
        try:
            host_mod.require_runtime(self.host)
            asyncio.run(self._main())
        finally:
            self._release()
            self.host.close()
        return True

    def _acquire(self) -> bool:
        self.settings.locks_dir.mkdir(parents=True, exist_ok=True)
        fd = locks.try_lock(lock_path(self.settings))
        if fd is None:
            return False
        self._lock_fd = fd
        tmp = pid_path(self.settings).with_suffix(".tmp")
        tmp.write_text(f"{os.getpid()}\n")
        os.replace(tmp, pid_path(self.settings))
        return True

    def _release(self) -> None:
        if self._lock_fd is None:
            return
        with contextlib.suppress(OSError):
            pid_path(self.settings).unlink()
        os.close(self._lock_fd)
        self._lock_fd = None

    def stop(self) -> None:
        self._stopping = True
        if self._wake is not None:
            self._wake.set()

    async def _main(self) -> None:
        from kubeplay.runtime.watch import DirWatch

        loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        exits_dir = self.settings.exits_dir
        for directory in (exits_dir, wake_dir(self.settings)):
            directory.mkdir(parents=True, exist_ok=True)
        watch = DirWatch([exits_dir, wake_dir(self.settings)])
        loop.add_reader(watch.fd, self._on_watch, watch, exits_dir)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        _log.info("supervisor_started", pid=os.getpid(), idle_exit=self.idle_exit)
        await asyncio.to_thread(self._warm_up)
        from kubeplay.engine.prober import Prober

        prober = Prober(self.host, on_restart=self._probe_restart)
        self._prober = prober
        try:
            await self._loop()
        finally:
            await prober.close()
            loop.remove_reader(watch.fd)
            watch.close()
            _log.info("supervisor_stopped", pid=os.getpid())

    def _on_watch(self, watch: object, exits_dir: Path) -> None:
        from kubeplay.runtime.watch import DirWatch

        assert isinstance(watch, DirWatch)
        for directory, name in watch.names():
            if directory != exits_dir:
                self._full = True
            elif _CONTAINER_ID.match(name):
                uid = self._cids.get(name)
                if uid is None:
                    self._full = True  # a container this supervisor has not seen yet
                else:
                    self._dirty.add(uid)
        if self._wake is not None and (self._full or self._dirty):
            self._wake.set()

    async def _loop(self) -> None:
        assert self._wake is not None
        next_resync = 0.0
        idle_since: float | None = None
        while not self._stopping:
            now = self.clock()
            if now >= next_resync:
                self._full = True
                next_resync = now + RESYNC_SECONDS
            for uid, at in list(self._timers.items()):
                if at <= now:
                    self._dirty.add(uid)
                    del self._timers[uid]
            if self._full or self._dirty:
                full, dirty = self._full, self._dirty
                self._full, self._dirty = False, set()
                needed = await asyncio.to_thread(self._pass, None if full else dirty)
                if self._prober is not None:
                    self._prober.update(list(self._records.values()))
                if full:
                    idle_since = None if needed or not self.idle_exit else idle_since or now
                continue
            if idle_since is not None and now - idle_since >= IDLE_SECONDS:
                if await self._give_up_if_idle():
                    return
                idle_since = None
                continue
            deadline = min(
                [
                    next_resync,
                    *self._timers.values(),
                    *([idle_since + IDLE_SECONDS] if idle_since is not None else []),
                ]
            )
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, deadline - self.clock()))

    async def _give_up_if_idle(self) -> bool:
        """Release the lock, then look once more: a command that played pods meanwhile
        either saw the lock held (and nudged us) or starts a new supervisor."""
        self._release()
        if not await asyncio.to_thread(self._any_needed):
            _log.info("supervisor_idle_exit")
            return True
        if not self._acquire():
            _log.info("supervisor_handed_over")
            return True
        self._full = True
        return False

    # --- passes (in a worker thread) ----------------------------------------------------

    def _warm_up(self) -> None:
        """Import and open now what a restart needs (the image store, the OCI spec builder,
        the seccomp profile), so that the first restart is as quick as the others."""
        from kubeplay.engine import network  # noqa: F401
        from kubeplay.plan import ocispec, users  # noqa: F401

        _ = self.host.images, self.host.seccomp, self.host.runtime
        self._collect_orphans()

    def _collect_orphans(self) -> None:
        """At start: remove runtime containers and namespaces no pod of the store knows, as
        the kubelet garbage-collects unknown sandboxes (engine.orphans)."""
        from kubeplay.engine import orphans

        removed = orphans.collect(self.host)
        if removed:
            _log.warning("orphans_removed", count=len(removed))

    def _any_needed(self) -> bool:
        for rec in self.host.store.list_pods():
            if rec.lifecycle in ("creating", "terminating"):
                return True  # being made or removed, or left so by a killed command
            if rec.lifecycle == "active":
                plan = plans.from_json(rec.plan_json)
                if supervision.needs_supervision(plan, pods.observe(self.host, rec)):
                    return True
        return False

    def _pass(self, uids: set[str] | None) -> bool:
        """Sync the pods `uids` (None: every pod); whether any pod needs supervising."""
        store = self.host.store
        if uids is None:
            records = store.list_pods()
            known = {r.uid for r in records}
            for uid in set(self._pods) - known:
                del self._pods[uid]
            self._cids = {c.container_id: r.uid for r in records for c in r.containers}
            self._records = {r.uid: r for r in records}
        else:
            records = []
            for uid in uids:
                found = store.get_pod_by_uid(uid)
                if found is None:
                    self._records.pop(uid, None)
                else:
                    records.append(found)
                    self._records[uid] = found
        needed = False
        for rec in records:
            try:
                needed = self._sync(rec) or needed
            except Exception as err:  # one pod's trouble must not stop the others
                needed = True
                _log.error(
                    "pod_supervision_failed", pod=f"{rec.namespace}/{rec.name}", error=repr(err)
                )
                self._later(rec.uid, self.settings.backoff_base)
        return needed

    def _later(self, uid: str, seconds: float) -> None:
        at = self.clock() + seconds
        self._timers[uid] = min(self._timers.get(uid, at), at)

    def _sync(self, rec: PodRecord) -> bool:
        if rec.lifecycle not in ("active", "creating", "terminating"):
            return False
        with locks.try_pod_lock(self.settings.locks_dir, rec.namespace, rec.name) as got:
            if not got:  # a command works on it (a play bringing it up nudges us when done)
                self._later(rec.uid, BUSY_RETRY_SECONDS)
                return rec.lifecycle != "terminating"
            fresh = self.host.store.get_pod_by_uid(rec.uid)
            if fresh is None:
                return False
            if fresh.lifecycle != "active":
                return self._finish_interrupted(fresh)
            crash.point("supervisor-sync")
            needed = self._sync_locked(fresh)
            after = self.host.store.get_pod_by_uid(rec.uid) or fresh
            self._cids.update({c.container_id: rec.uid for c in after.containers})
            self._records[rec.uid] = after
            return needed

    def _finish_interrupted(self, rec: PodRecord) -> bool:
        """A pod still `creating` or `terminating` whose lock nobody holds: the play or down
        that worked on it was killed. Roll the creation back (nothing half-made stays, the
        play failed as far as its user knows) or finish the removal; with the pod's lock."""
        _log.warning("pod_interrupted", pod=f"{rec.namespace}/{rec.name}", was=rec.lifecycle)
        pods.teardown_pod(self.host, rec, grace=0 if rec.lifecycle == "creating" else None)
        from kubeplay.engine import network

        network.refresh(self.host)
        return False

    def _sandbox_changed(
        self, rec: PodRecord, plan: plans.PodPlan, todo: actions.PodActions
    ) -> tuple[PodRecord, ObservedPod, actions.PodActions]:
        """The pod's sandbox died: kill the pod as the kubelet does (SandboxChanged), then
        look again; the sync that follows makes the new sandbox."""
        pods.kill_for_sandbox_change(self.host, plan, rec, recreate=todo.create_sandbox)
        rec = self.host.store.get_pod_by_uid(rec.uid) or rec
        observed = pods.observe(self.host, rec)
        return rec, observed, actions.compute_pod_actions(plan, observed)

    def _sync_locked(self, rec: PodRecord) -> bool:
        host = self.host
        plan = plans.from_json(rec.plan_json)
        observed = pods.observe(host, rec)
        if not supervision.needs_supervision(plan, observed):
            self._pods.pop(rec.uid, None)
            return False
        left = deadline.seconds_left(plan.active_deadline_seconds, rec.started_at, self.clock())
        if left is not None and left <= 0:  # activeDeadlineSeconds: the pod is Failed
            pods.enforce_deadline(host, rec, now=self.clock())
            self._pods.pop(rec.uid, None)
            return False
        if left is not None:
            self._later(rec.uid, left)
        state = self._pods.setdefault(rec.uid, _PodState())
        todo = actions.compute_pod_actions(plan, observed)
        if todo.kill_pod and state.killed_sandbox != observed.sandbox_id:
            state.killed_sandbox = observed.sandbox_id  # once per dead sandbox (back-off)
            rec, observed, todo = self._sandbox_changed(rec, plan, todo)
        if todo.kill_pod and not todo.create_sandbox:
            return supervision.needs_supervision(plan, observed)
        now = self.clock()
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
            self._later(rec.uid, gate.wait)
            if restarts.retire(host, rec, gate.name, reason=gate.reason, message=gate.message):
                self._held(plan, gate)
                rec = host.store.get_pod_by_uid(rec.uid) or rec
        if allowed:
            _log.info("pod_sync", pod=plan.ref, start=sorted(allowed))
            try:
                pods.sync_pod(host, plan, may_start=_once(allowed))
            except KubeplayError as err:
                _log.warning("pod_sync_failed", pod=plan.ref, error=str(err))
                self._later(rec.uid, 0.1)  # the next look holds it in back-off
            if todo.create_sandbox:  # a new sandbox (after a reboot: a new node network too)
                from kubeplay.engine import network

                network.refresh(host)
        return True

    # --- probes -------------------------------------------------------------------------

    async def _probe_restart(self, uid: str, name: str, message: str) -> None:
        """The Prober's liveness (or startup) failure: stop the container as the kubelet's
        killContainer does (preStop, stop signal, the probe's or the pod's grace period, then
        SIGKILL); its exit then restarts it per restartPolicy, with back-off."""
        await asyncio.to_thread(self._kill_for_probe, uid, name, message)
        self._dirty.add(uid)
        if self._wake is not None:
            self._wake.set()

    def _kill_for_probe(self, uid: str, name: str, message: str) -> None:
        rec = self.host.store.get_pod_by_uid(uid)
        if rec is None or rec.lifecycle != "active":
            return
        this = [c for c in rec.containers if c.name == name and c.container_id]
        plan = plans.from_json(rec.plan_json)
        ctr = plan.container(name)
        if not this or ctr is None or self.host.read_exit(this[0].container_id) is not None:
            return
        probe = ctr.startup if "startup probe" in message else ctr.liveness
        grace = plan.termination_grace_period
        if probe is not None and probe.termination_grace_period is not None:
            grace = probe.termination_grace_period
        _log.info("container_probe_kill", pod=plan.ref, container=name, grace=grace)
        only = replace(rec, containers=tuple(this))
        pods.stop_containers(self.host, plan, only, grace=float(grace), why=message)

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
