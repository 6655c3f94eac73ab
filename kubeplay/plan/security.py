"""A container's effective securityContext, and the kubelet's and runtimes' rules built on it.

`security_from(pod_sc, ctr_sc)` merges the pod's and the container's securityContext, the
container's fields winning (kubelet DetermineEffectiveSecurityContext). The rest derives what
the OCI spec needs from it:

- capabilities: Podman's default set, `add`/`drop` with or without the CAP_ prefix and `ALL`
  (ALL first, then single names, as containerd's and CRI-O's WithCapabilities); privileged gets
  every capability kubeplay itself holds (a runtime cannot grant more).
- no_new_privileges only when allowPrivilegeEscalation is false (kubelet AddNoNewPrivileges).
- runAsNonRoot: kubelet's verifyRunAsNonRoot against the image's configured user.
- sysctls: only namespaced ones (IPC and net); the API-server-side checks are in kube.validate.
Pure: the engine passes in what it read (kubeplay's own capability mask).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Linux capabilities by number (include/uapi/linux/capability.h).
CAPABILITIES: tuple[str, ...] = tuple(
    f"CAP_{name}"
    for name in [
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "KILL",
        "SETGID",
        "SETUID",
        "SETPCAP",
        "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_ADMIN",
        "NET_RAW",
        "IPC_LOCK",
        "IPC_OWNER",
        "SYS_MODULE",
        "SYS_RAWIO",
        "SYS_CHROOT",
        "SYS_PTRACE",
        "SYS_PACCT",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_NICE",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "MKNOD",
        "LEASE",
        "AUDIT_WRITE",
        "AUDIT_CONTROL",
        "SETFCAP",
        "MAC_OVERRIDE",
        "MAC_ADMIN",
        "SYSLOG",
        "WAKE_ALARM",
        "BLOCK_SUSPEND",
        "AUDIT_READ",
        "PERFMON",
        "BPF",
        "CHECKPOINT_RESTORE",
    ]
)

# Sysctls that live in a namespace the pod owns (kubelet's NamespacedBy): IPC or network.
_IPC_SYSCTLS = ("kernel.sem",)
_IPC_PREFIXES = ("kernel.shm", "kernel.msg", "fs.mqueue.")
_NET_PREFIXES = ("net.",)


@dataclass(frozen=True, slots=True)
class SecurityPlan:
    run_as_non_root: bool = False
    supplemental_groups: tuple[int, ...] = ()
    privileged: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    read_only_root_fs: bool = False
    no_new_privileges: bool = False
    proc_mount: str = "Default"  # Default | Unmasked
    seccomp: str = "RuntimeDefault"  # RuntimeDefault | Unconfined | Localhost
    seccomp_localhost: str = ""  # Localhost: the profile's path under the seccomp dir


def security_from(pod_sc: Mapping[str, Any], ctr_sc: Mapping[str, Any]) -> SecurityPlan:
    """The effective securityContext of a container (the container's own fields win).

    Without any seccompProfile, Podman's default profile applies (RuntimeDefault), as
    `podman kube play` does.
    """
    caps = ctr_sc.get("capabilities") or {}
    seccomp = ctr_sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}
    non_root = ctr_sc.get("runAsNonRoot")
    if non_root is None:
        non_root = pod_sc.get("runAsNonRoot")
    groups = [int(g) for g in pod_sc.get("supplementalGroups") or ()]
    if pod_sc.get("fsGroup") is not None:  # kubelet adds fsGroup to the process' groups
        groups.append(int(pod_sc["fsGroup"]))
    escalation = ctr_sc.get("allowPrivilegeEscalation")
    return SecurityPlan(
        run_as_non_root=bool(non_root),
        supplemental_groups=tuple(groups),
        privileged=bool(ctr_sc.get("privileged")),
        cap_add=tuple(cap_name(c) for c in caps.get("add") or ()),
        cap_drop=tuple(cap_name(c) for c in caps.get("drop") or ()),
        read_only_root_fs=bool(ctr_sc.get("readOnlyRootFilesystem")),
        no_new_privileges=escalation is False,
        proc_mount=str(ctr_sc.get("procMount") or "Default"),
        seccomp=str(seccomp.get("type") or "RuntimeDefault"),
        seccomp_localhost=str(seccomp.get("localhostProfile") or ""),
    )


def security_from_dict(raw: Mapping[str, Any] | None) -> SecurityPlan:
    if not raw:
        return SecurityPlan()
    out = dict(raw)
    for key in ("supplemental_groups", "cap_add", "cap_drop"):
        out[key] = tuple(out.get(key) or ())
    return SecurityPlan(**out)


def cap_name(name: str) -> str:
    """`net_admin`, `NET_ADMIN` and `CAP_NET_ADMIN` all name CAP_NET_ADMIN; ALL stays ALL."""
    upper = str(name).strip().upper()
    if upper == "ALL" or upper.startswith("CAP_"):
        return upper
    return f"CAP_{upper}"


def caps_from_mask(mask: int) -> tuple[str, ...]:
    """Capability names of a /proc/<pid>/status Cap* bit mask."""
    return tuple(name for bit, name in enumerate(CAPABILITIES) if mask >> bit & 1)


def capabilities(
    sec: SecurityPlan, *, default: Sequence[str], available: Sequence[str]
) -> tuple[str, ...]:
    """The container's capability set: `default` with add/drop applied (ALL first); every
    `available` capability when privileged. Never more than `available`."""
    if sec.privileged:
        return tuple(available)
    chosen: list[str] = list(available) if "ALL" in sec.cap_add else list(default)
    if "ALL" in sec.cap_drop:
        chosen = []
    for cap in sec.cap_add:
        if cap != "ALL" and cap not in chosen:
            chosen.append(cap)
    dropped = set(sec.cap_drop)
    return tuple(c for c in chosen if c not in dropped and c in available)


def pod_ref(name: str, namespace: str, uid: str) -> str:
    """kubelet's format.Pod: `name_namespace(uid)`."""
    return f"{name}_{namespace}({uid})"


def run_as_non_root_violation(
    sec: SecurityPlan,
    *,
    run_as_user: int | None,
    image_user: str,
    pod: str,
    container: str,
) -> str:
    """kubelet verifyRunAsNonRoot: the reason the container may not run ("" when it may).

    The image's user is judged as configured (uid part of USER), not looked up in /etc/passwd,
    as the kubelet does: a user name cannot be verified.
    """
    if not sec.run_as_non_root:
        return ""
    where = f"(pod: {pod!r}, container: {container})".replace("'", '"')
    if run_as_user is not None:
        return f"container's runAsUser breaks non-root policy {where}" if run_as_user == 0 else ""
    user = image_user.partition(":")[0].strip()
    if not user or (user.isdigit() and int(user) == 0):
        return f"container has runAsNonRoot and image will run as root {where}"
    if not user.isdigit():
        return (
            f"container has runAsNonRoot and image has non-numeric user ({user}), "
            f"cannot verify user is non-root {where}"
        )
    return ""


def sysctl_namespace(name: str) -> str:
    """`ipc`, `net`, or "" for a sysctl no pod namespace holds (kubelet NamespacedBy)."""
    name = name.replace("/", ".")
    if name in _IPC_SYSCTLS or name.startswith(_IPC_PREFIXES):
        return "ipc"
    if name.startswith(_NET_PREFIXES):
        return "net"
    return ""
