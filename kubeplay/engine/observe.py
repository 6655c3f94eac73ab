"""What exists of a pod, rebuilt from the store and conmon's exit files without running any
subprocess: `observe`, what `get pods`, describe, the supervisor and the controllers read.

Kept apart from `engine.pods` (sync and teardown: the runtime, mounts, the network), so that
`kubeplay get pods` imports only this.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from kubeplay.engine.host import Host
from kubeplay.plan.observed import ContainerState, ObservedContainer, ObservedPod, Termination
from kubeplay.plan.pods import ContainerKind
from kubeplay.plan.status import NO_FREE_PORTS
from kubeplay.state.store import ContainerRecord, PodRecord


def pod_dir(host: Host, uid: str) -> Path:
    return host.settings.pods_dir / uid


def container_dir(host: Host, uid: str, name: str) -> Path:
    return pod_dir(host, uid) / "containers" / name


def alive(c: ContainerRecord) -> bool:
    """Whether the recorded process of `c` still runs: by pid and start time, never by a
    pid number alone (it may be another process's by now)."""
    from kubeplay.runtime import procs

    return procs.alive(procs.ProcessId(c.pid, c.pid_start))


def last_sign_of_life(log_path: str, started_at: float) -> float:
    """When a container whose conmon is gone (no exit file) ended, as well as can be told:
    its log's last write, else its start (so the restart age is not its whole run)."""
    try:
        return max(started_at, os.stat(log_path).st_mtime) if log_path else started_at
    except OSError:
        return started_at


def termination_message(host: Host, rec: PodRecord, c: ContainerRecord, *, exit_code: int) -> str:
    """The terminated state's message: the termination-log file, or with
    FallbackToLogsOnError the log's tail when the file is empty and the container failed."""
    from kubeplay.plan import termination

    path = container_dir(host, rec.uid, c.name) / "termination-log"
    try:
        with path.open("rb") as fh:
            text = fh.read(4096).decode(errors="replace").strip()
    except OSError:
        text = ""
    spec = rec.manifest.get("spec") or {}
    policy = next(
        (
            str(ctr.get("terminationMessagePolicy") or "File")
            for group in ("initContainers", "containers")
            for ctr in spec.get(group) or ()
            if ctr.get("name") == c.name
        ),
        "File",
    )
    if text or policy != "FallbackToLogsOnError" or exit_code == 0 or not c.log_path:
        return text
    try:
        with open(c.log_path, "rb") as fh:
            fh.seek(max(0, os.fstat(fh.fileno()).st_size - 64 * 1024))
            log = fh.read().decode(errors="replace")
    except OSError:
        return text
    return termination.termination_message(
        policy=policy, file_text=text, exit_code=exit_code, cri_log=log
    )


def termination_from(raw: Mapping[str, Any] | None) -> Termination | None:
    if not raw:
        return None
    return Termination(**raw)


def observe(host: Host, rec: PodRecord) -> ObservedPod:
    """What exists for `rec`: store rows + exit files + pid liveness; no subprocess."""
    containers: dict[str, ObservedContainer] = {}
    sandbox_id = ""
    sandbox_running = False
    for c in rec.containers:
        if c.kind == ContainerKind.INFRA:
            sandbox_id = c.container_id
            sandbox_running = bool(c.container_id) and (
                host.read_exit(c.container_id) is None and alive(c)
            )
            continue
        last = termination_from(c.last_termination)
        if not c.container_id:
            containers[c.name] = ObservedContainer(
                name=c.name,
                waiting_reason=c.waiting_reason or "ContainerCreating",
                waiting_message=c.waiting_message,
                restart_count=c.restart_count,
                last_termination=last,
            )
            continue
        # An end kubeplay recorded itself (the runtime could not start it: StartError), else
        # conmon's exit file.
        term = termination_from(c.termination)
        ex = None if term is not None else host.read_exit(c.container_id)
        if term is not None:
            state = ContainerState.TERMINATED
        elif ex is not None:
            state = ContainerState.TERMINATED
            term = Termination(
                exit_code=ex.exit_code,
                started_at=c.started_at,
                finished_at=ex.finished_at,
                oom_killed=ex.oom_killed,
                message=termination_message(host, rec, c, exit_code=ex.exit_code),
                container_id=c.container_id,
            )
        elif c.started_at is not None and alive(c):
            state, term = ContainerState.RUNNING, None
        elif c.started_at is not None:
            # Started, no exit file, process gone: conmon itself is gone (host reboot, kill -9).
            state = ContainerState.TERMINATED
            term = Termination(
                exit_code=137,
                started_at=c.started_at,
                finished_at=last_sign_of_life(c.log_path, c.started_at),
                message="container process and its conmon are gone",
                container_id=c.container_id,
            )
        else:
            state, term = ContainerState.WAITING, None
        containers[c.name] = ObservedContainer(
            name=c.name,
            state=state,
            container_id=c.container_id,
            started_at=c.started_at,
            termination=term,
            waiting_reason=c.waiting_reason or "ContainerCreating",
            waiting_message=c.waiting_message,
            restart_count=c.restart_count,
            last_termination=last,
            spec_hash=c.spec_hash,
            image_id=c.image_id,
        )
    for name, probed in host.store.get_probe_states(rec.uid).items():
        seen = containers.get(name)
        if seen is not None and seen.container_id == probed.container_id:  # else: stale
            containers[name] = replace(seen, readiness=probed.readiness, startup=probed.startup)
    host_network = bool((rec.manifest.get("spec") or {}).get("hostNetwork"))
    failure = host.store.get_pod_failure(rec.uid)
    return ObservedPod(
        sandbox_id=sandbox_id,
        sandbox_running=sandbox_running,
        containers=containers,
        pod_ip=host.host_ip if host_network else rec.pod_ip,
        host_ip=host.host_ip,
        created_at=rec.created_at,
        started_at=rec.started_at,
        terminating=rec.lifecycle == "terminating",
        deleting_at=rec.deleting_at,
        failed_reason=failure[0] if failure else "",
        failed_message=failure[1] if failure else "",
        unschedulable=NO_FREE_PORTS if rec.lifecycle == "pending" else "",
    )
