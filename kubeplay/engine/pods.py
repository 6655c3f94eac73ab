"""Sync, observe and tear down one pod: the engine's side-effecting half of the kubelet.

`sync_pod` asks `plan.actions.compute_pod_actions` what to do and does it in the kubelet's
order (network namespace -> infra container -> init containers one by one -> app
containers; the namespace is wired to the bridge while the infra container is made),
recording every container in the store as soon as it exists, so that `teardown_pod` can
always remove what a failed sync left. `observe` rebuilds an ObservedPod from the store and
conmon's exit files without running any subprocess (fast `get pods`). Restarts with back-off
are the supervisor's; a sync starts containers that never ran. `observe` and the pod's
directories are `engine.observe`'s (re-exported here), which `get pods` imports without the
rest.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubeplay import crash, log
from kubeplay.engine import events
from kubeplay.engine.host import Host
from kubeplay.engine.observe import alive as _alive
from kubeplay.engine.observe import container_dir as container_dir
from kubeplay.engine.observe import observe as observe
from kubeplay.engine.observe import pod_dir as pod_dir
from kubeplay.errors import KubeplayError, StateError, SyncError
from kubeplay.plan.actions import PodActions
from kubeplay.plan.observed import START_ERROR_EXIT_CODE, Termination
from kubeplay.plan.pods import ContainerKind, ContainerPlan, PodPlan, resolve_image
from kubeplay.state.store import ContainerRecord, PodRecord

if TYPE_CHECKING:
    from kubeplay.engine.images import ImageResult
    from kubeplay.plan.images import ImageRef

INFRA = "_infra"  # not a DNS label, so it never clashes with a container name
_log = log.get_logger(__name__)


def pinned_namespaces_dir(host: Host) -> Path:
    return host.settings.runroot / "podns"


def namespace_path(host: Host, uid: str, kind: str) -> Path:
    """Where the pod's pinned `kind` namespace (ipc, uts, pid) is mounted; its netns is
    `PodRecord.netns`."""
    return pinned_namespaces_dir(host) / uid / kind


def _process_running(c: ContainerRecord) -> bool:
    """Whether the process of `c` runs: alive (pid and start time) and not a zombie (an
    orphan whose conmon died stays a zombie until its new parent reaps it, and there is
    nothing of it to stop)."""
    if not _alive(c):
        return False
    try:
        stat = Path(f"/proc/{c.pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[:1] != ["Z"]


# --- creating -------------------------------------------------------------------------------


def _write(path: Path, text: str, *, mode: int = 0o600) -> None:
    """Write `path` atomically with `mode`: 0600 unless a container must read it (an OCI
    config.json holds the container's env, Secret values included)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    with os.fdopen(fd, "w") as fh:
        os.fchmod(fh.fileno(), mode)
        fh.write(text)
    os.replace(tmp, path)


def _read_in_rootfs(rootfs: Path, rel: str) -> str:
    """Read a small file of the container's rootfs without following links out of it."""
    path = rootfs
    for part in rel.strip("/").split("/"):
        path = path / part
        if path.is_symlink():
            return ""
    try:
        return path.read_text(errors="replace") if path.is_file() else ""
    except OSError:
        return ""


def _cgroups_path(cid: str) -> str:
    return f"/kubeplay/{cid}"


def _new_id() -> str:
    import secrets

    return secrets.token_hex(32)


def _pod_files(host: Host, plan: PodPlan, rec: PodRecord) -> dict[str, str]:
    """Pod-level files bind-mounted into every app container: the kubelet-managed
    /etc/hosts, /etc/resolv.conf for the pod's dnsPolicy, /etc/hostname (the kernel
    hostname: the FQDN with setHostnameAsFQDN), and /dev/shm (`_shm_source`)."""
    from kubeplay.engine import network
    from kubeplay.plan import network as netplan
    from kubeplay.plan import ocispec

    base = pod_dir(host, plan.uid) / "etc"
    files: dict[str, str] = {}
    if plan.host_network:
        hosts = netplan.render_host_network_hosts(
            host_hosts=network.read_host_file("/etc/hosts"), host_aliases=plan.host_aliases
        )
    else:
        hosts = netplan.render_hosts(
            hostname=plan.hostname,
            pod_ip=rec.pod_ip or None,
            fqdn=plan.fqdn,
            host_aliases=plan.host_aliases,
        )
    _write(base / "hosts", hosts, mode=0o644)
    files["/etc/hosts"] = str(base / "hosts")
    _write(base / "resolv.conf", network.resolv_conf(host, plan), mode=0o644)
    files["/etc/resolv.conf"] = str(base / "resolv.conf")
    name = os.uname().nodename if plan.host_network else ocispec.uts_hostname(plan)
    _write(base / "hostname", name + "\n", mode=0o644)
    files["/etc/hostname"] = str(base / "hostname")
    files[ocispec.SHM] = _shm_source(host, plan)
    return files


def volumes_ready(host: Host, plan: PodPlan) -> bool:
    """Set up the pod's volumes before its sandbox, as the kubelet's WaitForAttachAndMount;
    False (and a FailedMount event) while a ConfigMap or Secret they need is missing: the
    pod waits in ContainerCreating and a later sync tries again. Other volume errors raise."""
    from kubeplay.engine import volumes
    from kubeplay.plan.volumes import VolumeSourceMissing

    try:
        volumes.ensure_pod_volumes(host, plan)
    except VolumeSourceMissing as err:
        message = f'MountVolume.SetUp failed for volume "{err.volume}" : {err.detail}'
        events.record(host, plan.uid, type=events.WARNING, reason="FailedMount", message=message)
        _log.info("pod_volume_missing", pod=plan.ref, volume=err.volume, error=err.detail)
        return False
    except KubeplayError as err:
        raise SyncError(str(err), step="volumes") from err
    return True


def _shm_source(host: Host, plan: PodPlan) -> str:
    """/dev/shm of the pod's containers: with hostIPC the host's, as containerd and podman;
    else the pod's own tmpfs, one for all its containers (they share its IPC namespace)."""
    from kubeplay.plan import ocispec

    if plan.host_ipc:
        return ocispec.SHM
    try:
        return str(host.network.ensure_shm(plan.uid))
    except KubeplayError as err:
        raise SyncError(f"pod {plan.ref}: {err}", step="volumes") from err


class _Unwired(Exception):
    """The pod's network failed while its containers were made (`_Wiring`): carried past
    the container steps' own error handling (it is no KubeplayError) up to `sync_pod`,
    which raises `error`."""

    def __init__(self, error: SyncError) -> None:
        super().__init__(str(error))
        self.error = error


class _Wiring:
    """The pod's netns wired to the bridge in a thread while its containers are made: wiring
    imports pyroute2 (about 0.15 s of CPU, once per process), and a container needs only the
    namespace and the address (leased before) until its process starts, so the import and
    the netlink calls run while the sync waits on conmon and the runtime. `wait()` is called
    before an app or init container starts; a failure raises `_Unwired` (a KubeplayError) or
    what the thread raised. `join()` only waits."""

    def __init__(self, host: Host, plan: PodPlan, netns: Path) -> None:
        import threading

        self._plan = plan
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(host, netns), name="kubeplay-wiring"
        )
        self._thread.start()

    def _run(self, host: Host, netns: Path) -> None:
        try:
            host.network.attach(self._plan, netns)
            crash.point("sandbox-network")
        except BaseException as err:  # handed to the waiting thread
            self._error = err

    def join(self) -> None:
        self._thread.join()

    def wait(self) -> None:
        self._thread.join()
        err = self._error
        if isinstance(err, KubeplayError):
            failed = SyncError(f"pod {self._plan.ref}: network: {err}", step="network")
            failed.__cause__ = err
            raise _Unwired(failed)
        if err is not None:
            raise err


