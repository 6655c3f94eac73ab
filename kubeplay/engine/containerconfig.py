"""What a container's runtime spec needs from the host and the store at creation time.

`engine.pods` calls `prepare` just before it builds a container's config.json: it resolves
the env that depends on ConfigMaps, Secrets and the pod's address (`plan.envs`), adds the
image's config (`plan.pods.resolve_image`: ENTRYPOINT/CMD, Env, WorkingDir, USER), checks
runAsNonRoot (`plan.security`), picks the seccomp profile (RuntimeDefault, Unconfined, or a
Localhost file under `<root>/seccomp/`), and reads the host facts the spec needs (kubeplay's
own capabilities, the cgroup layout, the node's capacity, devices for privileged containers).
A problem there is the container's CreateContainerConfigError (`ContainerConfigError`): the
caller records it as the container's waiting state and leaves the pod to retry. The decisions
are in plan/; this module only gathers inputs.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from kubeplay.engine.host import Host
from kubeplay.errors import KubeplayError
from kubeplay.plan.images import ImageRef
from kubeplay.plan.pods import ContainerPlan, PodPlan
from kubeplay.state.store import PodRecord

CGROUP_ROOT = Path("/sys/fs/cgroup")


class ContainerConfigError(KubeplayError):
    """The container cannot be configured (CreateContainerConfigError in its status)."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """A container plan with its env resolved, plus the spec arguments that came from the host."""

    ctr: ContainerPlan
    spec_args: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


@cache
def _own_caps() -> tuple[str, ...]:
    from kubeplay.plan import security

    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapBnd:"):
            return security.caps_from_mask(int(line.split()[1], 16))
    return security.CAPABILITIES


@cache
def oom_score_adj_floor() -> int | None:
    """The lowest oom_score_adj kubeplay may give a process: its own without
    CAP_SYS_RESOURCE (the kernel refuses lower), None (no floor) with it."""
    if "CAP_SYS_RESOURCE" in _effective_caps():
        return None
    try:
        return int(Path("/proc/self/oom_score_adj").read_text().strip())
    except (OSError, ValueError):
        return None


@cache
def _effective_caps() -> tuple[str, ...]:
    from kubeplay.plan import security

    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return security.caps_from_mask(int(line.split()[1], 16))
    return security.CAPABILITIES


@cache
def _cgroup_v2() -> bool:
    from kubeplay.runtime import detect

    mounts = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        parts = line.split()
        if len(parts) > 2:
            mounts.append((parts[1], parts[2]))
    return detect.cgroup_layout(mounts) is detect.CgroupLayout.UNIFIED


@cache
def _swap_controller() -> bool:
    if _cgroup_v2():
        return (CGROUP_ROOT / "memory.swap.max").exists() or any(
            CGROUP_ROOT.glob("*/memory.swap.max")
        )
    return (CGROUP_ROOT / "memory" / "memory.memsw.limit_in_bytes").exists()


@cache
def _thermal_throttle() -> tuple[str, ...]:
    """containers-common's host-globbed masked paths (/sys/devices/system/cpu/cpu*/...)."""
    base = Path("/sys/devices/system/cpu")
    return tuple(str(p) for p in sorted(base.glob("cpu*/thermal_throttle")) if p.is_dir())


@cache
def node_capacity() -> dict[str, int]:
    """What resourceFieldRef limits default to: the node's cpus, memory and root disk."""
    mem = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem = int(line.split()[1]) * 1024
    disk = os.statvfs("/")
    return {
        "cpu": len(os.sched_getaffinity(0)),
        "memory": mem,
        "ephemeral-storage": disk.f_blocks * disk.f_frsize,
    }


def _host_devices() -> list[dict[str, Any]]:
    """Every character and block device under the host's /dev, as OCI linux.devices
    (Podman's privileged containers get them all, except the pty ones it makes itself)."""
    out: list[dict[str, Any]] = []
    for dirpath, dirnames, filenames in os.walk("/dev"):
        dirnames[:] = [d for d in dirnames if d not in ("pts", "shm", "mqueue")]
        for name in filenames:
            path = os.path.join(dirpath, name)
            if path in ("/dev/ptmx", "/dev/console", "/dev/tty"):
                continue
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if not (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)):
                continue
            out.append(
                {
                    "path": path,
                    "type": "c" if stat.S_ISCHR(st.st_mode) else "b",
                    "major": os.major(st.st_rdev),
                    "minor": os.minor(st.st_rdev),
                    "fileMode": stat.S_IMODE(st.st_mode),
                    "uid": st.st_uid,
                    "gid": st.st_gid,
                }
            )
    return out


