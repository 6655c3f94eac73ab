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
SIGKILL) stops no pod. Watched sources (`kubeplay watch`) are synced on the same loop
(`engine.controllers.sources`), from debounced watchdog events, their interval and nudges.
Started in the background by commands (`idle_exit`), it exits once no pod or source needs
it, releasing its lock before a last look so that a command that just played a pod
either sees it running or starts a new one. It logs to a file under the run root.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from kubeplay import log
from kubeplay.engine import host as host_mod
from kubeplay.engine import locks, nudges, ownedpods, pods, reconcile
from kubeplay.engine.controllers.pods import PodController, PodWatcher
from kubeplay.engine.controllers.services import ServiceController
from kubeplay.engine.controllers.sources import (
    KIND as SOURCE_KIND,
)
from kubeplay.engine.controllers.sources import (
    Debouncer,
    DirWatcher,
    Reconcile,
    SourceController,
    source_key,
)
from kubeplay.engine.loop import IDLE_SECONDS, RESYNC_SECONDS, Controller, Loop, ObjectKey
from kubeplay.engine.nudges import lock_path as lock_path
from kubeplay.engine.nudges import log_path as log_path
from kubeplay.engine.nudges import nudge as nudge
from kubeplay.engine.nudges import pid_path as pid_path
from kubeplay.engine.nudges import running_pid as running_pid
from kubeplay.engine.nudges import wake_dir as wake_dir
from kubeplay.engine.nudges import wake_name as wake_name
from kubeplay.plan import pods as plans
from kubeplay.plan import supervision
from kubeplay.plan.backoff import BackoffPolicy
from kubeplay.plan.probes import ProbeKill
from kubeplay.settings import Settings

if TYPE_CHECKING:
    from kubeplay.engine.prober import Prober

_CONTAINER_ID = re.compile(r"^[0-9a-f]{64}$")

_log = log.get_logger(__name__)


def parse_wake_name(name: str) -> ObjectKey | None:
    """The key a wake file names (`nudges.wake_name`); None: a full pass."""
    parts = name.split(nudges.WAKE_SEPARATOR, 3)
    if len(parts) != 4 or not parts[1] or not parts[3]:  # a cluster-wide key has no namespace
        return None
    return ObjectKey(parts[1], parts[2], parts[3])


class Supervisor:
    def __init__(
        self,
        settings: Settings,
        *,
        idle_exit: bool = False,
        clock: Callable[[], float] = time.time,
        reconcile_source: Reconcile | None = None,
        watch_dirs: bool = True,
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
            *reconcile.deferred_workload_controllers(self.host, clock=clock, wait=False),
        ]
        # Watched sources (`kubeplay watch`): reconciled by the use case the caller gives.
        self.debouncer = Debouncer(settings.watch_debounce)
        self._watcher = DirWatcher(self._on_source_event) if watch_dirs else None
        self._debounce_timer: asyncio.TimerHandle | None = None
        self._aio: asyncio.AbstractEventLoop | None = None
        self.sources: SourceController | None = None
        if reconcile_source is not None:
            self.sources = SourceController(
                self.host,
                reconcile=reconcile_source,
                watch=self._watcher.update if self._watcher is not None else None,
                on_pods_changed=self._pods_changed,
            )
            self.controllers.append(self.sources)
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
        fd = _inherited_lock(self.settings)
        if fd is None:
            self.settings.locks_dir.mkdir(parents=True, exist_ok=True)
            fd = locks.try_lock(lock_path(self.settings))
        if fd is None:
            return False
        self._lock_fd = fd
        nudges.write_pid(self.settings, os.getpid())
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
        self._aio = loop
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
            if self._debounce_timer is not None:
                self._debounce_timer.cancel()
            if self._watcher is not None:
                await asyncio.to_thread(self._watcher.close)
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
                    if key.kind == SOURCE_KIND and self.sources is not None:
                        self.sources.mark([key.name])  # a command asks for a reconcile
            elif _CONTAINER_ID.match(name):
                key = self.pods.key_for_container(name)
                if key is None:
                    full = True  # a container this supervisor has not seen yet
                else:
                    keys.add(key)
        self.loop.add(keys)
        if full:
            self.loop.request_full()

    # --- watched sources ----------------------------------------------------------------

    def _on_source_event(self, name: str) -> None:
        """From watchdog's thread: a change under the directory of source `name`."""
        if self._aio is not None:
            self._aio.call_soon_threadsafe(self.source_event, name)

    def source_event(self, name: str) -> None:
        """On the loop: debounce, then reconcile once the directory is quiet."""
        self.debouncer.touch(name, self.clock())
        self._arm_debounce()

    def _arm_debounce(self) -> None:
        at = self.debouncer.next_at()
        if at is None or self._aio is None:
            return
        if self._debounce_timer is not None:
            self._debounce_timer.cancel()
        self._debounce_timer = self._aio.call_later(
            max(0.0, at - self.clock()), self.flush_source_events
        )

    def flush_source_events(self) -> None:
        """The sources quiet for a whole window: reconcile them now."""
        self._debounce_timer = None
        names = self.debouncer.due(self.clock())
        if names and self.sources is not None:
            self.sources.mark(names)
            self.loop.add(source_key(n) for n in names)
        self._arm_debounce()

    def _pods_changed(self) -> None:
        """From a source's reconcile (a worker thread): pods were made or removed."""
        if self._aio is not None:
            self._aio.call_soon_threadsafe(self.loop.request_full)

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
        if self.host.store.has_sources():
            return True  # watched sources need the supervisor all the time
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


def _inherited_lock(settings: Settings) -> int | None:
    """The supervisor's lock as the command that started this process took it and handed it
    over (`nudges.LOCK_FD_ENV`): its fd, once. Made close-on-exec at once, so that no
    runtime or conmon started from here inherits it (it would outlive the supervisor)."""
    raw = os.environ.pop(nudges.LOCK_FD_ENV, "")
    if not raw.isdigit():
        return None
    fd = int(raw)
    try:
        held = os.fstat(fd)
        path = os.stat(lock_path(settings))
    except OSError:
        return None
    if (held.st_dev, held.st_ino) != (path.st_dev, path.st_ino):
        return None  # not the lock file (an fd number reused): take the lock as usual
    os.set_inheritable(fd, False)
    return fd