def _create_sandbox(host: Host, plan: PodPlan, rec: PodRecord) -> tuple[PodRecord, _Wiring | None]:
    """The pod's sandbox: netns (with its address), pinned IPC and UTS namespaces and the
    infra container (its volumes are made first, `volumes_ready`). The netns is made and the
    address leased first; the netns is wired to the bridge meanwhile (`_Wiring`, returned,
    to be waited for before a container of the pod's own starts). A failure of the infra
    container waits for the wiring first (a network error is then reported, as the network
    comes first in the kubelet's order); what was made is left to the caller's teardown."""
    netns = ""
    wiring: _Wiring | None = None
    if not plan.host_network:
        netns = str(host.settings.netns_dir / plan.uid)
        host.store.update_pod(plan.uid, netns=netns)
        try:
            host.network.create_namespace(Path(netns), "net")
            host.network.lease(plan)
        except KubeplayError as err:
            raise SyncError(f"pod {plan.ref}: network: {err}", step="network") from err
        wiring = _Wiring(host, plan, Path(netns))
    try:
        _create_infra(host, plan, netns)
    except BaseException:
        if wiring is not None:
            try:
                wiring.wait()  # never leave it running; its error comes first
            except _Unwired as err:
                raise err.error from err.error.__cause__
        raise
    crash.point("sandbox-infra")
    host.store.update_pod(plan.uid, started_at=time.time())
    got = host.store.get_pod_by_uid(plan.uid)
    if got is None:
        if wiring is not None:
            wiring.join()
        raise StateError(f"pod {plan.ref}: vanished from the store while starting")
    return got, wiring


def _create_infra(host: Host, plan: PodPlan, netns: str) -> None:
    """The pinned IPC and UTS namespaces and the infra container, in the pod's netns."""
    from kubeplay.engine import containerconfig
    from kubeplay.plan import ocispec, qos

    base = pod_dir(host, plan.uid)
    ipc_ns = "" if plan.host_ipc else str(namespace_path(host, plan.uid, "ipc"))
    uts_ns = "" if plan.host_network else str(namespace_path(host, plan.uid, "uts"))
    try:
        if ipc_ns:
            host.network.create_namespace(Path(ipc_ns), "ipc")
        if uts_ns:
            host.network.create_namespace(Path(uts_ns), "uts", hostname=ocispec.uts_hostname(plan))
    except KubeplayError as err:
        raise SyncError(f"pod {plan.ref}: namespaces: {err}", step="network") from err
    infra = base / "infra"
    rootfs = infra / "rootfs"
    rootfs.mkdir(parents=True, exist_ok=True)
    (rootfs / "catatonit").touch()
    cid = _new_id()
    spec = ocispec.build_infra_spec(
        plan,
        rootfs=rootfs,
        catatonit=host.settings.catatonit,
        netns=netns or None,
        cgroups_path=_cgroups_path(cid),
        host_files={ocispec.SHM: _shm_source(host, plan)},
        oom_score_adj=qos.clamp_oom_score_adj(
            qos.INFRA_OOM_SCORE_ADJ, floor=containerconfig.oom_score_adj_floor()
        ),
        ipc_ns=ipc_ns,
        uts_ns=uts_ns,
    )
    _write(infra / "config.json", json.dumps(spec))
    record = ContainerRecord(pod_uid=plan.uid, name=INFRA, kind=ContainerKind.INFRA)
    host.store.put_container(record)
    try:
        pid = _run_container(host, plan, record, cid=cid, bundle=infra, log_path=infra / "log")
        if plan.share_process_namespace and not plan.host_pid:
            _pin_pid_namespace(host, plan, pid)
    except KubeplayError as err:
        raise SyncError(f"pod {plan.ref}: infra container: {err}", step="infra") from err


