"""OCI runtime-spec `config.json` documents for a pod's infra container and its containers.

The engine calls `build_infra_spec` and `build_container_spec` with every host-specific value
already decided (rootfs, namespace paths, cgroups path, files to bind, seccomp object) and writes
the returned dict as the bundle's config.json. Pure: no I/O. The defaults are Podman's (default
mounts, masked and read-only paths, capability set, device cgroup deny-all on top of which runc
adds its standard allowed devices); the Kubernetes parts (namespace sharing, env, annotations,
no-new-privileges off) follow the kubelet + CRI. No rlimits: the container inherits the host's.
Defaults podman and the kubelet/containerd set: a pids limit (podman's 2048), the QoS class's
oom_score_adj (`plan.qos`), and `net.ipv4.ping_group_range` "0 2147483647" in the pod's own
network namespace (unprivileged ICMP sockets, so `ping` works as non-root).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

from kubeplay.plan import resources as resources_mod
from kubeplay.plan import security as security_mod
from kubeplay.plan.pods import ContainerPlan, PodPlan
from kubeplay.plan.users import ResolvedUser

OCI_VERSION = "1.0.2"

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# containers.conf `default_capabilities` (containers-common pkg/config).
DEFAULT_CAPABILITIES: tuple[str, ...] = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
)

# containers-common pkg/config DefaultMaskedPaths, without its host-dependent glob of
# /sys/devices/system/cpu/cpu*/thermal_throttle (which would need a directory listing).
MASKED_PATHS: tuple[str, ...] = (
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/devices/virtual/powercap",
    "/sys/firmware",
    "/sys/fs/selinux",
    "/proc/interrupts",
)

# containers-common pkg/config DefaultReadOnlyPaths.
READONLY_PATHS: tuple[str, ...] = (
    "/proc/asound",
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
)

SHM = "/dev/shm"

# containerd's enable_unprivileged_icmp and podman's default: every group may open ICMP sockets.
PING_GROUP_RANGE = ("net.ipv4.ping_group_range", "0 2147483647")

_NO_FILES: Mapping[str, str] = MappingProxyType({})


def _mount(destination: str, kind: str, source: str, *options: str) -> dict[str, Any]:
    return {"destination": destination, "type": kind, "source": source, "options": list(options)}


def _bind(destination: str, source: str) -> dict[str, Any]:
    if destination == SHM:
        return _mount(destination, "bind", source, "rbind", "rw", "nosuid", "nodev", "noexec")
    return _mount(destination, "bind", source, "rbind", "rw")


def _shm(host_files: Mapping[str, str]) -> dict[str, Any]:
    """The pod's shared /dev/shm when the engine made one, else a private 64 MiB tmpfs."""
    if SHM in host_files:
        return _bind(SHM, host_files[SHM])
    return _mount(SHM, "tmpfs", "shm", "nosuid", "noexec", "nodev", "mode=1777", "size=65536k")


def _proc() -> dict[str, Any]:
    return _mount("/proc", "proc", "proc", "nosuid", "noexec", "nodev")


def _dev() -> dict[str, Any]:
    return _mount("/dev", "tmpfs", "tmpfs", "nosuid", "strictatime", "mode=755", "size=65536k")


def _file_binds(host_files: Mapping[str, str]) -> list[dict[str, Any]]:
    return [_bind(dst, src) for dst, src in host_files.items() if dst != SHM]


def _namespace(kind: str, value: str | None) -> list[dict[str, str]]:
    """None: the host's (no entry); "": a new one; a path: join it."""
    if value is None:
        return []
    return [{"type": kind, "path": value}] if value else [{"type": kind}]


def _capabilities(effective: tuple[str, ...], bounding: tuple[str, ...]) -> dict[str, list[str]]:
    return {
        "bounding": list(bounding),
        "effective": list(effective),
        "inheritable": [],
        "permitted": list(effective),
        "ambient": [],
    }


def _linux(
    namespaces: list[dict[str, str]],
    *,
    cgroups_path: str,
    seccomp: Mapping[str, Any] | None,
    masked: bool = True,
    extra_masked: Sequence[str] = (),
) -> dict[str, Any]:
    linux: dict[str, Any] = {
        "namespaces": namespaces,
        "cgroupsPath": cgroups_path,
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        "maskedPaths": [*MASKED_PATHS, *extra_masked] if masked else [],
        "readonlyPaths": list(READONLY_PATHS) if masked else [],
    }
    if seccomp is not None:
        linux["seccomp"] = dict(seccomp)
    return linux


