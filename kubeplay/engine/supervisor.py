"""The supervisor: after `play` returns, pods go on behaving the way a kubelet runs them.

One per install (a flock under the run root), running the controllers' loop
(`engine.loop`, with `engine.controllers.pods`) on one asyncio loop. Its triggers become
object keys: a conmon exit file (inotify on the exits dir, so an exit is noticed at once)
queues the pod of that container, a command's nudge (a file made in the wake dir) the keys
its name carries or, with none, every pod; a probe's kill its pod; timers (back-off,
activeDeadlineSeconds) and a periodic resync (which also catches a conmon that vanished
without an exit file) do the rest. The probes run on the same loop (`engine.prober`).

At start it adopts every pod of the store, including containers that exited while no
supervisor ran. Containers belong to their conmon, so killing the supervisor (even with
SIGKILL) stops no pod. Started in the background by commands (`idle_exit`), it exits once no
pod needs it, releasing its lock before a last look so that a command that just played a pod
either sees it running or starts a new one. It logs to a file under the run root.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from kubeplay import log
from kubeplay.engine import host as host_mod
from kubeplay.engine import locks, ownedpods, pods, reconcile
from kubeplay.engine.controllers.pods import PodController, PodWatcher
from kubeplay.engine.controllers.services import ServiceController
from kubeplay.engine.loop import IDLE_SECONDS, RESYNC_SECONDS, Controller, Loop, ObjectKey
from kubeplay.plan import pods as plans
from kubeplay.plan import supervision
from kubeplay.plan.backoff import BackoffPolicy
from kubeplay.plan.probes import ProbeKill
from kubeplay.settings import Settings

if TYPE_CHECKING:
    from kubeplay.engine.prober import Prober

_CONTAINER_ID = re.compile(r"^[0-9a-f]{64}$")
_WAKE_SEPARATOR = "_"  # in no kind, namespace or name: splits a wake file's name
_WAKE_MAX_KEYS = 64  # more keys than this: one nudge for a full pass
_NAME_MAX = 255

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


def wake_name(nonce: str, key: ObjectKey | None) -> str:
    """The name of a wake file: a nonce, then the key it names (none: every object)."""
    if key is None:
        return nonce
    name = _WAKE_SEPARATOR.join((nonce, key.kind, key.namespace, key.name))
    return name if len(name.encode()) <= _NAME_MAX else nonce


def parse_wake_name(name: str) -> ObjectKey | None:
    """The key a wake file names; None: a full pass."""
    parts = name.split(_WAKE_SEPARATOR, 3)
    if len(parts) != 4 or not all(parts[1:]):
        return None
    return ObjectKey(parts[1], parts[2], parts[3])


def nudge(settings: Settings, keys: Iterable[ObjectKey] | None = None) -> None:
    """Make a running supervisor look now at `keys` (pods played or removed), or at every
    object when `keys` is None: one file per key is made and removed in its wake dir."""
    directory = wake_dir(settings)
    wanted = None if keys is None else sorted(set(keys))
    if wanted is not None and (not wanted or len(wanted) > _WAKE_MAX_KEYS):
        wanted = None
    with contextlib.suppress(OSError):
        directory.mkdir(parents=True, exist_ok=True)
        nonce = f"{os.getpid()}-{time.monotonic_ns()}"
        for key in wanted if wanted is not None else [None]:
            path = directory / wake_name(nonce, key)
            path.touch()
            path.unlink()


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
        # A pod that changed (created, started, exited, readiness, deleted) -> the keys to
        # sync: its controlling owner; Services (and others) append their own watcher.
        self.services = ServiceController(self.host)
        self.pod_watchers: list[PodWatcher] = [ownedpods.owner_keys, self.services.pod_watcher]
        self.pods = PodController(self.host, policy=self.policy, watchers=self.pod_watchers)
        self.controllers: list[Controller] = [
            self.pods,
            self.services,
            *reconcile.workload_controllers(self.host, clock=clock, wait=False),
        ]
        self.loop = Loop(
            self.controllers,
            workers=settings.parallelism,
            clock=clock,
            resync={"Pod": RESYNC_SECONDS, **reconcile.resync_periods()},
            idle_seconds=IDLE_SECONDS,
            on_idle=self._give_up_if_idle if idle_exit else None,
            after_sync=self._update_prober,
        )
        self._lock_fd: int | None = None
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
        self.loop.stop()

    async def _main(self) -> None:
        from kubeplay.runtime.watch import DirWatch

        loop = asyncio.get_running_loop()
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

        prober = Prober(self.host, on_restart=self._probe_restart, on_change=self._probe_changed)
        self._prober = prober
        try:
            await self.loop.run()
        finally:
            await prober.close()
            loop.remove_reader(watch.fd)
            watch.close()
            _log.info("supervisor_stopped", pid=os.getpid())

    def _on_watch(self, watch: object, exits_dir: Path) -> None:
        from kubeplay.runtime.watch import DirWatch

        assert isinstance(watch, DirWatch)
        keys: set[ObjectKey] = set()
        full = False
        for directory, name in watch.names():
            if directory != exits_dir:
                key = parse_wake_name(name)
                if key is None:
                    full = True
                else:
                    keys.add(key)
            elif _CONTAINER_ID.match(name):
                key = self.pods.key_for_container(name)
                if key is None:
                    full = True  # a container this supervisor has not seen yet
                else:
                    keys.add(key)
        self.loop.add(keys)
        if full:
            self.loop.request_full()

    def _update_prober(self) -> None:
        if self._prober is not None:
            self._prober.update(self.pods.records())

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
        return False  # the loop makes a full pass

    # --- in a worker thread -------------------------------------------------------------

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
        if any(not r.api_group for r in self.host.store.list_records(["Service"])):
            return True  # Services always need the supervisor (their endpoints follow pods)
        if reconcile.any_needed(self.host):
            return True  # a workload is not settled (healing, a rollout)
        for rec in self.host.store.list_pods():
            if rec.lifecycle in ("creating", "terminating", ownedpods.PENDING):
                return True  # being made or removed, left so by a killed command, unscheduled
            if rec.lifecycle == "active":
                plan = plans.from_json(rec.plan_json)
                if supervision.needs_supervision(plan, pods.observe(self.host, rec)):
                    return True
        return False

    # --- probes -------------------------------------------------------------------------

    async def _probe_restart(self, kill: ProbeKill) -> None:
        """The Prober's liveness (or startup) failure: the pod's next sync kills that
        container instance; its exit then restarts it per restartPolicy, with back-off."""
        key = self.pods.request_kill(kill)
        if key is not None:
            self.loop.add([key])

    async def _probe_changed(self, pod_uid: str) -> None:
        """A readiness (or startup) result flipped: sync the pod, whose watchers then queue
        its owner (availability counts Ready pods) and the Services selecting it."""
        key = next(
            (
                ObjectKey("Pod", r.namespace, r.name)
                for r in self.pods.records()
                if r.uid == pod_uid
            ),
            None,
        )
        if key is not None:
            self.loop.add([key])
