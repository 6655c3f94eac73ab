"""Pod Security Standards: the checks of the Pod Security admission, on one pod spec.

Each check follows kubernetes/pod-security-admission `policy/check_<id>.go`: the same id,
level, allowed values and version steps (the sets of allowed capabilities, sysctls, SELinux
types and volume types as of the Kubernetes version checked), and the same reason and detail
wording (`allowPrivilegeEscalation != false (container "app" must set ...)`). A restricted
check that overrides a baseline one (capabilities, hostPath/volumes, seccomp, procMount)
replaces it when restricted is evaluated, as the admission does. Containers are visited as
its `visitContainers`: init containers, containers, ephemeral containers. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kubeplay.plan.check.rules import PSS_BASELINE, PSS_RESTRICTED

Version = tuple[int, int]
LEVELS = ("privileged", "baseline", "restricted")


@dataclass(frozen=True, slots=True)
class Failure:
    check: str
    level: str  # "baseline" or "restricted"
    path: str  # the first offending field
    reason: str
    detail: str

    @property
    def message(self) -> str:
        return f"{self.reason} ({self.detail})" if self.detail else self.reason


def _d(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _containers(spec: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for i, ctr in enumerate(_l(spec.get(group))):
            if isinstance(ctr, dict):
                yield f"{prefix}.{group}[{i}]", ctr


def _plural(one: str, many: str, n: int) -> str:
    return one if n == 1 else many


def _quote(items: list[str]) -> str:
    return ", ".join(f'"{item}"' for item in items)


def _who(names: list[str]) -> str:
    return f"{_plural('container', 'containers', len(names))} {_quote(names)}"


def _sc(ctr: Mapping[str, Any]) -> Mapping[str, Any]:
    return _d(ctr.get("securityContext"))


def _windows(spec: Mapping[str, Any]) -> bool:
    return _d(spec.get("os")).get("name") == "windows"


def _user_namespace(spec: Mapping[str, Any]) -> bool:
    return spec.get("hostUsers") is False


Check = Callable[[Mapping[str, Any], Mapping[str, Any], str, Version], Failure | None]


def _fail(check: str, path: str, reason: str, detail: str) -> Failure:
    level = "baseline" if check in PSS_BASELINE else "restricted"
    return Failure(check, level, path, reason, detail)


# --- baseline ------------------------------------------------------------------------------


def host_namespaces(spec: Mapping[str, Any], meta: Any, prefix: str, v: Version) -> Failure | None:
    found = [f for f in ("hostNetwork", "hostPID", "hostIPC") if spec.get(f) is True]
    if not found:
        return None
    detail = ", ".join(f"{f}=true" for f in found)
    return _fail("hostNamespaces", f"{prefix}.{found[0]}", "host namespaces", detail)


def privileged(spec: Mapping[str, Any], meta: Any, prefix: str, v: Version) -> Failure | None:
    bad = [(p, c) for p, c in _containers(spec, prefix) if _sc(c).get("privileged") is True]
    if not bad:
        return None
    names = [str(c.get("name")) for _, c in bad]
    return _fail(
        "privileged",
        f"{bad[0][0]}.securityContext.privileged",
        "privileged",
        f"{_who(names)} must not set securityContext.privileged=true",
    )


CAPABILITIES_BASELINE = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)


def _caps(ctr: Mapping[str, Any], field: str) -> list[str]:
    return [str(c) for c in _l(_d(_sc(ctr).get("capabilities")).get(field))]


def capabilities_baseline(
    spec: Mapping[str, Any], meta: Any, prefix: str, v: Version
) -> Failure | None:
    bad: list[str] = []
    caps: set[str] = set()
    first = ""
    for path, ctr in _containers(spec, prefix):
        extra = [c for c in _caps(ctr, "add") if c not in CAPABILITIES_BASELINE]
        if extra:
            bad.append(str(ctr.get("name")))
            caps.update(extra)
            first = first or f"{path}.securityContext.capabilities.add"
    if not bad:
        return None
    return _fail(
        "capabilities_baseline",
        first,
        "non-default capabilities",
        f"{_who(bad)} must not include {_quote(sorted(caps))} in securityContext.capabilities.add",
    )


def host_path_volumes(
    spec: Mapping[str, Any], meta: Any, prefix: str, v: Version
) -> Failure | None:
    vols = [(i, vol) for i, vol in enumerate(_l(spec.get("volumes"))) if _d(vol).get("hostPath")]
    if not vols:
        return None
    names = [str(vol.get("name")) for _, vol in vols]
    return _fail(
        "hostPathVolumes",
        f"{prefix}.volumes[{vols[0][0]}].hostPath",
        "hostPath volumes",
        f"{_plural('volume', 'volumes', len(names))} {_quote(names)}",
    )


def host_ports(spec: Mapping[str, Any], meta: Any, prefix: str, v: Version) -> Failure | None:
    bad: list[str] = []
    ports: set[int] = set()
    first = ""
    for path, ctr in _containers(spec, prefix):
        used = [
            (i, p["hostPort"])
            for i, p in enumerate(_l(ctr.get("ports")))
            if isinstance(p, dict) and p.get("hostPort")
        ]
        if used:
            bad.append(str(ctr.get("name")))
            ports.update(port for _, port in used)
            first = first or f"{path}.ports[{used[0][0]}].hostPort"
    if not bad:
        return None
    shown = sorted(str(p) for p in ports)
    return _fail(
        "hostPorts",
        first,
        "hostPort",
        f"{_who(bad)} {_plural('uses', 'use', len(bad))} "
        f"{_plural('hostPort', 'hostPorts', len(shown))} {', '.join(shown)}",
    )


def host_probes(spec: Mapping[str, Any], meta: Any, prefix: str, v: Version) -> Failure | None:
    if v < (1, 34):
        return None
    bad: list[str] = []
    hosts: set[str] = set()
    first = ""
    for path, ctr in _containers(spec, prefix):
        handlers = [
            (f"{path}.{probe}", _d(ctr.get(probe)), ("httpGet", "tcpSocket"))
            for probe in ("livenessProbe", "readinessProbe", "startupProbe")
        ]
        lifecycle = _d(ctr.get("lifecycle"))
        handlers += [
            (f"{path}.lifecycle.{hook}", _d(lifecycle.get(hook)), ("httpGet", "tcpSocket"))
            for hook in ("postStart", "preStop")
        ]
        found = False
        for hpath, handler, kinds in handlers:
            for kind in kinds:
                host = _d(handler.get(kind)).get("host")
                if host:
                    hosts.add(str(host))
                    found = True
                    first = first or f"{hpath}.{kind}.host"
        if found:
            bad.append(str(ctr.get("name")))
    if not bad:
        return None
    return _fail(
        "hostProbesAndHostLifecycle",
        first,
        "probe or lifecycle host",
        f"{_who(bad)} {_plural('uses', 'use', len(bad))} "
        f"{_plural('probe or lifecycle host', 'probe or lifecycle hosts', len(hosts))} "
        f"{_quote(sorted(hosts))}",
    )


_APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


def app_armor(spec: Mapping[str, Any], meta: Any, prefix: str, v: Version) -> Failure | None:
    allowed = ("RuntimeDefault", "Localhost")
    setters: list[str] = []
    values: set[str] = set()
    first = ""
    pod_profile = _d(_d(spec.get("securityContext")).get("appArmorProfile"))
    if pod_profile and pod_profile.get("type") not in allowed:
        setters.append("pod")
        values.add(str(pod_profile.get("type")))
        first = f"{prefix}.securityContext.appArmorProfile.type"
    bad: list[str] = []
    for path, ctr in _containers(spec, prefix):
        profile = _d(_sc(ctr).get("appArmorProfile"))
        if profile and profile.get("type") not in allowed:
            bad.append(str(ctr.get("name")))
            values.add(str(profile.get("type")))
            first = first or f"{path}.securityContext.appArmorProfile.type"
    if bad:
        setters.append(_who(bad))
    value_list = sorted(values)
    annotations = sorted(
        f'{k}="{val}"'
        for k, val in _d(_d(meta).get("annotations")).items()
        if str(k).startswith(_APPARMOR_ANNOTATION)
        and val
        and val != "runtime/default"
        and not str(val).startswith("localhost/")
    )
    if annotations:
        value_list += annotations
        setters.append(_plural("annotation", "annotations", len(annotations)))
        first = first or "metadata.annotations"
    if not setters:
        return None
    return _fail(
        "appArmorProfile",
        first,
        _plural("forbidden AppArmor profile", "forbidden AppArmor profiles", len(value_list)),
        f"{' and '.join(setters)} must not set AppArmor profile type to {_quote(value_list)}",
    )


def se_linux(spec: Mapping[str, Any], meta: Any, prefix: str, v: Version) -> Failure | None:
    types = {"", "container_t", "container_init_t", "container_kvm_t"}
    if v >= (1, 31):
        types.add("container_engine_t")
    bad_types: set[str] = set()
    flags = {"user": False, "role": False}

    def bad(opts: Mapping[str, Any]) -> bool:
        wrong = False
        if str(opts.get("type") or "") not in types:
            bad_types.add(str(opts.get("type")))
            wrong = True
        for field in ("user", "role"):
            if opts.get(field):
                flags[field] = wrong = True
        return wrong

    setters: list[str] = []
    first = ""
    pod_opts = _d(_d(spec.get("securityContext")).get("seLinuxOptions"))
    if pod_opts and bad(pod_opts):
        setters.append("pod")
        first = f"{prefix}.securityContext.seLinuxOptions"
    names: list[str] = []
    for path, ctr in _containers(spec, prefix):
        opts = _d(_sc(ctr).get("seLinuxOptions"))
        if opts and bad(opts):
            names.append(str(ctr.get("name")))
            first = first or f"{path}.securityContext.seLinuxOptions"
    if names:
        setters.append(_who(names))
    if not setters:
        return None
    data = []
    if bad_types:
        data.append(f"{_plural('type', 'types', len(bad_types))} {_quote(sorted(bad_types))}")
    data += [f"{field} may not be set" for field in ("user", "role") if flags[field]]
    return _fail(
        "seLinuxOptions",
        first,
        "seLinuxOptions",
        f"{' and '.join(setters)} set forbidden securityContext.seLinuxOptions: " + "; ".join(data),
    )


def _proc_mount(check: str, spec: Mapping[str, Any], prefix: str, v: Version) -> Failure | None:
    if v >= (1, 35) and _user_namespace(spec):
        return None
    bad: list[str] = []
    kinds: set[str] = set()
    first = ""
    for path, ctr in _containers(spec, prefix):
        mount = _sc(ctr).get("procMount")
        if mount is not None and mount != "Default":
            bad.append(str(ctr.get("name")))
            kinds.add(str(mount))
            first = first or f"{path}.securityContext.procMount"
    if not bad:
        return None
    return _fail(
        check,
        first,
        "procMount",
        f"{_who(bad)} must not set securityContext.procMount to {_quote(sorted(kinds))}",
    )


def proc_mount(spec: Mapping[str, Any], meta: Any, prefix: str, v: Version) -> Failure | None:
    return _proc_mount("procMount", spec, prefix, v)


def _seccomp(check: str, spec: Mapping[str, Any], prefix: str, *, required: bool) -> Failure | None:
    allowed = ("RuntimeDefault", "Localhost")
    setters: list[str] = []
    values: set[str] = set()
    first = ""
    pod_profile = _d(_d(spec.get("securityContext")).get("seccompProfile"))
    pod_set = False
    if pod_profile:
        if pod_profile.get("type") not in allowed:
            setters.append("pod")
            values.add(str(pod_profile.get("type")))
            first = f"{prefix}.securityContext.seccompProfile.type"
        else:
            pod_set = True
    explicit: list[str] = []
    implicit: list[tuple[str, str]] = []
    for path, ctr in _containers(spec, prefix):
        profile = _d(_sc(ctr).get("seccompProfile"))
        if profile:
            if profile.get("type") not in allowed:
                explicit.append(str(ctr.get("name")))
                values.add(str(profile.get("type")))
                first = first or f"{path}.securityContext.seccompProfile.type"
        elif not pod_set:
            implicit.append((path, str(ctr.get("name"))))
    if explicit:
        setters.append(_who(explicit))
    if setters:
        return _fail(
            check,
            first,
            "seccompProfile",
            f"{' and '.join(setters)} must not set securityContext.seccompProfile.type to "
            f"{_quote(sorted(values))}",
        )
    if required and implicit:
        return _fail(
            check,
            f"{implicit[0][0]}.securityContext.seccompProfile",
            "seccompProfile",
            f"pod or {_who([n for _, n in implicit])} must set "
            'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"',
        )
    return None


def seccomp_baseline(spec: Mapping[str, Any], meta: Any, prefix: str, v: Version) -> Failure | None:
    return _seccomp("seccompProfile_baseline", spec, prefix, required=False)


SYSCTLS: tuple[tuple[Version, frozenset[str]], ...] = (
    (
        (1, 0),
        frozenset(
            {
                "kernel.shm_rmid_forced",
                "net.ipv4.ip_local_port_range",
                "net.ipv4.tcp_syncookies",
                "net.ipv4.ping_group_range",
                "net.ipv4.ip_unprivileged_port_start",
            }
        ),
    ),
    ((1, 27), frozenset({"net.ipv4.ip_local_reserved_ports"})),
    (
        (1, 29),
        frozenset(
            {
                "net.ipv4.tcp_keepalive_time",
                "net.ipv4.tcp_fin_timeout",
                "net.ipv4.tcp_keepalive_intvl",
                "net.ipv4.tcp_keepalive_probes",
            }
        ),
    ),
    ((1, 32), frozenset({"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"})),
    ((1, 37), frozenset({"net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat"})),
)


def allowed_sysctls(v: Version) -> frozenset[str]:
    """The safe sysctls the baseline level allows at Kubernetes `v` (each step adds some)."""
    return frozenset(name for since, names in SYSCTLS if v >= since for name in names)


def sysctls(spec: Mapping[str, Any], meta: Any, prefix: str, v: Version) -> Failure | None:
    allowed = allowed_sysctls(v)
    items = _l(_d(spec.get("securityContext")).get("sysctls"))
    bad = [
        (i, str(_d(s).get("name")))
        for i, s in enumerate(items)
        if str(_d(s).get("name")) not in allowed
    ]
    if not bad:
        return None
    return _fail(
        "sysctls",
        f"{prefix}.securityContext.sysctls[{bad[0][0]}].name",
        "forbidden sysctls",
        ", ".join(name for _, name in bad),
    )


def windows_host_process(
    spec: Mapping[str, Any], meta: Any, prefix: str, v: Version
) -> Failure | None:
    def host_process(sc: Mapping[str, Any]) -> bool:
        return _d(sc.get("windowsOptions")).get("hostProcess") is True

    setters: list[str] = []
    first = ""
    if host_process(_d(spec.get("securityContext"))):
        setters.append("pod")
        first = f"{prefix}.securityContext.windowsOptions.hostProcess"
    names = []
    for path, ctr in _containers(spec, prefix):
        if host_process(_sc(ctr)):
            names.append(str(ctr.get("name")))
            first = first or f"{path}.securityContext.windowsOptions.hostProcess"
    if names:
        setters.append(_who(names))
    if not setters:
        return None
    return _fail(
        "windowsHostProcess",
        first,
        "hostProcess",
        f"{' and '.join(setters)} must not set securityContext.windowsOptions.hostProcess=true",
    )


# --- restricted ----------------------------------------------------------------------------

# Volume sources the restricted level allows (check_restrictedVolumes.go).
RESTRICTED_VOLUMES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "image",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)


def restricted_volumes(
    spec: Mapping[str, Any], meta: Any, prefix: str, v: Version
) -> Failure | None:
    bad: list[str] = []
    kinds: set[str] = set()
    first = ""
    for i, vol in enumerate(_l(spec.get("volumes"))):
        sources = [k for k, val in _d(vol).items() if k != "name" and val is not None]
        if any(s in RESTRICTED_VOLUMES for s in sources):
            continue
        bad.append(str(_d(vol).get("name")))
        kinds.add(sources[0] if sources else "unknown")
        first = first or f"{prefix}.volumes[{i}]" + (f".{sources[0]}" if sources else "")
    if not bad:
        return None
    return _fail(
        "restrictedVolumes",
        first,
        "restricted volume types",
        f"{_plural('volume', 'volumes', len(bad))} {_quote(bad)} "
        f"{_plural('uses', 'use', len(bad))} "
        f"{_plural('restricted volume type', 'restricted volume types', len(kinds))} "
        f"{_quote(sorted(kinds))}",
    )


def allow_privilege_escalation(
    spec: Mapping[str, Any], meta: Any, prefix: str, v: Version
) -> Failure | None:
    if v >= (1, 25) and _windows(spec):
        return None
    bad = [
        (path, str(ctr.get("name")))
        for path, ctr in _containers(spec, prefix)
        if _sc(ctr).get("allowPrivilegeEscalation") is not False
    ]
    if not bad:
        return None
    return _fail(
        "allowPrivilegeEscalation",
        f"{bad[0][0]}.securityContext.allowPrivilegeEscalation",
        "allowPrivilegeEscalation != false",
        f"{_who([n for _, n in bad])} must set securityContext.allowPrivilegeEscalation=false",
    )


def run_as_non_root(spec: Mapping[str, Any], meta: Any, prefix: str, v: Version) -> Failure | None:
    if v >= (1, 35) and _user_namespace(spec):
        return None
    setters: list[str] = []
    first = ""
    pod_value = _d(spec.get("securityContext")).get("runAsNonRoot")
    if pod_value is False:
        setters.append("pod")
        first = f"{prefix}.securityContext.runAsNonRoot"
    explicit: list[str] = []
    implicit: list[tuple[str, str]] = []
    for path, ctr in _containers(spec, prefix):
        value = _sc(ctr).get("runAsNonRoot")
        if value is False:
            explicit.append(str(ctr.get("name")))
            first = first or f"{path}.securityContext.runAsNonRoot"
        elif value is None and pod_value is not True:
            implicit.append((path, str(ctr.get("name"))))
    if explicit:
        setters.append(_who(explicit))
    if setters:
        return _fail(
            "runAsNonRoot",
            first,
            "runAsNonRoot != true",
            f"{' and '.join(setters)} must not set securityContext.runAsNonRoot=false",
        )
    if implicit:
        return _fail(
            "runAsNonRoot",
            f"{implicit[0][0]}.securityContext.runAsNonRoot",
            "runAsNonRoot != true",
            f"pod or {_who([n for _, n in implicit])} must set securityContext.runAsNonRoot=true",
        )
    return None


def run_as_user(spec: Mapping[str, Any], meta: Any, prefix: str, v: Version) -> Failure | None:
    if v < (1, 23) or (v >= (1, 35) and _user_namespace(spec)):
        return None
    setters: list[str] = []
    first = ""
    if _d(spec.get("securityContext")).get("runAsUser") == 0:
        setters.append("pod")
        first = f"{prefix}.securityContext.runAsUser"
    names = []
    for path, ctr in _containers(spec, prefix):
        if _sc(ctr).get("runAsUser") == 0:
            names.append(str(ctr.get("name")))
            first = first or f"{path}.securityContext.runAsUser"
    if names:
        setters.append(_who(names))
    if not setters:
        return None
    return _fail(
        "runAsUser", first, "runAsUser=0", f"{' and '.join(setters)} must not set runAsUser=0"
    )


def seccomp_restricted(
    spec: Mapping[str, Any], meta: Any, prefix: str, v: Version
) -> Failure | None:
    if v < (1, 19) or (v >= (1, 25) and _windows(spec)):
        return None
    return _seccomp("seccompProfile_restricted", spec, prefix, required=True)


def capabilities_restricted(
    spec: Mapping[str, Any], meta: Any, prefix: str, v: Version
) -> Failure | None:
    if v < (1, 22) or (v >= (1, 25) and _windows(spec)):
        return None
    missing: list[str] = []
    adding: list[str] = []
    caps: set[str] = set()
    first = ""
    for path, ctr in _containers(spec, prefix):
        if "ALL" not in _caps(ctr, "drop"):
            missing.append(str(ctr.get("name")))
            first = first or f"{path}.securityContext.capabilities.drop"
        extra = [c for c in _caps(ctr, "add") if c != "NET_BIND_SERVICE"]
        if extra:
            adding.append(str(ctr.get("name")))
            caps.update(extra)
            first = first or f"{path}.securityContext.capabilities.add"
    details = []
    if missing:
        details.append(f'{_who(missing)} must set securityContext.capabilities.drop=["ALL"]')
    if adding:
        details.append(
            f"{_who(adding)} must not include {_quote(sorted(caps))} in "
            "securityContext.capabilities.add"
        )
    if not details:
        return None
    return _fail("capabilities_restricted", first, "unrestricted capabilities", "; ".join(details))


def proc_mount_restricted(
    spec: Mapping[str, Any], meta: Any, prefix: str, v: Version
) -> Failure | None:
    if v < (1, 35):
        return None
    # Restricted keeps procMount's rule even in a user namespace (check_procMount_restricted).
    bad: list[str] = []
    kinds: set[str] = set()
    first = ""
    for path, ctr in _containers(spec, prefix):
        mount = _sc(ctr).get("procMount")
        if mount is not None and mount != "Default":
            bad.append(str(ctr.get("name")))
            kinds.add(str(mount))
            first = first or f"{path}.securityContext.procMount"
    if not bad:
        return None
    return _fail(
        "procMount_restricted",
        first,
        "procMount",
        f"{_who(bad)} must not set securityContext.procMount to {_quote(sorted(kinds))}",
    )


CHECKS: dict[str, Check] = {
    "hostNamespaces": host_namespaces,
    "privileged": privileged,
    "capabilities_baseline": capabilities_baseline,
    "hostPathVolumes": host_path_volumes,
    "hostPorts": host_ports,
    "hostProbesAndHostLifecycle": host_probes,
    "appArmorProfile": app_armor,
    "seLinuxOptions": se_linux,
    "procMount": proc_mount,
    "seccompProfile_baseline": seccomp_baseline,
    "sysctls": sysctls,
    "windowsHostProcess": windows_host_process,
    "restrictedVolumes": restricted_volumes,
    "allowPrivilegeEscalation": allow_privilege_escalation,
    "runAsNonRoot": run_as_non_root,
    "runAsUser": run_as_user,
    "seccompProfile_restricted": seccomp_restricted,
    "capabilities_restricted": capabilities_restricted,
    "procMount_restricted": proc_mount_restricted,
}

# The baseline check a restricted one replaces when restricted is evaluated, from the version
# the restricted check exists (OverrideCheckIDs).
OVERRIDES: dict[str, tuple[str, Version]] = {
    "capabilities_baseline": ("capabilities_restricted", (1, 22)),
    "hostPathVolumes": ("restrictedVolumes", (1, 0)),
    "seccompProfile_baseline": ("seccompProfile_restricted", (1, 19)),
    "procMount": ("procMount_restricted", (1, 35)),
}


def compute_failures(
    spec: Mapping[str, Any], meta: Mapping[str, Any], *, prefix: str, version: Version
) -> list[Failure]:
    """Every baseline and restricted check the pod spec fails at Kubernetes `version`."""
    failures = []
    for check in (*PSS_BASELINE, *PSS_RESTRICTED):
        failure = CHECKS[check](spec, meta, prefix, version)
        if failure is not None:
            failures.append(failure)
    return failures


def needed_level(failures: list[Failure]) -> str:
    """The least restrictive level that admits a pod failing `failures`."""
    if any(f.level == "baseline" for f in failures):
        return "privileged"
    return "baseline" if failures else "restricted"


def enforced_by(failure: Failure, enforced: str, version: Version) -> bool:
    """Whether a namespace enforcing `enforced` rejects the pod for this failure (a
    baseline check overridden by its restricted one is not evaluated at restricted)."""
    if enforced == "privileged":
        return False
    if enforced == "baseline":
        return failure.level == "baseline"
    override = OVERRIDES.get(failure.check)
    return not (override is not None and version >= override[1])
