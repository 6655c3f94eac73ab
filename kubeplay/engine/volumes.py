"""Volumes on the host: what the kubelet's volume manager does before a pod's containers start.

`engine.pods` calls `ensure_pod_volumes` before it makes the sandbox, `container_mounts` for
each container (subPath binds, OCI mount entries) and `teardown_pod_volumes` before it removes
the pod's directory. Where each volume lives:

  emptyDir          <root>/pods/<uid>/volumes/<name> (medium Memory: a tmpfs there, sized by
                    sizeLimit); removed with the pod
  configMap         same place, on disk; secret, downwardAPI, projected: on a tmpfs, never on
                    disk. Files are written as the kubelet's atomic writer does (a timestamped
                    directory, `..data` symlink swapped by rename, top-level symlinks)
  persistentVolumeClaim   <root>/volumes/<claimName>/_data (a named volume, podman's layout),
                    created on first use, kept until `volume rm` or `down --volumes`
  hostPath          the host path itself, after the kubelet's type check
  subPath           opened beneath the volume (engine.mounts.open_beneath) and bound from the
                    fd to <root>/pods/<uid>/volume-subpaths/<volume>/<container>/<index>

Policy (which files, modes, messages) is `plan.volumes`'; this module carries it out.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubeplay import log
from kubeplay.engine import mounts
from kubeplay.errors import KubeplayError
from kubeplay.plan import volumes as vplan
from kubeplay.plan.volumes import (
    FileEntry,
    VolumeError,
    VolumeKind,
    VolumePlan,
    VolumeSourceMissing,
)

if TYPE_CHECKING:
    from kubeplay.engine.host import Host
    from kubeplay.plan.pods import ContainerPlan, PodPlan

_log = log.get_logger(__name__)

DATA = "..data"


# --- where volumes live -----------------------------------------------------------------------


def pod_volumes_dir(host: Host, uid: str) -> Path:
    return host.settings.pods_dir / uid / "volumes"


def pod_subpaths_dir(host: Host, uid: str) -> Path:
    return host.settings.pods_dir / uid / "volume-subpaths"


def named_volume_dir(host: Host, name: str) -> Path:
    return host.settings.volumes_dir / name


def named_volume_data(host: Host, name: str) -> Path:
    return named_volume_dir(host, name) / "_data"


def host_path_of(host: Host, plan: PodPlan, volume: VolumePlan) -> Path:
    """Where `volume` of `plan` lives on the host."""
    if volume.kind == VolumeKind.HOST_PATH:
        return Path(volume.host_path)
    if volume.kind == VolumeKind.PVC:
        return named_volume_data(host, volume.claim_name)
    return pod_volumes_dir(host, plan.uid) / volume.name


# --- hostPath -------------------------------------------------------------------------------


def _host_path_problem(volume: VolumePlan, *, create: bool) -> str:
    """The kubelet's hostPath type check (pkg/volume/hostpath checkTypeInternal); with
    `create`, the *OrCreate types (and, as containerd does, an unset type) create what is
    missing. "" = the path may be mounted."""
    path = Path(volume.host_path)
    kind = volume.host_path_type
    try:
        mode: int | None = path.stat().st_mode
    except FileNotFoundError:
        mode = None
    if mode is None and kind in ("", "DirectoryOrCreate"):
        if create:
            path.mkdir(mode=0o755, parents=True, exist_ok=True)
        return ""
    if mode is None and kind == "FileOrCreate":
        if not path.parent.is_dir():  # the kubelet does not create the parent either
            return f"hostPath type check failed: {path} is not a file"
        if create:
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
        return ""
    checks = {
        "Directory": (stat.S_ISDIR, "is not a directory"),
        "DirectoryOrCreate": (stat.S_ISDIR, "is not a directory"),
        "File": (stat.S_ISREG, "is not a file"),
        "FileOrCreate": (stat.S_ISREG, "is not a file"),
        "Socket": (stat.S_ISSOCK, "is not a socket file"),
        "CharDevice": (stat.S_ISCHR, "is not a character device"),
        "BlockDevice": (stat.S_ISBLK, "is not a block device"),
    }
    if kind not in checks:
        return ""
    test, message = checks[kind]
    if mode is None or not test(mode):
        return f"hostPath type check failed: {path} {message}"
    return ""


def check_host_paths(plans: Sequence[PodPlan]) -> None:
    """Refuse, before anything is created, a pod whose hostPath volume fails its type check
    (kubeplay's choice: the kubelet would leave the pod ContainerCreating with a FailedMount
    event and retry; a one-shot play fails instead, with the kubelet's message)."""
    for plan in plans:
        for volume in plan.volumes:
            if volume.kind != VolumeKind.HOST_PATH:
                continue
            problem = _host_path_problem(volume, create=False)
            if problem:
                raise VolumeError(
                    f"pod {plan.ref}: volume {volume.name}: MountVolume.SetUp failed: {problem}"
                )


# --- named volumes (persistentVolumeClaim) ----------------------------------------------------


def ensure_named_volume(
    host: Host, name: str, *, namespace: str = "", source: str = "", claim: Any = None
) -> bool:
    """Create the named volume `name` if it does not exist; True when this call made it."""
    created = host.store.ensure_volume(
        name, namespace=namespace, source=source, claim=claim, at=_now()
    )
    data = named_volume_data(host, name)
    if not data.is_dir():
        data.mkdir(parents=True, exist_ok=True)
        data.chmod(0o777)  # like a fresh emptyDir: any container user may write
    return created


def _ensure_claim_volume(host: Host, plan: PodPlan, claim: str) -> None:
    """The named volume of a pod's claim: there already (made by a PersistentVolumeClaim
    object, or by `play` on first use, as podman's), or made now for a stored claim object;
    VolumeSourceMissing while neither exists (`apply` of a pod before its claim): the pod
    waits in ContainerCreating, as the kubelet's volume manager with the kubelet's message."""
    if host.store.get_volume(claim) is not None:
        ensure_named_volume(host, claim, namespace=plan.namespace)  # its data directory
        return
    obj = host.store.get_object("PersistentVolumeClaim", plan.namespace, claim)
    if obj is None:
        raise VolumeSourceMissing(
            f"error processing PVC {plan.namespace}/{claim}: failed to fetch PVC from API "
            f'server: persistentvolumeclaims "{claim}" not found'
        )
    if ensure_named_volume(
        host, claim, namespace=plan.namespace, source=obj.source, claim=obj.body
    ):
        claim_provisioned(host, plan.namespace, claim)


def claim_provisioned(host: Host, namespace: str, name: str) -> None:
    """The event a cluster's provisioner records on a claim whose volume it made."""
    from kubeplay.engine import events

    rec = host.store.get_record("", "PersistentVolumeClaim", namespace, name)
    if rec is not None:
        events.record_object(
            host,
            rec.uid,
            kind="PersistentVolumeClaim",
            namespace=namespace,
            name=name,
            reason="ProvisioningSucceeded",
            message=f"Successfully provisioned volume {name} (kubeplay's named volume)",
        )


def remove_named_volume(host: Host, name: str) -> None:
    from kubeplay.engine.pods import remove_tree

    remove_tree(named_volume_dir(host, name))
    host.store.delete_volume(name)


def _now() -> float:
    import time

    return time.time()


# --- fsGroup ----------------------------------------------------------------------------------


def apply_fs_group(path: Path, gid: int, *, read_only: bool, policy: str) -> None:
    """The kubelet's SetVolumeOwnership: every file gets group `gid` and group read (and write
    unless read-only) permission, directories setgid and group exec; with
    fsGroupChangePolicy OnRootMismatch nothing is done when the root already matches."""
    mask = 0o440 if read_only else 0o660
    root = path.lstat()
    if (
        policy == "OnRootMismatch"
        and root.st_gid == gid
        and root.st_mode & stat.S_ISGID
        and root.st_mode & mask == mask
    ):
        return
    for dirpath, dirnames, filenames in os.walk(path):
        for name in (".", *dirnames, *filenames):
            entry = os.path.join(dirpath, name)
            info = os.lstat(entry)
            if info.st_gid != gid:
                os.lchown(entry, -1, gid)
            if stat.S_ISLNK(info.st_mode):
                continue
            mode = stat.S_IMODE(info.st_mode) | mask
            if stat.S_ISDIR(info.st_mode):
                mode |= stat.S_ISGID | 0o110
            os.chmod(entry, mode)


# --- files of configMap, secret, downwardAPI, projected ---------------------------------------


def _check_file_path(path: str) -> None:
    problem = vplan.check_relative_path(path) or (
        "must not start with '..'" if path.startswith("..") else ""
    )
    if problem or not path:
        raise VolumeError(f"invalid file path {path!r}: {problem or 'empty'}")


def _current_payload(target: Path) -> dict[str, tuple[bytes, int]] | None:
    data = target / DATA
    if not data.is_symlink():
        return None
    base = target / os.readlink(data)
    found: dict[str, tuple[bytes, int]] = {}
    for dirpath, _dirs, filenames in os.walk(base):
        for name in filenames:
            full = Path(dirpath) / name
            found[str(full.relative_to(base))] = (
                full.read_bytes(),
                stat.S_IMODE(full.stat().st_mode),
            )
    return found


def write_files(target: Path, files: Sequence[FileEntry]) -> bool:
    """Put `files` in `target` as the kubelet's atomic writer does; False when the volume
    already holds exactly these files (nothing changed). Readers see either the old or the
    new set: the switch is one rename of the `..data` symlink."""
    import secrets
    import time

    for entry in files:
        _check_file_path(entry.path)
    wanted = {f.path: (f.data, f.mode) for f in files}
    if _current_payload(target) == wanted:
        return False
    stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime()) + secrets.token_hex(5)
    new_dir = target / stamp
    new_dir.mkdir(mode=0o755)
    for entry in files:
        path = new_dir / entry.path
        path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(path, flags, 0o600)
        try:
            os.write(fd, entry.data)
            os.fchmod(fd, entry.mode)
        finally:
            os.close(fd)
    old = os.readlink(target / DATA) if (target / DATA).is_symlink() else ""
    tmp_link = target / "..data_tmp"
    if tmp_link.is_symlink():
        tmp_link.unlink()
    os.symlink(stamp, tmp_link)
    os.rename(tmp_link, target / DATA)
    visible = {f.path.split("/", 1)[0] for f in files}
    for name in visible:
        link = target / name
        if not link.is_symlink():
            os.symlink(f"{DATA}/{name}", link)
    for link in target.iterdir():
        if not link.name.startswith("..") and link.name not in visible and link.is_symlink():
            link.unlink()
    if old and old != stamp:
        import shutil

        shutil.rmtree(target / old, ignore_errors=True)
    return True