def _pod_annotations(pod: PodPlan, container_name: str) -> dict[str, str]:
    return {
        "io.kubernetes.pod.name": pod.name,
        "io.kubernetes.pod.namespace": pod.namespace,
        "io.kubernetes.pod.uid": pod.uid,
        "io.kubernetes.container.name": container_name,
    }


def build_infra_spec(
    pod: PodPlan,
    *,
    rootfs: Path,
    catatonit: str,
    catatonit_in_rootfs: str = "/catatonit",
    netns: str | None,
    cgroups_path: str,
    host_files: Mapping[str, str] = _NO_FILES,
    oom_score_adj: int | None = None,
    ipc_ns: str = "",
    uts_ns: str = "",
) -> dict[str, Any]:
    """The pause container: `catatonit -P` owning the pod's shared namespaces.

    `catatonit` is the host binary, bind-mounted read-only at `catatonit_in_rootfs` of an empty
    `rootfs`. `netns` is the network namespace the engine made (None: a new one of its own,
    unless `pod.host_network`, which keeps the host's network and UTS namespaces); `ipc_ns`
    and `uts_ns` the pinned IPC and UTS namespaces it made ("": new ones of its own).
    `oom_score_adj`: the process's (None: inherited).
    """
    namespaces = [
        *_namespace("pid", None if pod.host_pid else ""),
        *([] if pod.host_network else _namespace("network", netns or "")),
        *_namespace("ipc", None if pod.host_ipc else ipc_ns),
        *_namespace("uts", None if pod.host_network else uts_ns),
        {"type": "mount"},
    ]
    spec: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": [catatonit_in_rootfs, "-P"],
            "env": [f"PATH={DEFAULT_PATH}"],
            "cwd": "/",
            "capabilities": _capabilities((), ()),
            "noNewPrivileges": True,
        },
        "root": {"path": str(rootfs), "readonly": True},
        "mounts": [
            _proc(),
            _dev(),
            _shm(host_files),
            _mount(catatonit_in_rootfs, "bind", catatonit, "bind", "ro"),
            *_file_binds(host_files),
        ],
        "linux": _linux(namespaces, cgroups_path=cgroups_path, seccomp=None),
        "annotations": _pod_annotations(pod, "POD"),
    }
    if oom_score_adj is not None:
        spec["process"]["oomScoreAdj"] = oom_score_adj
    if sysctls := pod_sysctls(pod):
        spec["linux"]["sysctl"] = sysctls
    if not pod.host_network:
        spec["hostname"] = uts_hostname(pod)
    return spec


def pod_sysctls(pod: PodPlan) -> dict[str, str]:
    """The sysctls of the pod's IPC and network namespaces, which infra owns: the defaults
    (ping_group_range in a network namespace of its own), then the pod's own."""
    out = {} if pod.host_network else dict([PING_GROUP_RANGE])
    out.update((name.replace("/", "."), value) for name, value in pod.sysctls)
    return out


def uts_hostname(pod: PodPlan) -> str:
    """The kernel hostname: the FQDN with setHostnameAsFQDN and a subdomain, else the name."""
    if pod.set_hostname_as_fqdn and pod.fqdn:
        return pod.fqdn
    return pod.hostname


def _env(pod: PodPlan, ctr: ContainerPlan, user: ResolvedUser) -> list[str]:
    """The container's env, then HOSTNAME, HOME (and TERM with a tty) where it sets none."""
    env = dict(ctr.env)
    defaults = {"PATH": DEFAULT_PATH, "HOSTNAME": uts_hostname(pod), "HOME": user.home}
    if ctr.tty:
        defaults["TERM"] = "xterm"
    for key, value in defaults.items():
        env.setdefault(key, value)
    return [f"{key}={value}" for key, value in env.items()]


