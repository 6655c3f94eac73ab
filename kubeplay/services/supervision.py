"""Starting, nudging and stopping the supervisor (`engine.supervisor`).

Commands that leave pods needing supervision call `ensure_running`: a running supervisor is
nudged to look at every pod now; otherwise, if a pod needs one, a supervisor is started in
the background (`kubeplay agent --idle-exit`, in its own session, stdio to its log file under
the run root); its lock makes a second one exit at once. `kubeplay agent` runs one in the
foreground (systemd: see `systemd_unit`). `stop` ends it (system reset).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from kubeplay import crash
from kubeplay import settings as settings_mod
from kubeplay.engine import host as host_mod
from kubeplay.engine import locks, nudges
from kubeplay.settings import Settings

# `get pods` asks whether a supervisor runs (revive) on every call: what only starting one or
# deciding whether one is needed uses is imported there.

if TYPE_CHECKING:
    from kubeplay.engine.controllers.sources import Outcome, Reconcile

STOP_TIMEOUT = 10.0


def _needed(host: host_mod.Host) -> bool:
    if host.store.has_sources():
        return True  # watched sources are the supervisor's
    if any(not r.api_group for r in host.store.list_records(["Service"])):
        return True  # Services always need the supervisor (their endpoints follow pods)
    for rec in host.store.list_pods():
        if rec.lifecycle == "pending":
            return True  # unscheduled: the supervisor binds it once its hostPort is free
        if rec.lifecycle in ("creating", "terminating"):
            with locks.try_pod_lock(host.settings.locks_dir, rec.namespace, rec.name) as free:
                if free:  # the command that worked on it was killed: the supervisor finishes
                    return True
            continue
        if rec.lifecycle != "active":
            continue
        from kubeplay.engine import observe as engine
        from kubeplay.plan import pods as plans
        from kubeplay.plan import supervision

        plan = plans.from_json(rec.plan_json)
        if supervision.needs_supervision(plan, engine.observe(host, rec)):
            return True
    from kubeplay.engine import workloadkinds

    if not workloadkinds.workloads_stored(host):
        return False
    # imported only here: reconcile imports the supervisor's loop and with it asyncio
    from kubeplay.engine import reconcile

    return reconcile.any_needed(host)  # a workload not settled: a rollout, pods to make


def ensure_running(settings: Settings) -> int | None:
    """Nudge the running supervisor, or start one if a pod needs it; its pid if started."""
    if nudges.running_pid(settings) is not None:
        nudges.nudge(settings)
        return None
    if not settings.state_db.exists():
        return None
    host = host_mod.open_host(settings)
    try:
        if not _needed(host):
            return None
    finally:
        host.close()
    return start_background(settings)


def revive(settings: Settings) -> int | None:
    """For commands that read pod state (get, describe, wait, logs): start a supervisor when
    none runs (it was killed, or the host rebooted) and a pod needs one, so that what they
    show (a back-off, a restart to come) does happen. Its pid if started; no nudge."""
    if nudges.running_pid(settings) is not None or not settings.state_db.exists():
        return None
    host = host_mod.open_host(settings)
    try:
        if not _needed(host):
            return None
    finally:
        host.close()
    return start_background(settings)


def running_pid(settings: Settings) -> int | None:
    """The running supervisor's pid, or None."""
    return nudges.running_pid(settings)


def start_background(settings: Settings) -> int | None:
    """Start `kubeplay agent --idle-exit` in the background; its pid, or None when a
    supervisor holds the lock already (it is nudged instead).

    The supervisor's lock is taken here and handed to the new process open, and its pid
    written before this returns: from now on every command sees a supervisor running (and
    nudges it) instead of starting another one while this one imports and opens the store.
    Its first full pass, after it watches the wake dir, sees whatever those nudges named."""
    import subprocess

    host_mod.ensure_private_dir(settings.locks_dir)
    lock_fd = locks.try_lock(nudges.lock_path(settings))
    if lock_fd is None:
        nudges.nudge(settings)
        return None
    try:
        log_file = nudges.log_path(settings)
        host_mod.ensure_private_dir(log_file.parent)
        fd = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "kubeplay", "agent", "--idle-exit"],
                # this very install; a command's test crash point is its own, not the
                # supervisor's
                env={
                    **{k: v for k, v in os.environ.items() if k != crash.ENV},
                    **settings_mod.to_environ(settings),
                    nudges.LOCK_FD_ENV: str(lock_fd),
                    # one malloc arena for its worker threads (glibc makes one per thread):
                    # about 1.3 MB less resident, and it allocates little
                    "MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", "1"),
                },
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
                close_fds=True,
                pass_fds=(lock_fd,),
                cwd="/",  # a daemon: it must not keep the caller's directory (or its mount) busy
            )
        nudges.write_pid(settings, proc.pid)
    finally:
        os.close(lock_fd)  # the supervisor holds the lock now (or nobody, if it failed)
    return proc.pid