def _pod_facts(plan: PodPlan, host: Host) -> vplan.PodFacts:
    memory = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
    except OSError:
        pass
    fs = os.statvfs(host.settings.root)
    return vplan.PodFacts(
        name=plan.name,
        namespace=plan.namespace,
        uid=plan.uid,
        labels=dict(plan.labels),
        annotations=dict(plan.annotations),
        node_cpus=os.cpu_count() or 1,
        node_memory=memory,
        node_ephemeral_storage=fs.f_blocks * fs.f_frsize,
    )


_STORED_KINDS = {"configMap": "ConfigMap", "secret": "Secret"}


def _object_data(host: Host, namespace: str, kind: str, name: str) -> Mapping[str, bytes] | None:
    """The data of a ConfigMap or Secret (`kind` as a volume names it), None when the object
    does not exist."""
    from kubeplay.plan import configdata

    obj = host.store.get_object(_STORED_KINDS[kind], namespace, name)
    if obj is None:
        return None
    if kind == "secret":
        return configdata.secret_data(obj.body)
    return configdata.configmap_data(obj.body)


def compute_volume_files(host: Host, plan: PodPlan, volume: VolumePlan) -> tuple[FileEntry, ...]:
    objects = {
        (s.kind, s.name): _object_data(host, plan.namespace, s.kind, s.name)
        for s in volume.sources
        if s.kind in ("configMap", "secret")
    }
    return vplan.compute_files(volume, objects=objects, pod=_pod_facts(plan, host))