def build_container_spec(
    pod: PodPlan,
    ctr: ContainerPlan,
    *,
    rootfs: Path,
    user: ResolvedUser,
    namespaces: Mapping[str, str | None],
    cgroups_path: str,
    host_files: Mapping[str, str],
    seccomp: Mapping[str, Any] | None,
    annotations: Mapping[str, str] = _NO_FILES,
    available_caps: Sequence[str] = security_mod.CAPABILITIES,
    devices: Sequence[Mapping[str, Any]] = (),
    cgroup_v2: bool = False,
    swap_controller: bool = True,
    extra_masked: Sequence[str] = (),
    volume_mounts: Sequence[Mapping[str, Any]] = (),
    rootfs_propagation: str = "",
    oom_score_adj: int | None = None,
    pids_limit: int = 0,
) -> dict[str, Any]:
    """An app or init container of `pod`.

    `namespaces` gives "network", "uts", "ipc" and "pid" as a path to join (the infra's),
    "" for a new one, None for the host's; a missing key means a new one. The mount
    namespace is always new. `host_files` maps container paths (/etc/hosts, /etc/resolv.conf,
    /dev/termination-log, /dev/shm...) to host files bound read-write. `seccomp` is the
    OCI object from `seccomp.convert_profile` (None: unconfined). The container's
    `security` decides capabilities (never beyond `available_caps`, kubeplay's own),
    no_new_privileges, a read-only root, and masked paths (none when privileged or with
    procMount Unmasked); a privileged container also gets /sys and cgroups read-write, every
    device the cgroup allows and the host's `devices` (OCI linux.devices entries), as Podman.
    `resources` become cgroup v1 or v2 (`cgroup_v2`) settings.
    `volume_mounts` are the entries of `volumes.oci_mounts`, mounted before the host files;
    `rootfs_propagation` the propagation they need ("" = the runtime's default).
    `oom_score_adj`: the process's (None: inherited); `pids_limit`: the pids cgroup's limit
    (0 or less: none).
    """
    sec = ctr.security
    ns_values = {kind: namespaces.get(kind, "") for kind in ("pid", "network", "ipc", "uts")}
    linux_namespaces = [
        *(entry for kind, value in ns_values.items() for entry in _namespace(kind, value)),
        {"type": "mount"},
    ]
    caps = security_mod.capabilities(sec, default=DEFAULT_CAPABILITIES, available=available_caps)
    effective = caps if user.uid == 0 else ()
    sys_mode = "rw" if sec.privileged else "ro"
    spec: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": ctr.tty,
            "user": {
                "uid": user.uid,
                "gid": user.gid,
                "additionalGids": list(user.additional_gids),
            },
            "args": list(ctr.argv),
            "env": _env(pod, ctr, user),
            "cwd": ctr.working_dir or "/",
            "capabilities": _capabilities(effective, caps),
            "noNewPrivileges": sec.no_new_privileges,
        },
        "root": {"path": str(rootfs), "readonly": sec.read_only_root_fs},
        "mounts": [
            _proc(),
            _dev(),
            _mount(
                "/dev/pts",
                "devpts",
                "devpts",
                *("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"),
            ),
            _shm(host_files),
            _mount("/dev/mqueue", "mqueue", "mqueue", "nosuid", "noexec", "nodev"),
            _mount("/sys", "sysfs", "sysfs", "nosuid", "noexec", "nodev", sys_mode),
            _mount(
                "/sys/fs/cgroup",
                "cgroup",
                "cgroup",
                *("rprivate", "nosuid", "noexec", "nodev", "relatime", sys_mode),
            ),
            *(dict(m) for m in volume_mounts),
            *_file_binds(host_files),
        ],
        "linux": _linux(
            linux_namespaces,
            cgroups_path=cgroups_path,
            seccomp=None if sec.privileged else seccomp,
            masked=not sec.privileged and sec.proc_mount != "Unmasked",
            extra_masked=extra_masked,
        ),
        "annotations": {**_pod_annotations(pod, ctr.name), **annotations},
    }
    linux = spec["linux"]
    linux["resources"].update(
        resources_mod.linux_resources(
            ctr.resources, cgroup_v2=cgroup_v2, swap_controller=swap_controller
        )
    )
    if pids_limit > 0:
        linux["resources"]["pids"] = {"limit": pids_limit}
    if oom_score_adj is not None:
        spec["process"]["oomScoreAdj"] = oom_score_adj
    if sec.privileged:
        linux["resources"]["devices"] = [{"allow": True, "access": "rwm"}]
        if devices:
            linux["devices"] = [dict(d) for d in devices]
    if ns_values["uts"] == "":
        spec["hostname"] = uts_hostname(pod)
    if rootfs_propagation:
        spec["linux"]["rootfsPropagation"] = rootfs_propagation
    return spec