def _seccomp(host: Host, ctr: ContainerPlan, caps: tuple[str, ...]) -> dict[str, Any] | None:
    from kubeplay.plan import ocispec, seccomp

    sec = ctr.security
    if sec.privileged or sec.seccomp == "Unconfined":
        return None
    if sec.seccomp == "Localhost":
        base = host.settings.root / "seccomp"
        path = (base / sec.seccomp_localhost).resolve()
        if not path.is_relative_to(base.resolve()):
            raise ContainerConfigError(
                f"seccomp profile {sec.seccomp_localhost}: outside {base}: refused"
            )
        try:
            profile = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise ContainerConfigError(
                f"failed to load seccomp profile {path}: {getattr(err, 'strerror', None) or err}"
            ) from err
        return seccomp.convert_profile(profile, capabilities=caps)
    if caps == tuple(ocispec.DEFAULT_CAPABILITIES):
        return host.seccomp
    path = host.settings.seccomp_profile
    if not path.is_file():
        return None
    return seccomp.convert_profile(json.loads(path.read_text()), capabilities=caps)


def _lookup(host: Host, namespace: str) -> Any:
    def lookup(kind: str, name: str) -> dict[str, Any] | None:
        obj = host.store.get_object(kind, namespace, name)
        return obj.body if obj is not None else None

    return lookup


def prepare(
    host: Host, plan: PodPlan, rec: PodRecord, ctr: ContainerPlan, image: ImageRef
) -> Prepared:
    """Resolve what the container's spec needs now: its env, then the image's part
    (`plan.pods.resolve_image`); ContainerConfigError if it cannot run."""
    from kubeplay.plan import envs, ocispec, qos, security
    from kubeplay.plan import pods as plans
    from kubeplay.plan import volumes as volumes_plan

    warnings: tuple[str, ...] = ()
    if ctr.env_source is not None:
        facts = envs.PodFacts(
            name=plan.name,
            namespace=plan.namespace,
            uid=plan.uid,
            labels=dict(plan.labels),
            annotations=dict(plan.annotations),
            service_account_name=plan.service_account_name,
            pod_ip=host.host_ip if plan.host_network else rec.pod_ip,
            host_ip=host.host_ip,
        )
        try:
            resolved = envs.resolve(
                ctr.env_source,
                pod=facts,
                lookup=_lookup(host, plan.namespace),
                container=ctr.name,
                resources={c.name: c.resources_spec for c in plan.all_containers()},
                capacity=node_capacity(),
            )
            mounts = volumes_plan.expand_deferred_sub_paths(
                ctr.mounts, dict(resolved.env), where=f"container {ctr.name}"
            )
        except KubeplayError as err:
            raise ContainerConfigError(str(err)) from err
        ctr = replace(
            ctr, env=resolved.env, command=resolved.command, args=resolved.args, mounts=mounts
        )
        warnings = resolved.warnings
    ctr = plans.resolve_image(ctr, image, service_env=plan.service_env)
    problem = security.run_as_non_root_violation(
        ctr.security,
        run_as_user=ctr.run_as_user,
        image_user=ctr.user,
        pod=security.pod_ref(plan.name, plan.namespace, plan.uid),
        container=ctr.name,
    )
    if problem:
        raise ContainerConfigError(problem)
    available = _own_caps()
    caps = security.capabilities(
        ctr.security, default=ocispec.DEFAULT_CAPABILITIES, available=available
    )
    args: dict[str, Any] = {
        "seccomp": _seccomp(host, ctr, caps),
        "available_caps": available,
        "cgroup_v2": _cgroup_v2(),
        "swap_controller": _swap_controller(),
        "extra_masked": _thermal_throttle(),
        "pids_limit": host.settings.pids_limit,
        "oom_score_adj": qos.clamp_oom_score_adj(
            qos.container_oom_score_adj(
                qos.qos_class(c.resources for c in plan.all_containers()),
                ctr.resources.memory_request,
                capacity=node_capacity()["memory"],
            ),
            floor=oom_score_adj_floor(),
        ),
    }
    if ctr.security.privileged:
        args["devices"] = _host_devices()
    return Prepared(ctr=ctr, spec_args=args, warnings=warnings)