def _fill_files(host: Host, plan: PodPlan, volume: VolumePlan, target: Path) -> bool:
    changed = write_files(target, compute_volume_files(host, plan, volume))
    if changed and plan.fs_group is not None:
        apply_fs_group(target, plan.fs_group, read_only=True, policy="Always")
    return changed


def refresh_object_volumes(host: Host, changed: Iterable[tuple[str, str, str]]) -> list[str]:
    """Rewrite, in place, the configMap/secret/projected volumes of existing pods that use one
    of the `changed` objects ((kind, namespace, name), kind ConfigMap or Secret), as the
    kubelet's periodic sync does. Mounts with a subPath keep the old file (as in Kubernetes:
    they are bound to it). Returns "ns/pod: volume" for each volume that changed; a volume
    that cannot be written now (a key gone) keeps its files and is logged."""
    from kubeplay.plan import pods as pods_mod

    wanted = {(kind, ns, name) for kind, ns, name in changed}
    updated: list[str] = []
    for rec in host.store.list_pods():
        if rec.lifecycle == "terminating":
            continue
        plan = pods_mod.from_json(rec.plan_json)
        for volume in plan.volumes:
            uses = any(
                (_STORED_KINDS.get(s.kind), plan.namespace, s.name) in wanted
                for s in volume.sources
            )
            target = host_path_of(host, plan, volume)
            if not uses or not (target / DATA).is_symlink():
                continue
            try:
                if _fill_files(host, plan, volume, target):
                    updated.append(f"{plan.ref}: {volume.name}")
            except (VolumeError, OSError) as err:
                _log.warning(
                    "volume_refresh_failed", pod=plan.ref, volume=volume.name, error=str(err)
                )
    return updated