def run_agent(settings: Settings, *, idle_exit: bool) -> bool:
    """Run the supervisor in this process until stopped; False if one runs already."""
    from kubeplay import log
    from kubeplay.engine import supervisor as supervisor_mod

    host_mod.open_host(settings)  # make the roots (and say so clearly without root)
    log_file = nudges.log_path(settings)
    fd = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "a", buffering=1) as stream:
        log.configure(level="info", stream=stream)
        return supervisor_mod.Supervisor(
            settings,
            idle_exit=idle_exit,
            clock=_clock(),
            reconcile_source=_source_reconciler(settings),
        ).run()


def _source_reconciler(settings: Settings) -> Reconcile:
    """`services.sources.reconciler`, made at the first reconcile of a watched source: the
    manifest loader, YAML and the apply planner it imports (~1.5 MB) stay out of the
    supervisors that no source needs, which is most of them."""
    made: list[Reconcile] = []
    lock = threading.Lock()

    def run(name: str, *, now: float) -> Outcome:
        with lock:  # the loop's workers may reconcile two sources at once: one parser
            if not made:
                from kubeplay.services import sources

                made.append(sources.reconciler(settings))
        return made[0](name, now=now)

    return run


# Test-only: seconds added to the supervisor's clock (a CronJob's schedule comes sooner).
TEST_CLOCK_ENV = "KUBEPLAY_TEST_CLOCK_OFFSET"


def _clock() -> Callable[[], float]:
    import time

    try:
        offset = float(os.environ.get(TEST_CLOCK_ENV) or 0)
    except ValueError:
        offset = 0.0
    if not offset:
        return time.time
    return lambda: time.time() + offset


def stop(settings: Settings, *, timeout: float = STOP_TIMEOUT) -> int | None:
    """SIGTERM the running supervisor and wait for it (SIGKILL after `timeout`); its pid.

    The process is held by a pidfd opened while it still holds the supervisor lock and is
    named by the pid file, so the signals can only reach that very process (never another
    one that got its pid number later)."""
    import signal

    pid = nudges.running_pid(settings)
    if pid is None:
        return None
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return pid
    try:
        if nudges.running_pid(settings) != pid:
            return pid  # it exited (or handed over) meanwhile: the pidfd may be another's
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(pidfd, signal.SIGTERM)
        if not _wait_gone(pidfd, timeout):
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            _wait_gone(pidfd, 5.0)
    finally:
        os.close(pidfd)
    return pid


def _wait_gone(pidfd: int, timeout: float) -> bool:
    """Wait up to `timeout` s for the process behind `pidfd` to exit; True once it has."""
    import select

    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(timeout * 1000))


SYSTEMD_UNIT = """\
# kubeplay's supervisor, run by systemd: `kubeplay generate systemd > \\
#   /etc/systemd/system/kubeplay.service && systemctl enable --now kubeplay`.
# It restarts containers with back-off, runs probes and records events for every pod of this
# install; commands start one in the background when none runs, and a lock under the run
# root keeps it to one.
[Unit]
Description=kubeplay supervisor (restarts, probes and events of kubeplay pods)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart={exec_start} agent{watch}
{environment}Restart=always
RestartSec=2
# KillMode=process: stopping or restarting this unit signals the supervisor only. Each
# container has its own conmon, which the supervisor started and which lives in this unit's
# cgroup; the default (control-group) would kill every conmon, and so stop every pod, on a
# mere `systemctl restart kubeplay`. Pods outlive the supervisor by design: the next one
# adopts them. Stop pods with `kubeplay down` (or `kubeplay system reset`).
KillMode=process
KillSignal=SIGTERM
TimeoutStopSec=15

[Install]
WantedBy=multi-user.target
"""


def systemd_unit(*, environ: dict[str, str] | None = None, watch: Sequence[str] = ()) -> str:
    """A unit for `kubeplay agent`; the KUBEPLAY_* variables of this command go into its
    Environment= lines, so the agent supervises the same install as this command. `watch`:
    directories the agent keeps applied (`agent --watch DIR`)."""
    source = os.environ if environ is None else environ
    env = {
        var: source[var] for var in sorted(source) if var.startswith("KUBEPLAY_") and source[var]
    }
    executable = f"{sys.executable} -m kubeplay"
    environment = "".join(f'Environment="{k}={v}"\n' for k, v in env.items())
    watched = "".join(f" --watch {_systemd_quote(d)}" for d in watch)
    return SYSTEMD_UNIT.format(exec_start=executable, environment=environment, watch=watched)


def _systemd_quote(word: str) -> str:
    """A word of ExecStart= (systemd splits on spaces and honours double quotes)."""
    if word and all(c.isalnum() or c in "/._-+=:@" for c in word):
        return word
    escaped = word.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'"{escaped}"'
