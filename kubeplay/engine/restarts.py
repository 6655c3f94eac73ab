"""Retiring a container instance before it starts again, as the kubelet does for a restart:
the exited instance leaves the runtime (conmon is gone with it), its rootfs is unmounted and
its writable layer dropped (a restart starts from the image), and its exit becomes the
container's lastState. The row keeps the restart count and the last log (so `logs` still
shows why it crashed); `pods._start_container` counts the next start as a restart.

Called by `pods.sync_pod` for starts the supervisor allows, and by the supervisor for a
container held in back-off (waiting CrashLoopBackOff with the kubelet's message). Decides
nothing: when to restart is `plan.supervision`'s.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, replace

from kubeplay.engine import pods
from kubeplay.engine.host import Host
from kubeplay.plan.observed import ContainerState
from kubeplay.plan.pods import PodPlan
from kubeplay.state.store import ContainerRecord, PodRecord


def _record(rec: PodRecord, name: str) -> ContainerRecord | None:
    return next((c for c in rec.containers if c.name == name), None)


def retire(
    host: Host,
    rec: PodRecord,
    name: str,
    *,
    reason: str = "",
    message: str = "",
    deferred: list[str] | None = None,
) -> bool:
    """Retire container `name`'s current instance, leaving it waiting with `reason`; False
    when there was nothing to do (no such row, or already waiting so). With `deferred`, the
    old instance's removal from the runtime is left to the caller (`forget`, once the next
    instance runs: it waits for the old conmon to go)."""
    prior = _record(rec, name)
    if prior is None:
        return False
    if not prior.container_id:
        if (prior.waiting_reason, prior.waiting_message) == (reason, message):
            return False
        host.store.put_container(replace(prior, waiting_reason=reason, waiting_message=message))
        return True
    obs = pods.observe(host, rec).get(name)
    term = obs.termination if obs.state is ContainerState.TERMINATED else None
    if deferred is None:
        forget(host, prior.container_id)
    else:
        deferred.append(prior.container_id)
    cdir = pods.container_dir(host, rec.uid, name)
    host.images.unmount_rootfs(cdir / "rootfs", lazy=True)  # nothing runs in it any more
    for sub in ("upper", "work"):
        shutil.rmtree(cdir / sub, True)
    (cdir / "termination-log").unlink(missing_ok=True)
    host.store.put_container(
        ContainerRecord(
            pod_uid=prior.pod_uid,
            name=prior.name,
            kind=prior.kind,
            restart_count=prior.restart_count,
            log_path=prior.log_path,
            waiting_reason=reason,
            waiting_message=message,
            last_termination=asdict(term) if term is not None else prior.last_termination,
            spec_hash=prior.spec_hash,  # what the last instance was made from: its image is
            image_id=prior.image_id,  # used again while the definition is the same
        )
    )
    return True


def forget(host: Host, cid: str) -> None:
    """Remove a dead instance from the runtime, with its conmon's files."""
    host.runtime.delete(cid, force=True)
    shutil.rmtree(host.settings.runroot / "persist" / cid, True)


def clear_previous(
    host: Host, plan: PodPlan, rec: PodRecord, name: str
) -> tuple[PodRecord, list[str]]:
    """Before (re)starting `name`: retire whatever instance it had, unmount a rootfs a failed
    start may have left. Returns the pod's fresh record and the old instances to `forget`
    once the new one started."""
    deferred: list[str] = []
    retire(host, rec, name, deferred=deferred)
    cdir = pods.container_dir(host, rec.uid, name)
    host.images.unmount_rootfs(cdir / "rootfs", lazy=True)
    return host.store.get_pod_by_uid(plan.uid) or rec, deferred