# --- a pod's volumes --------------------------------------------------------------------------


def ensure_pod_volumes(host: Host, plan: PodPlan) -> None:
    """Make every volume of `plan` ready to be mounted (idempotent). Raises VolumeError
    naming the pod and volume, with the kubelet's MountVolume.SetUp message;
    VolumeSourceMissing when a ConfigMap or Secret is not there (yet): the pod waits."""
    for volume in plan.volumes:
        if volume.kind == VolumeKind.UNSUPPORTED:
            continue
        try:
            _ensure_volume(host, plan, volume)
        except VolumeSourceMissing as err:
            raise VolumeSourceMissing(
                f"pod {plan.ref}: volume {volume.name}: MountVolume.SetUp failed: {err}",
                volume=volume.name,
                detail=str(err),
            ) from err
        except VolumeError as err:
            raise VolumeError(
                f"pod {plan.ref}: volume {volume.name}: MountVolume.SetUp failed: {err}"
            ) from err
        except OSError as err:
            raise VolumeError(
                f"pod {plan.ref}: volume {volume.name}: MountVolume.SetUp failed: {err}"
            ) from err


def _ensure_volume(host: Host, plan: PodPlan, volume: VolumePlan) -> None:
    target = host_path_of(host, plan, volume)
    if volume.kind == VolumeKind.HOST_PATH:
        problem = _host_path_problem(volume, create=True)
        if problem:
            raise VolumeError(problem)
        return
    if volume.kind == VolumeKind.PVC:
        _ensure_claim_volume(host, plan, volume.claim_name)
        if plan.fs_group is not None:
            apply_fs_group(
                target,
                plan.fs_group,
                read_only=volume.read_only,
                policy=plan.fs_group_change_policy,
            )
        return
    fresh = not target.is_dir()
    target.mkdir(parents=True, exist_ok=True)
    if volume.on_tmpfs and not mounts.mount_points_under(target):
        # Files of Secrets, downwardAPI, projected: 0755, so no container user can plant a
        # file or link among them (their own modes are defaultMode's); emptyDir: 1777.
        writable = volume.kind == VolumeKind.EMPTY_DIR
        mounts.mount_tmpfs(target, size=volume.size_limit, mode=0o1777 if writable else 0o755)
        fresh = True
    if volume.kind == VolumeKind.EMPTY_DIR:
        if fresh:
            target.chmod(0o1777 if volume.on_tmpfs else 0o777)
            if plan.fs_group is not None:
                apply_fs_group(target, plan.fs_group, read_only=False, policy="Always")
        return
    _fill_files(host, plan, volume, target)