def _pin_pid_namespace(host: Host, plan: PodPlan, pid: int) -> None:
    """Pin the infra process's PID namespace (shareProcessNamespace) right after it started,
    checked to be that very process before and after, so that app containers join it by a
    path of the pod's, never by /proc/<pid>."""
    from kubeplay.net import netns as netns_mod

    rec = host.store.get_pod_by_uid(plan.uid)
    found = rec.containers if rec else ()
    infra = next((c for c in found if c.kind == ContainerKind.INFRA), None)
    if infra is None or infra.pid != pid or not _alive(infra):
        raise StateError(f"pod {plan.ref}: infra process {pid} is gone")
    target = namespace_path(host, plan.uid, "pid")
    netns_mod.pin_namespace(Path(f"/proc/{pid}/ns/pid"), target)
    if not _alive(infra):  # it exited meanwhile: its number may name another process now
        netns_mod.remove_netns(target)
        raise StateError(f"pod {plan.ref}: infra process {pid} is gone")


def _run_container(
    host: Host,
    plan: PodPlan,
    record: ContainerRecord,
    *,
    cid: str,
    bundle: Path,
    log_path: Path,
    tty: bool = False,
    stdin: bool = False,
    before_start: Callable[[], None] | None = None,
) -> int:
    """conmon + runtime create, record the id (so teardown finds it), then start and
    record the pid and times. `before_start`: what must be done before the container's
    process runs (the pod's network, `_Wiring.wait`)."""
    persist = host.settings.runroot / "persist" / cid
    persist.mkdir(parents=True, exist_ok=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    record = replace(record, container_id=cid, log_path=str(log_path))
    host.store.put_container(record)
    pid = host.runtime.create(
        cid,
        bundle=bundle,
        name=record.name,
        log_path=log_path,
        persist_dir=persist,
        tty=tty,
        stdin=stdin,
    )
    from kubeplay.runtime import procs

    record = replace(record, pid=pid, pid_start=procs.start_time(pid) or 0, created_at=time.time())
    host.store.put_container(record)
    crash.point("container-created")
    if before_start is not None:
        before_start()
    host.runtime.start(cid)
    host.store.put_container(replace(record, started_at=time.time()))
    crash.point("container-started")
    return pid


def _namespaces(host: Host, plan: PodPlan, rec: PodRecord) -> dict[str, str | None]:
    """The pod's namespaces an app container joins: the pinned paths, never /proc/<pid>/ns."""

    def pinned(kind: str) -> str:
        return str(namespace_path(host, plan.uid, kind))

    return {
        "network": None if plan.host_network else rec.netns,
        "uts": None if plan.host_network else pinned("uts"),
        "ipc": None if plan.host_ipc else pinned("ipc"),
        "pid": None if plan.host_pid else (pinned("pid") if plan.share_process_namespace else ""),
    }


def _config_error(host: Host, plan: PodPlan, record: ContainerRecord, err: Exception) -> None:
    """Leave the container waiting with CreateContainerConfigError, as the kubelet does, and
    record the kubelet's event; the rest of the pod goes on."""
    host.store.put_container(
        replace(record, waiting_reason="CreateContainerConfigError", waiting_message=str(err))
    )
    host.store.add_event(
        plan.uid,
        type="Warning",
        reason="Failed",
        message=f"Error: {err}",
        field_path=f"spec.{'initContainers' if record.kind == ContainerKind.INIT else 'containers'}"
        f"{{{record.name}}}",
        at=time.time(),
    )
    _log.info("container_config_error", pod=plan.ref, container=record.name, error=str(err))


def _start_container(
    host: Host,
    plan: PodPlan,
    rec: PodRecord,
    ctr: ContainerPlan,
    image: ImageRef,
    *,
    before_start: Callable[[], None] | None = None,
) -> bool:
    """Create and start one container from `image`; False when its configuration failed (it
    is then left waiting with CreateContainerConfigError and nothing of it runs).
    `before_start`: see `_run_container`."""
    from kubeplay.engine import containerconfig, volumes
    from kubeplay.plan import ocispec, users

    infra = next((c for c in rec.containers if c.kind == ContainerKind.INFRA), None)
    if infra is None or not infra.pid or not _alive(infra):
        raise SyncError(f"pod {plan.ref}: container {ctr.name}: no sandbox", step="container")
    prior = next((c for c in rec.containers if c.name == ctr.name), None)
    # An instance that ran before (it has a log) makes this start a restart.
    restart_count = (prior.restart_count + (1 if prior.log_path else 0)) if prior else 0
    cdir = container_dir(host, plan.uid, ctr.name)
    rootfs = cdir / "rootfs"
    # While a restart's instance is made, the container still shows why it waited
    # (CrashLoopBackOff, RunContainerError), as the kubelet shows it until the new one runs;
    # ContainerCreating is for a container that never ran.
    restarting = prior is not None and bool(prior.log_path or prior.last_termination)
    record = ContainerRecord(
        pod_uid=plan.uid,
        name=ctr.name,
        kind=ctr.kind,
        restart_count=restart_count,
        waiting_reason=prior.waiting_reason if prior and restarting else "",
        waiting_message=prior.waiting_message if prior and restarting else "",
        last_termination=prior.last_termination if prior else None,
        spec_hash=ctr.spec_hash,
        image_id=image.image_id,
        stop_signal=resolve_image(ctr, image).stop_signal,
    )
    host.store.put_container(record)
    step = f"pod {plan.ref}: container {ctr.name}"
    events.pulled(host, plan.uid, ctr)
    try:
        host.images.mount_rootfs(
            image.image_id, target=rootfs, upper=cdir / "upper", work=cdir / "work"
        )
    except KubeplayError as err:
        raise SyncError(f"{step}: rootfs: {err}", step="rootfs") from err
    try:
        prepared = containerconfig.prepare(host, plan, rec, ctr, image)
        ctr = prepared.ctr
        user = users.resolve_user(
            ctr.user,
            run_as_user=ctr.run_as_user,
            run_as_group=ctr.run_as_group,
            supplemental_groups=ctr.security.supplemental_groups,
            passwd=_read_in_rootfs(rootfs, "etc/passwd"),
            group=_read_in_rootfs(rootfs, "etc/group"),
        )
    except KubeplayError as err:
        host.images.unmount_rootfs(rootfs)
        _config_error(host, plan, record, err)
        return False
    for warning in prepared.warnings:
        host.store.add_event(
            plan.uid,
            type="Warning",
            reason="InvalidEnvironmentVariableNames",
            message=warning,
            at=time.time(),
        )
    try:
        volume_mounts, propagation = volumes.container_mounts(host, plan, ctr)
    except KubeplayError as err:
        raise SyncError(str(err), step="volumes") from err
    term_log = cdir / "termination-log"
    term_log.touch()
    term_log.chmod(0o666)  # as the kubelet: the container's user, whoever it is, writes it
    files = {**_pod_files(host, plan, rec), ctr.termination_message_path: str(term_log)}
    for m in ctr.mounts:  # a volume the user mounts there wins, as the kubelet's makeMounts
        files.pop(m.path, None)
    cid = _new_id()
    spec = ocispec.build_container_spec(
        plan,
        ctr,
        rootfs=rootfs,
        user=user,
        namespaces=_namespaces(host, plan, rec),
        cgroups_path=_cgroups_path(cid),
        host_files=files,
        **prepared.spec_args,
        volume_mounts=volume_mounts,
        rootfs_propagation=propagation,
    )
    _write(cdir / "config.json", json.dumps(spec))
    log_path = pod_dir(host, plan.uid) / "logs" / ctr.name / f"{restart_count}.log"
    try:
        _run_container(
            host,
            plan,
            record,
            cid=cid,
            bundle=cdir,
            log_path=log_path,
            tty=ctr.tty,
            stdin=ctr.stdin,
            before_start=before_start,
        )
    except KubeplayError as err:  # the runtime could not start it (no such executable...)
        raise SyncError(f"{step}: {err}", step="start") from err
    events.created(host, plan.uid, ctr)
    events.started(host, plan.uid, ctr)
    _log.info("container_started", pod=plan.ref, container=ctr.name, id=cid[:12])
    if ctr.post_start is not None:
        from kubeplay.engine import hooks

        if not hooks.run_post_start(host, plan, rec, ctr, container_id=cid):
            now = host.store.get_pod_by_uid(plan.uid) or rec
            this = replace(now, containers=tuple(c for c in now.containers if c.name == ctr.name))
            stop_containers(host, plan, this, grace=float(plan.termination_grace_period))
    return True


def sync_pod(
    host: Host,
    plan: PodPlan,
    *,
    wait_init_timeout: float | None = None,
    pulled: Mapping[tuple[str, str], ImageResult] | None = None,
    may_start: Callable[[str], bool] | None = None,
) -> None:
    """Bring the pod up to its plan: sandbox, init containers in order, then app containers.

    Runs init containers to completion (waiting for each), as the kubelet does before it
    starts app containers. A pod whose ConfigMap or Secret volume source is missing is left
    waiting in ContainerCreating (FailedMount) without a sandbox. Containers that already
    ran are left to the supervisor (back-off).
    A container whose image cannot be had (pulled per its policy, see engine.images) is left
    waiting ErrImagePull with the registry's message; the others go on. `pulled`: the images
    this command already ensured (by image as written and pull policy), used as they are,
    failures not tried again.
    The supervisor passes `may_start`: it says which containers may (re)start now, previous
    instances are retired first, and a running init container is not waited for (the
    supervisor hears of its exit).
    """
    from kubeplay.plan import actions

    failed = pulled or {}
    if may_start is None:  # play's sync: the pod is bound to this node now
        events.scheduled(host, plan.uid, plan.ref)

    wiring: _Wiring | None = None  # the sandbox's network, wired while containers are made
    wired: Callable[[], None] | None = None
    try:
        while True:
            rec = host.store.get_pod_by_uid(plan.uid)
            if rec is None:
                raise StateError(f"pod {plan.ref}: not in the store")
            observed = observe(host, rec)
            todo = actions.compute_pod_actions(plan, observed)
            if todo.create_sandbox:
                if observed.sandbox_id and may_start is None:
                    raise SyncError(f"pod {plan.ref}: the pod sandbox died", step="infra")
                if not volumes_ready(host, plan):
                    break  # ContainerCreating, FailedMount: the supervisor tries again
                if observed.sandbox_id:  # the supervisor killed the pod for it (SandboxChanged)
                    remove_sandbox(host, rec)
                    rec = host.store.get_pod_by_uid(plan.uid) or rec
                rec, wiring = _create_sandbox(host, plan, rec)
                wired = wiring.wait if wiring is not None else None
                continue
            if todo.wait_for:
                if may_start is not None:
                    break
                cid = observed.get(todo.wait_for).container_id
                host.runtime.wait_exit(cid, wait_init_timeout if wait_init_timeout else 1e9)
                continue
            supervised = may_start is not None
            if todo.start_init and _allowed(todo.start_init, todo, may_start):
                plan, started = _start(
                    host,
                    plan,
                    rec,
                    todo.start_init,
                    supervised=supervised,
                    failed=failed,
                    before_start=wired,
                )
                if not started:
                    break  # its image is missing or its configuration failed: the pod waits
                continue
            if todo.start_init and not todo.start:
                break
            for name in todo.start:
                if not _allowed(name, todo, may_start):
                    continue
                plan, started = _start(
                    host, plan, rec, name, supervised=supervised, failed=failed, before_start=wired
                )
                if started:  # else waiting (image, configuration); the other containers start
                    rec = host.store.get_pod_by_uid(plan.uid) or rec
            break
        if wiring is not None:  # done before the sync is, also when no container started
            wiring.wait()
    except _Unwired as err:
        raise err.error from err.error.__cause__
    finally:
        if wiring is not None:
            wiring.join()
    if may_start is None:
        host.store.update_pod(plan.uid, lifecycle="active")


def restart_containers(host: Host, plan: PodPlan, names: Sequence[str]) -> None:
    """Containers whose spec changed (a Pod's image updated in place) are stopped and started
    again with `plan`, as the kubelet does when a container's hash changes: the others keep
    running, restartCount + 1, the old instance's exit becomes lastState. Whatever the restart
    policy: the kubelet restarts a changed container even under Never."""
    for name in names:
        ctr = plan.container(name)
        rec = host.store.get_pod_by_uid(plan.uid)
        if rec is None or ctr is None or ctr.kind == ContainerKind.INIT:
            continue
        this = replace(rec, containers=tuple(c for c in rec.containers if c.name == name))
        stop_containers(
            host,
            plan,
            this,
            grace=float(plan.termination_grace_period),
            why=f"Container {name} definition changed, will be restarted",
        )
        rec = host.store.get_pod_by_uid(plan.uid) or rec
        _start(host, plan, rec, name, supervised=True, failed={})


def _allowed(name: str, todo: PodActions, may_start: Callable[[str], bool] | None) -> bool:
    return name not in todo.restarts if may_start is None else may_start(name)


def _start(
    host: Host,
    plan: PodPlan,
    rec: PodRecord,
    name: str,
    *,
    supervised: bool,
    failed: Mapping[tuple[str, str], ImageResult],
    before_start: Callable[[], None] | None = None,
) -> tuple[PodPlan, bool]:
    """(Re)start container `name`: its image first (engine.images); the plan and whether it
    started (not: waiting for its image, or CreateContainerConfigError). `before_start`:
    see `_run_container`."""
    from kubeplay.engine import images as images_mod
    from kubeplay.engine import restarts

    old: list[str] = []
    prior = next((c for c in rec.containers if c.name == name), None)
    if supervised:  # before anything rewrites the row: the old instance must not be lost
        rec, old = restarts.clear_previous(host, plan, rec, name)
    try:
        found = images_mod.prepare_start(host, plan, name, prior=prior, pulled=failed)
        if found is None:
            return plan, False
        ctr, image = found
        try:
            started = _start_container(host, plan, rec, ctr, image, before_start=before_start)
        except SyncError as err:
            events.failed(host, plan.uid, ctr, str(err.__cause__ or err))
            if supervised:  # wait, with the kubelet's reason, for the supervisor's next try
                _mark_failed_start(host, plan, name, err)
            raise
        return plan, started
    finally:
        for cid in old:  # after the start: the restart does not wait for the old conmon
            restarts.forget(host, cid)


def _mark_failed_start(host: Host, plan: PodPlan, name: str, err: SyncError) -> None:
    rec = host.store.get_pod_by_uid(plan.uid)
    row = next((c for c in rec.containers if c.name == name), None) if rec else None
    if row is None:
        return
    if err.step == "start" and row.container_id:
        _record_start_error(host, row, str(err.__cause__ or err))
        return
    if row.waiting_reason:
        return  # the failing step said why already (CreateContainerConfigError, ErrImagePull)
    reason = "RunContainerError" if err.step == "container" else "CreateContainerError"
    host.store.put_container(
        replace(row, waiting_reason=reason, waiting_message=str(err.__cause__ or err))
    )


def _record_start_error(host: Host, row: ContainerRecord, message: str) -> None:
    """The runtime could not start this instance: it ends there, as containerd ends it
    (its task deleted, the container exited with code 128, reason StartError, never
    started: startedAt is the epoch, as the kubelet shows containerd's zero). The
    restart policy then decides, as for any exit: under Never it stays terminated and the
    pod fails, else it restarts with back-off (CrashLoopBackOff), counted in restartCount."""
    from kubeplay.engine import restarts

    restarts.forget(host, row.container_id)
    ended = Termination(
        exit_code=START_ERROR_EXIT_CODE,
        started_at=0.0,
        finished_at=time.time(),
        message=message,
        container_id=row.container_id,
        start_error=True,
    )
    host.store.put_container(
        replace(row, pid=0, pid_start=0, started_at=None, termination=asdict(ended))
    )


# --- a dead sandbox ---------------------------------------------------------------------------

SANDBOX_CHANGED = "Pod sandbox changed, it will be killed and re-created."


def kill_for_sandbox_change(host: Host, plan: PodPlan, rec: PodRecord, *, recreate: bool) -> None:
    """The kubelet's answer to a pod whose sandbox died: kill every container of the pod
    (grace period as for any kill); with `recreate` say so (SandboxChanged) and retire the
    init containers and the app containers to run again, which the new sandbox then starts
    in order. Which app containers run again is decided before the kill, as the kubelet's
    computePodActions does: all but those that had succeeded under OnFailure (a container
    that exits 0 on the kill's SIGTERM still runs again). Without `recreate`
    (restartPolicy Never) the pod just ends."""
    from kubeplay.engine import restarts
    from kubeplay.plan import actions

    again = [ctr.name for ctr in plan.init_containers]
    if recreate:
        observed = observe(host, rec)
        on_failure = plan.restart_policy == "OnFailure"
        again += [
            ctr.name
            for ctr in plan.containers
            if not (on_failure and actions.succeeded(observed.get(ctr.name)))
        ]
        events.record(host, plan.uid, reason="SandboxChanged", message=SANDBOX_CHANGED)
    _log.warning("pod_sandbox_changed", pod=plan.ref, recreate=recreate)
    stop_containers(host, plan, rec, grace=float(plan.termination_grace_period))
    if not recreate:
        return
    for name in again:
        fresh = host.store.get_pod_by_uid(plan.uid)
        if fresh is not None:
            restarts.retire(host, fresh, name)


def _remove_pinned_namespaces(host: Host, uid: str) -> None:
    for kind in ("ipc", "uts", "pid"):
        host.network.remove_namespace(namespace_path(host, uid, kind))
    with contextlib.suppress(OSError):
        namespace_path(host, uid, "ipc").parent.rmdir()


def remove_sandbox(host: Host, rec: PodRecord) -> None:
    """Remove what is left of a dead sandbox (the infra container, the netns with its veth,
    the pinned namespaces), keeping the pod's address for the next one."""
    from kubeplay.engine import network

    infra = next((c for c in rec.containers if c.kind == ContainerKind.INFRA), None)
    if infra is not None and infra.container_id:
        host.runtime.kill(infra.container_id, signal.SIGKILL)
        host.runtime.delete(infra.container_id, force=True)
        shutil.rmtree(host.settings.runroot / "persist" / infra.container_id, True)
    if rec.netns:
        network.teardown_pod(host, rec)
    _remove_pinned_namespaces(host, rec.uid)
    host.store.put_container(ContainerRecord(pod_uid=rec.uid, name=INFRA, kind=ContainerKind.INFRA))


# --- tearing down ---------------------------------------------------------------------------


def _signal_number(name: str) -> int:
    name = name.strip().upper()
    if name.isdigit():
        return int(name)
    if not name.startswith("SIG"):
        name = "SIG" + name
    return int(getattr(signal, name, signal.SIGTERM))


@dataclass(frozen=True, slots=True)
class Stopping:
    """Containers sent their stop signal, and when their grace period ends (monotonic)."""

    running: tuple[ContainerRecord, ...]
    deadline: float
    orphans: frozenset[str] = frozenset()  # running, but without a conmon to report the exit


def _wait_container(
    host: Host, c: ContainerRecord, timeout: float, orphans: frozenset[str]
) -> bool:
    """Whether container `c` ended within `timeout` s. A container whose conmon is gone (kill
    -9, a reboot) writes no exit file: it is waited for by its process."""
    if c.container_id in orphans:
        return host.runtime.wait_process(c.pid, timeout)
    return host.runtime.wait_exit(c.container_id, timeout) is not None


def _bounded(slots: AbstractContextManager[Any] | None) -> AbstractContextManager[Any]:
    return slots if slots is not None else nullcontext()


def signal_containers(
    host: Host,
    plan: PodPlan,
    rec: PodRecord,
    *,
    grace: float,
    why: str = "",
    slots: AbstractContextManager[Any] | None = None,
) -> Stopping:
    """preStop hooks, then the stop signal to every running container; returns what to wait
    for. `slots` bounds the CPU-bound part (the runtime calls), never the hooks' waiting.
    A container whose conmon and process are both gone has nothing to stop or wait for."""
    candidates = [
        c
        for c in rec.containers
        if c.kind != ContainerKind.INFRA
        and c.container_id
        and c.pid  # 0: create failed or never finished, there is no process to stop
        and host.read_exit(c.container_id) is None
    ]
    running: list[ContainerRecord] = []
    orphans: set[str] = set()  # running, but without a conmon to report the exit
    for c in candidates:
        if host.runtime.monitor_alive(c.container_id):
            running.append(c)
        elif _process_running(c):
            running.append(c)
            orphans.add(c.container_id)
        else:
            _log.info("container_gone", pod=plan.ref, container=c.name, reason="no_conmon")
    hooked = [(ctr, c.container_id) for c in running if (ctr := plan.container(c.name))]
    if any(ctr.pre_stop is not None for ctr, _ in hooked):
        from kubeplay.engine import hooks

        grace = hooks.run_pre_stop(host, plan, rec, hooked, grace=grace)
    with _bounded(slots):
        for c in running:
            ctr = plan.container(c.name)
            if ctr is not None:
                events.killing(host, plan.uid, ctr, message=why)
            sig = _signal_number(c.stop_signal or (ctr.stop_signal if ctr else "") or "SIGTERM")
            host.runtime.kill(c.container_id, sig, pid=c.pid)
    return Stopping(tuple(running), time.monotonic() + grace, frozenset(orphans))


def wait_stopped(host: Host, stopping: Stopping) -> list[ContainerRecord]:
    """Wait until the containers exit or their grace period ends; those still running."""
    left_running = []
    for c in stopping.running:
        left = max(0.0, stopping.deadline - time.monotonic())
        if not _wait_container(host, c, left, stopping.orphans):
            left_running.append(c)
    return left_running


def kill_containers(
    host: Host,
    plan: PodPlan,
    containers: Sequence[ContainerRecord],
    *,
    slots: AbstractContextManager[Any] | None = None,
    orphans: frozenset[str] = frozenset(),
) -> None:
    """SIGKILL the containers whose grace period ended, and wait for their exit."""
    for c in containers:
        if _wait_container(host, c, 0.0, orphans):
            continue
        _log.info("container_kill", pod=plan.ref, container=c.name, reason="grace_period")
        with _bounded(slots):
            host.runtime.kill(c.container_id, signal.SIGKILL, all_procs=True, pid=c.pid)
        _wait_container(host, c, 10.0, orphans)


def stop_containers(
    host: Host, plan: PodPlan, rec: PodRecord, *, grace: float, why: str = ""
) -> None:
    """preStop hooks, stop signal to every running container, wait up to `grace` (less what
    the hooks took), then SIGKILL. `why`: the Killing event's message (a failed probe)."""
    stopping = signal_containers(host, plan, rec, grace=grace, why=why)
    kill_containers(host, plan, wait_stopped(host, stopping), orphans=stopping.orphans)


def enforce_deadline(host: Host, rec: PodRecord, *, now: float) -> bool:
    """activeDeadlineSeconds: once passed, mark the pod Failed (DeadlineExceeded) and stop its
    containers within the grace period, as the kubelet does. True when it did so; the
    supervisor calls this on a timer (plan.deadline.seconds_left)."""
    from kubeplay.plan import deadline
    from kubeplay.plan import pods as pods_mod

    plan = pods_mod.from_json(rec.plan_json)
    if not deadline.deadline_exceeded(plan.active_deadline_seconds, rec.started_at, now):
        return False
    host.store.set_pod_failure(rec.uid, reason=deadline.REASON, message=deadline.MESSAGE, at=now)
    host.store.add_event(
        rec.uid, type="Normal", reason=deadline.REASON, message=deadline.MESSAGE, at=now
    )
    stop_containers(host, plan, rec, grace=float(plan.termination_grace_period))
    _log.info("pod_deadline_exceeded", pod=plan.ref)
    return True


def remove_tree(path: Path) -> None:
    """rm -rf that never crosses into another filesystem (a mount left behind)."""
    if not path.exists():
        return
    dev = path.stat().st_dev
    for dirpath, dirnames, _files in os.walk(path):
        for d in list(dirnames):
            sub = Path(dirpath) / d
            if not sub.is_symlink() and sub.stat().st_dev != dev:
                raise StateError(f"{sub}: still mounted; refusing to remove it")
    shutil.rmtree(path)


@dataclass(frozen=True, slots=True)
class Teardown:
    """A pod being torn down: signalled (or failed to be), its rows and files still there."""

    rec: PodRecord
    plan: PodPlan
    stopping: Stopping
    errors: tuple[str, ...]


def begin_teardown(
    host: Host,
    rec: PodRecord,
    *,
    grace: float | None = None,
    slots: AbstractContextManager[Any] | None = None,
) -> Teardown:
    """Mark the pod terminating and send its containers their stop signal (after preStop)."""
    from kubeplay.plan import pods as pods_mod

    with _bounded(slots):
        plan = pods_mod.from_json(rec.plan_json)
        host.store.mark_terminating(rec.uid, at=time.time())
    period = float(plan.termination_grace_period if grace is None else grace)
    try:
        stopping = signal_containers(host, plan, rec, grace=period, slots=slots)
    except KubeplayError as err:
        return Teardown(rec, plan, Stopping((), time.monotonic()), (str(err),))
    return Teardown(rec, plan, stopping, ())


def finish_teardown(
    host: Host,
    teardown: Teardown,
    *,
    slots: AbstractContextManager[Any] | None = None,
    waited: Sequence[ContainerRecord] | None = None,
) -> None:
    """Wait out the grace period (unless `waited` gives what is left running after it), kill,
    then remove everything of the pod and its rows. Raises StateError naming what failed."""
    import shutil

    rec, plan = teardown.rec, teardown.plan
    errors = list(teardown.errors)
    try:
        left = wait_stopped(host, teardown.stopping) if waited is None else waited
        kill_containers(host, plan, left, slots=slots, orphans=teardown.stopping.orphans)
    except KubeplayError as err:
        errors.append(str(err))
    crash.point("down-stopped")
    with _bounded(slots):
        for c in reversed(rec.containers):
            try:
                if c.container_id:
                    if c.kind == ContainerKind.INFRA:
                        host.runtime.kill(c.container_id, signal.SIGKILL, pid=c.pid)
                    host.runtime.delete(c.container_id, force=True)
                    shutil.rmtree(host.settings.runroot / "persist" / c.container_id, True)
                if c.kind != ContainerKind.INFRA:
                    host.images.unmount_rootfs(container_dir(host, rec.uid, c.name) / "rootfs")
            except KubeplayError as err:
                errors.append(str(err))
        crash.point("down-containers")
        if rec.netns:
            try:
                host.network.release(rec)
            except KubeplayError as err:
                errors.append(str(err))
        try:
            _remove_pinned_namespaces(host, rec.uid)
        except KubeplayError as err:
            errors.append(str(err))
        try:
            from kubeplay.engine import volumes

            volumes.teardown_pod_volumes(host, rec.uid)
            remove_tree(pod_dir(host, rec.uid))
        except (KubeplayError, OSError) as err:
            errors.append(str(err))
        if errors:
            raise StateError(f"pod {rec.namespace}/{rec.name}: teardown: " + "; ".join(errors))
        host.store.delete_pod(rec.uid)
    _log.info("pod_removed", pod=f"{rec.namespace}/{rec.name}")


def teardown_pod(host: Host, rec: PodRecord, *, grace: float | None = None) -> None:
    """Stop and remove everything of the pod, then its rows. Safe to call again."""
    leave_endpoints(host, [rec])
    finish_teardown(host, begin_teardown(host, rec, grace=grace))


def leave_endpoints(host: Host, recs: Sequence[PodRecord]) -> None:
    """Before pods get their stop signal: mark them terminating and, if Services exist,
    rewrite the rules without them, so no new connection reaches a stopping pod (a cluster
    races here; in order it costs one table write)."""
    if not any(not r.api_group for r in host.store.list_records(["Service"])):
        return
    from kubeplay.engine import network

    now = time.time()
    for rec in recs:
        if rec.lifecycle != "terminating":
            host.store.mark_terminating(rec.uid, at=now)
    network.refresh(host)


def teardown_pods(
    host: Host, recs: Sequence[PodRecord], *, grace: float | None = None, parallelism: int
) -> list[BaseException]:
    """Tear down many pods as the kubelet stops them: every pod is signalled (after its
    preStop hooks, which run side by side) before any grace period is waited out, the grace
    periods run concurrently, and only the CPU-bound steps (runtime calls, removal) are
    bounded by `parallelism`. So N pods with a grace period G take about G, not G * N /
    parallelism. Returns the errors, one per pod that failed."""
    if not recs:
        return []
    import threading
    from concurrent.futures import Future, ThreadPoolExecutor

    leave_endpoints(host, recs)
    slots = threading.BoundedSemaphore(max(1, parallelism))
    errors: list[BaseException] = []
    begun: list[Teardown] = []
    with ThreadPoolExecutor(max_workers=len(recs)) as signalling:
        for fut in [
            signalling.submit(begin_teardown, host, r, grace=grace, slots=slots) for r in recs
        ]:
            if (exc := fut.exception()) is not None:
                errors.append(exc)
            else:
                begun.append(fut.result())
    _log.debug("pods_signalled", pods=len(begun))
    finishing: list[Future[None]] = []
    with ThreadPoolExecutor(max_workers=max(1, min(parallelism, len(begun) or 1))) as workers:
        # One waiter, earliest grace period first: a pod is killed and removed (on a worker)
        # as soon as its containers exit or its grace period ends, while the others wait.
        for teardown in sorted(begun, key=lambda t: t.stopping.deadline):
            try:
                left = wait_stopped(host, teardown.stopping)
            except KubeplayError as err:
                teardown = replace(teardown, errors=(*teardown.errors, str(err)))
                left = list(teardown.stopping.running)
            finishing.append(workers.submit(finish_teardown, host, teardown, waited=left))
        errors.extend(exc for fut in finishing if (exc := fut.exception()) is not None)
    return errors