def _check_propagation(source: Path, propagation: str, volume: str) -> None:
    """containerd's ensureShared / ensureSharedOrSlave for propagated mounts."""
    if propagation == "rprivate":
        return
    kind = mounts.propagation_of(source)
    if propagation == "rshared" and kind != "shared":
        raise VolumeError(
            f'volume {volume}: path "{source}" is mounted on a {kind} mount, but '
            "Bidirectional propagation needs a shared mount"
        )
    if propagation == "rslave" and kind == "private":
        raise VolumeError(
            f'volume {volume}: path "{source}" is mounted on a private mount, but '
            "HostToContainer propagation needs a shared or slave mount"
        )


def container_mounts(
    host: Host, plan: PodPlan, ctr: ContainerPlan
) -> tuple[list[dict[str, Any]], str]:
    """OCI mount entries for `ctr`'s volumeMounts and the rootfs propagation they need.

    A subPath is resolved beneath its volume (created as a directory when missing, as the
    kubelet does) and bound from the open fd, so a symlink can never point it elsewhere.
    """
    by_name = {v.name: v for v in plan.volumes}
    sources: dict[str, str] = {}
    for index, m in enumerate(ctr.mounts):
        volume = by_name[m.volume]
        base = host_path_of(host, plan, volume)
        try:
            _check_propagation(base, m.propagation, volume.name)
            if not m.sub_path:
                sources[m.path] = str(base)
                continue
            target = pod_subpaths_dir(host, plan.uid) / volume.name / ctr.name / str(index)
            if target.exists() and mounts.mount_points_under(target):
                mounts.unmount(target)  # a restarted container binds afresh
            with mounts.opened(base) as root_fd:
                if volume.kind != VolumeKind.FILES:
                    try:
                        os.close(mounts.open_beneath(root_fd, m.sub_path))
                    except FileNotFoundError:
                        mounts.make_dirs_beneath(root_fd, m.sub_path, mode=0o755)
                with mounts.opened_beneath(root_fd, m.sub_path) as fd:
                    mounts.bind_fd(fd, target)
        except (OSError, KubeplayError) as err:
            raise VolumeError(
                f"pod {plan.ref}: container {ctr.name}: volumeMounts[{index}] "
                f"({m.volume}, subPath {m.sub_path!r}): {err}"
            ) from err
        sources[m.path] = str(target)
    return vplan.oci_mounts(ctr.mounts, sources)


def pod_shm_dir(host: Host, uid: str) -> Path:
    return host.settings.pods_dir / uid / "shm"


SHM_SIZE = 64 * 1024 * 1024  # podman's and containerd's default /dev/shm size


def ensure_pod_shm(host: Host, uid: str) -> Path:
    """The pod's one /dev/shm, a tmpfs every container of the pod binds (the sandbox's, as
    in Kubernetes: one IPC namespace, one shm). Idempotent; it is mounted again after a
    reboot emptied it."""
    target = pod_shm_dir(host, uid)
    target.mkdir(parents=True, exist_ok=True)
    if not mounts.mount_points_under(target):
        try:
            mounts.mount_tmpfs(target, size=SHM_SIZE, mode=0o1777)
        except OSError as err:
            raise VolumeError(f"pod {uid}: /dev/shm: {err}") from err
    return target


def teardown_pod_volumes(host: Host, uid: str) -> None:
    """Unmount every subPath bind and tmpfs of pod `uid` (deepest first), and its /dev/shm.
    Safe to repeat."""
    bases = (pod_subpaths_dir(host, uid), pod_volumes_dir(host, uid), pod_shm_dir(host, uid))
    for point in mounts.mount_points_under(*bases):
        mounts.unmount(point)
