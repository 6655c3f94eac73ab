from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from kubeplay.plan import ocispec, security
from kubeplay.plan.pods import ContainerKind, ContainerPlan, PodPlan
from kubeplay.plan.resources import ResourcePlan
from kubeplay.plan.users import ResolvedUser

CTR = ContainerPlan(
    name="app",
    kind=ContainerKind.APP,
    image="busybox",
    image_ref="docker.io/library/busybox:latest",
    image_id="sha256:1234",
    pull_policy="Always",
    argv=("sh", "-c", "echo hi"),
    env=(("PATH", "/bin"), ("GREETING", "hello")),
    working_dir="/work",
    user="",
)
POD = PodPlan(uid="0000-1111", namespace="default", name="web", hostname="web", containers=(CTR,))
ROOT = ResolvedUser(uid=0, gid=0, additional_gids=(0, 10), home="/root")
NOBODY = ResolvedUser(uid=65534, gid=65534, additional_gids=(65534,), home="/nonexistent")
INFRA_NS = {
    "network": "/proc/42/ns/net",
    "uts": "/proc/42/ns/uts",
    "ipc": "/proc/42/ns/ipc",
    "pid": "",
}
FILES = {
    "/etc/hosts": "/run/kp/pods/u/etc-hosts",
    "/etc/resolv.conf": "/run/kp/pods/u/resolv.conf",
    "/dev/termination-log": "/var/lib/kp/pods/u/app/termination-log",
}
DEFAULT_CAPS = [
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
]


def container_spec(**overrides: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "rootfs": Path("/var/lib/kp/rootfs/app"),
        "user": ROOT,
        "namespaces": INFRA_NS,
        "cgroups_path": "/kubeplay/pod-u/app",
        "host_files": FILES,
        "seccomp": None,
    }
    pod = overrides.pop("pod", POD)
    ctr = overrides.pop("ctr", CTR)
    options.update(overrides)
    return ocispec.build_container_spec(pod, ctr, **options)


def infra_spec(pod: PodPlan = POD, **overrides: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "rootfs": Path("/var/lib/kp/pods/u/infra"),
        "catatonit": "/usr/bin/catatonit",
        "netns": "/run/netns/kp-u",
        "cgroups_path": "/kubeplay/pod-u/infra",
    }
    options.update(overrides)
    return ocispec.build_infra_spec(pod, **options)


def namespaces(spec: dict[str, Any]) -> dict[str, str | None]:
    return {ns["type"]: ns.get("path") for ns in spec["linux"]["namespaces"]}


def mount(spec: dict[str, Any], destination: str) -> dict[str, Any] | None:
    return next((m for m in spec["mounts"] if m["destination"] == destination), None)


# -- container spec -----------------------------------------------------------------------

Check = Callable[[dict[str, Any]], object]


@pytest.mark.parametrize(
    ("overrides", "check", "expected"),
    [
        pytest.param(
            {},
            namespaces,
            {
                "pid": None,
                "network": "/proc/42/ns/net",
                "ipc": "/proc/42/ns/ipc",
                "uts": "/proc/42/ns/uts",
                "mount": None,
            },
            id="joins-infra-network-uts-ipc-own-pid-and-mount",
        ),
        pytest.param(
            {"namespaces": {**INFRA_NS, "pid": "/proc/42/ns/pid"}},
            lambda s: namespaces(s)["pid"],
            "/proc/42/ns/pid",
            id="shareProcessNamespace-joins-infra-pid",
        ),
        pytest.param(
            {"namespaces": {**INFRA_NS, "network": None, "uts": None}},
            lambda s: sorted(namespaces(s)),
            ["ipc", "mount", "pid"],
            id="hostNetwork-no-netns-no-uts",
        ),
        pytest.param(
            {"namespaces": {**INFRA_NS, "pid": None}},
            lambda s: "pid" in namespaces(s),
            False,
            id="hostPID-no-pid-ns",
        ),
        pytest.param(
            {"namespaces": {**INFRA_NS, "ipc": None}},
            lambda s: "ipc" in namespaces(s),
            False,
            id="hostIPC-no-ipc-ns",
        ),
        pytest.param({}, lambda s: "hostname" in s, False, id="joined-uts-hostname-not-set"),
        pytest.param(
            {"namespaces": {**INFRA_NS, "uts": ""}},
            lambda s: s["hostname"],
            "web",
            id="own-uts-sets-pod-hostname",
        ),
        pytest.param(
            {}, lambda s: s["process"]["args"], ["sh", "-c", "echo hi"], id="args-from-plan-argv"
        ),
        pytest.param({}, lambda s: s["process"]["cwd"], "/work", id="workingDir-is-cwd"),
        pytest.param(
            {"ctr": replace(CTR, working_dir="")},
            lambda s: s["process"]["cwd"],
            "/",
            id="empty-workingDir-is-root",
        ),
        pytest.param(
            {},
            lambda s: s["process"]["env"],
            ["PATH=/bin", "GREETING=hello", "HOSTNAME=web", "HOME=/root"],
            id="env-plus-HOSTNAME-and-HOME",
        ),
        pytest.param(
            {"ctr": replace(CTR, env=(("HOME", "/data"), ("HOSTNAME", "mine"), ("PATH", "/x")))},
            lambda s: s["process"]["env"],
            ["HOME=/data", "HOSTNAME=mine", "PATH=/x"],
            id="env-HOME-and-HOSTNAME-from-manifest-win",
        ),
        pytest.param({}, lambda s: s["process"]["terminal"], False, id="no-tty-no-terminal"),
        pytest.param(
            {"ctr": replace(CTR, tty=True)},
            lambda s: (s["process"]["terminal"], s["process"]["env"][-1]),
            (True, "TERM=xterm"),
            id="tty-sets-terminal",
        ),
        pytest.param(
            {"user": ResolvedUser(1000, 2000, (2000, 10, 3000), "/home/app")},
            lambda s: s["process"]["user"],
            {"uid": 1000, "gid": 2000, "additionalGids": [2000, 10, 3000]},
            id="resolved-user-uid-gid-additionalGids",
        ),
        pytest.param(
            {},
            lambda s: s["process"]["capabilities"],
            {
                "bounding": DEFAULT_CAPS,
                "effective": DEFAULT_CAPS,
                "inheritable": [],
                "permitted": DEFAULT_CAPS,
                "ambient": [],
            },
            id="default-capabilities-root",
        ),
        pytest.param(
            {"user": NOBODY},
            lambda s: s["process"]["capabilities"],
            {
                "bounding": DEFAULT_CAPS,
                "effective": [],
                "inheritable": [],
                "permitted": [],
                "ambient": [],
            },
            id="non-root-has-no-effective-caps",
        ),
        pytest.param(
            {},
            lambda s: s["process"]["noNewPrivileges"],
            False,
            id="allowPrivilegeEscalation-default-true",
        ),
        pytest.param(
            {},
            lambda s: sorted(k for k in s["process"] if k in ("rlimits", "oomScoreAdj")),
            [],
            id="no-rlimits-no-oomScoreAdj",
        ),
        pytest.param(
            {},
            lambda s: s["root"],
            {"path": "/var/lib/kp/rootfs/app", "readonly": False},
            id="root-rw",
        ),
        pytest.param(
            {},
            lambda s: s["linux"]["maskedPaths"],
            [
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
            ],
            id="masked-paths-podman-defaults",
        ),
        pytest.param(
            {},
            lambda s: s["linux"]["readonlyPaths"],
            [
                "/proc/asound",
                "/proc/bus",
                "/proc/fs",
                "/proc/irq",
                "/proc/sys",
                "/proc/sysrq-trigger",
            ],
            id="readonly-paths-podman-defaults",
        ),
        pytest.param(
            {},
            lambda s: s["linux"]["resources"]["devices"],
            [{"allow": False, "access": "rwm"}],
            id="devices-deny-all-runc-adds-defaults",
        ),
        pytest.param(
            {}, lambda s: s["linux"]["cgroupsPath"], "/kubeplay/pod-u/app", id="cgroupsPath"
        ),
        pytest.param({}, lambda s: "seccomp" in s["linux"], False, id="seccomp-unconfined"),
        pytest.param(
            {"seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": []}},
            lambda s: s["linux"]["seccomp"],
            {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": []},
            id="seccomp-RuntimeDefault-as-given",
        ),
        pytest.param(
            {"annotations": {"io.kubernetes.container.restartCount": "2"}},
            lambda s: s["annotations"],
            {
                "io.kubernetes.pod.name": "web",
                "io.kubernetes.pod.namespace": "default",
                "io.kubernetes.pod.uid": "0000-1111",
                "io.kubernetes.container.name": "app",
                "io.kubernetes.container.restartCount": "2",
            },
            id="annotations-kubernetes-and-given",
        ),
    ],
)
def test_container_spec(overrides: dict[str, Any], check: Check, expected: object) -> None:
    assert check(container_spec(**overrides)) == expected


@pytest.mark.parametrize(
    ("host_files", "destination", "expected"),
    [
        pytest.param(
            {},
            "/proc",
            {
                "destination": "/proc",
                "type": "proc",
                "source": "proc",
                "options": ["nosuid", "noexec", "nodev"],
            },
            id="proc",
        ),
        pytest.param(
            {},
            "/dev",
            {
                "destination": "/dev",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
            },
            id="dev-tmpfs",
        ),
        pytest.param(
            {},
            "/dev/pts",
            {
                "destination": "/dev/pts",
                "type": "devpts",
                "source": "devpts",
                "options": [
                    "nosuid",
                    "noexec",
                    "newinstance",
                    "ptmxmode=0666",
                    "mode=0620",
                    "gid=5",
                ],
            },
            id="devpts-newinstance",
        ),
        pytest.param(
            {},
            "/dev/shm",
            {
                "destination": "/dev/shm",
                "type": "tmpfs",
                "source": "shm",
                "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
            },
            id="dev-shm-private-tmpfs",
        ),
        pytest.param(
            {"/dev/shm": "/run/kp/pods/u/shm"},
            "/dev/shm",
            {
                "destination": "/dev/shm",
                "type": "bind",
                "source": "/run/kp/pods/u/shm",
                "options": ["rbind", "rw", "nosuid", "nodev", "noexec"],
            },
            id="dev-shm-pod-shared-bind",
        ),
        pytest.param(
            {},
            "/dev/mqueue",
            {
                "destination": "/dev/mqueue",
                "type": "mqueue",
                "source": "mqueue",
                "options": ["nosuid", "noexec", "nodev"],
            },
            id="mqueue",
        ),
        pytest.param(
            {},
            "/sys",
            {
                "destination": "/sys",
                "type": "sysfs",
                "source": "sysfs",
                "options": ["nosuid", "noexec", "nodev", "ro"],
            },
            id="sysfs-ro",
        ),
        pytest.param(
            {},
            "/sys/fs/cgroup",
            {
                "destination": "/sys/fs/cgroup",
                "type": "cgroup",
                "source": "cgroup",
                "options": ["rprivate", "nosuid", "noexec", "nodev", "relatime", "ro"],
            },
            id="cgroup-ro",
        ),
        pytest.param(
            FILES,
            "/etc/hosts",
            {
                "destination": "/etc/hosts",
                "type": "bind",
                "source": "/run/kp/pods/u/etc-hosts",
                "options": ["rbind", "rw"],
            },
            id="etc-hosts-bind-rw",
        ),
        pytest.param(
            FILES,
            "/dev/termination-log",
            {
                "destination": "/dev/termination-log",
                "type": "bind",
                "source": "/var/lib/kp/pods/u/app/termination-log",
                "options": ["rbind", "rw"],
            },
            id="terminationMessagePath-bind-rw",
        ),
    ],
)
def test_container_mounts(
    host_files: dict[str, str], destination: str, expected: dict[str, Any]
) -> None:
    assert mount(container_spec(host_files=host_files), destination) == expected


def test_container_mount_order_dev_before_files() -> None:
    files = {"/dev/shm": "/run/kp/shm", **FILES}
    order = [m["destination"] for m in container_spec(host_files=files)["mounts"]]
    assert order == [
        "/proc",
        "/dev",
        "/dev/pts",
        "/dev/shm",
        "/dev/mqueue",
        "/sys",
        "/sys/fs/cgroup",
        "/etc/hosts",
        "/etc/resolv.conf",
        "/dev/termination-log",
    ]


def test_container_spec_is_json() -> None:
    spec = container_spec()
    assert json.loads(json.dumps(spec)) == spec
    assert spec["ociVersion"].startswith("1.0.")


# -- infra spec ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pod", "overrides", "expected"),
    [
        pytest.param(
            POD,
            {},
            {"pid": None, "network": "/run/netns/kp-u", "ipc": None, "uts": None, "mount": None},
            id="infra-owns-pid-ipc-uts-joins-netns",
        ),
        pytest.param(
            POD,
            {"netns": None},
            {"pid": None, "network": None, "ipc": None, "uts": None, "mount": None},
            id="infra-without-netns-path-gets-own",
        ),
        pytest.param(
            replace(POD, host_network=True),
            {"netns": None},
            {"pid": None, "ipc": None, "mount": None},
            id="hostNetwork-no-netns",
        ),
        pytest.param(
            replace(POD, host_pid=True, host_ipc=True),
            {},
            {"network": "/run/netns/kp-u", "uts": None, "mount": None},
            id="hostPID-hostIPC-infra",
        ),
        pytest.param(
            replace(POD, share_process_namespace=True),
            {},
            {"pid": None, "network": "/run/netns/kp-u", "ipc": None, "uts": None, "mount": None},
            id="shareProcessNamespace-infra-owns-pid",
        ),
    ],
)
def test_infra_namespaces(
    pod: PodPlan, overrides: dict[str, Any], expected: dict[str, str | None]
) -> None:
    assert namespaces(infra_spec(pod, **overrides)) == expected


@pytest.mark.parametrize(
    ("pod", "check", "expected"),
    [
        pytest.param(
            POD, lambda s: s["process"]["args"], ["/catatonit", "-P"], id="catatonit-pause"
        ),
        pytest.param(
            POD,
            lambda s: mount(s, "/catatonit"),
            {
                "destination": "/catatonit",
                "type": "bind",
                "source": "/usr/bin/catatonit",
                "options": ["bind", "ro"],
            },
            id="catatonit-bind-ro",
        ),
        pytest.param(POD, lambda s: s["root"]["readonly"], True, id="infra-root-readonly"),
        pytest.param(POD, lambda s: s["hostname"], "web", id="infra-sets-pod-hostname"),
        pytest.param(
            replace(POD, host_network=True),
            lambda s: "hostname" in s,
            False,
            id="hostNetwork-keeps-host-hostname",
        ),
        pytest.param(
            POD,
            lambda s: sorted(v for caps in s["process"]["capabilities"].values() for v in caps),
            [],
            id="infra-no-capabilities",
        ),
        pytest.param(
            POD, lambda s: s["process"]["noNewPrivileges"], True, id="infra-noNewPrivileges"
        ),
        pytest.param(
            POD,
            lambda s: s["annotations"]["io.kubernetes.container.name"],
            "POD",
            id="infra-container-name-POD",
        ),
        pytest.param(
            POD,
            lambda s: [m["destination"] for m in s["mounts"]],
            ["/proc", "/dev", "/dev/shm", "/catatonit"],
            id="infra-minimal-mounts",
        ),
        pytest.param(
            POD, lambda s: s["linux"]["cgroupsPath"], "/kubeplay/pod-u/infra", id="infra-cgroup"
        ),
    ],
)
def test_infra_spec(pod: PodPlan, check: Check, expected: object) -> None:
    assert check(infra_spec(pod)) == expected


def test_infra_pod_shm_and_files() -> None:
    spec = infra_spec(
        host_files={"/dev/shm": "/run/kp/pods/u/shm", "/etc/hostname": "/run/kp/hostname"},
        catatonit_in_rootfs="/pause",
    )
    assert spec["process"]["args"] == ["/pause", "-P"]
    assert mount(spec, "/dev/shm") == {
        "destination": "/dev/shm",
        "type": "bind",
        "source": "/run/kp/pods/u/shm",
        "options": ["rbind", "rw", "nosuid", "nodev", "noexec"],
    }
    assert [m["destination"] for m in spec["mounts"]] == [
        "/proc",
        "/dev",
        "/dev/shm",
        "/pause",
        "/etc/hostname",
    ]


# --- securityContext, resources, sysctls, setHostnameAsFQDN --------------------------------
# https://kubernetes.io/docs/tasks/configure-pod-container/security-context/,
# https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/


def _sec(**fields: Any) -> ContainerPlan:
    return replace(CTR, security=replace(CTR.security, **fields))


ALL_BUT_SYS_RESOURCE = tuple(c for c in security.CAPABILITIES if c != "CAP_SYS_RESOURCE")


@pytest.mark.parametrize(
    ("overrides", "check", "expected"),
    [
        pytest.param(
            {"ctr": _sec(cap_add=("CAP_NET_ADMIN",), cap_drop=("CAP_CHOWN", "CAP_KILL"))},
            lambda s: s["process"]["capabilities"]["effective"],
            [c for c in DEFAULT_CAPS if c not in ("CAP_CHOWN", "CAP_KILL")] + ["CAP_NET_ADMIN"],
            id="capabilities-add-and-drop",
        ),
        pytest.param(
            {"ctr": _sec(cap_drop=("ALL",), cap_add=("CAP_NET_BIND_SERVICE",))},
            lambda s: s["process"]["capabilities"]["bounding"],
            ["CAP_NET_BIND_SERVICE"],
            id="capabilities-drop-all-then-add-one",
        ),
        pytest.param(
            {"ctr": _sec(cap_add=("ALL",), cap_drop=("CAP_SYS_ADMIN",))},
            lambda s: s["process"]["capabilities"]["bounding"],
            [c for c in security.CAPABILITIES if c != "CAP_SYS_ADMIN"],
            id="capabilities-add-all-then-drop-one",
        ),
        pytest.param(
            {"ctr": _sec(privileged=True), "available_caps": ALL_BUT_SYS_RESOURCE},
            lambda s: s["process"]["capabilities"]["effective"],
            list(ALL_BUT_SYS_RESOURCE),
            id="privileged-every-capability-kubeplay-holds",
        ),
        pytest.param(
            {"ctr": _sec(privileged=True), "seccomp": {"defaultAction": "SCMP_ACT_ERRNO"}},
            lambda s: (
                "seccomp" in s["linux"],
                s["linux"]["maskedPaths"],
                s["linux"]["readonlyPaths"],
                s["linux"]["resources"]["devices"],
            ),
            (False, [], [], [{"allow": True, "access": "rwm"}]),
            id="privileged-no-seccomp-no-masks-all-devices",
        ),
        pytest.param(
            {"ctr": _sec(privileged=True)},
            lambda s: [
                m["options"][-1] for m in s["mounts"] if m["destination"].startswith("/sys")
            ],
            ["rw", "rw"],
            id="privileged-sys-and-cgroup-rw",
        ),
        pytest.param(
            {
                "ctr": _sec(privileged=True),
                "devices": [{"path": "/dev/loop0", "type": "b", "major": 7, "minor": 0}],
            },
            lambda s: s["linux"]["devices"],
            [{"path": "/dev/loop0", "type": "b", "major": 7, "minor": 0}],
            id="privileged-host-devices",
        ),
        pytest.param(
            {"ctr": _sec()},
            lambda s: [
                m["options"][-1] for m in s["mounts"] if m["destination"].startswith("/sys")
            ],
            ["ro", "ro"],
            id="unprivileged-sys-ro",
        ),
        pytest.param(
            {"ctr": _sec(read_only_root_fs=True)},
            lambda s: s["root"]["readonly"],
            True,
            id="readOnlyRootFilesystem",
        ),
        pytest.param(
            {"ctr": _sec(no_new_privileges=True)},
            lambda s: s["process"]["noNewPrivileges"],
            True,
            id="allowPrivilegeEscalation-false-no-new-privileges",
        ),
        pytest.param(
            {"ctr": _sec(proc_mount="Unmasked")},
            lambda s: (s["linux"]["maskedPaths"], s["linux"]["readonlyPaths"]),
            ([], []),
            id="procMount-Unmasked",
        ),
        pytest.param(
            {"extra_masked": ("/sys/devices/system/cpu/cpu0/thermal_throttle",)},
            lambda s: s["linux"]["maskedPaths"][-1],
            "/sys/devices/system/cpu/cpu0/thermal_throttle",
            id="host-globbed-thermal-throttle-masked",
        ),
        pytest.param(
            {"ctr": replace(CTR, resources=ResourcePlan(500, 1500, 2**26, 2**27))},
            lambda s: {k: v for k, v in s["linux"]["resources"].items() if k != "devices"},
            {
                "cpu": {"shares": 512, "quota": 150000, "period": 100000},
                "memory": {"limit": 2**27, "swap": 2**27},
            },
            id="resources-cgroup-v1",
        ),
        pytest.param(
            {
                "ctr": replace(CTR, resources=ResourcePlan(500, 1500, 2**26, 2**27)),
                "cgroup_v2": True,
            },
            lambda s: {k: v for k, v in s["linux"]["resources"].items() if k != "devices"},
            {
                "unified": {
                    "cpu.weight": "20",
                    "cpu.max": "150000 100000",
                    "memory.max": str(2**27),
                    "memory.swap.max": "0",
                }
            },
            id="resources-cgroup-v2",
        ),
        pytest.param(
            {"pod": replace(POD, subdomain="svc", set_hostname_as_fqdn=True)},
            lambda s: [e for e in s["process"]["env"] if e.startswith("HOSTNAME=")],
            ["HOSTNAME=web.svc.default.svc.cluster.local"],
            id="setHostnameAsFQDN-HOSTNAME-env",
        ),
    ],
)
def test_container_security_and_resources(
    overrides: dict[str, Any], check: Check, expected: object
) -> None:
    assert check(container_spec(**overrides)) == expected


PING = {"net.ipv4.ping_group_range": "0 2147483647"}


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        pytest.param(POD, PING, id="pod-netns-allows-unprivileged-ping"),
        pytest.param(
            replace(
                POD,
                sysctls=(("net.ipv4.ip_unprivileged_port_start", "0"), ("kernel/shmmni", "8")),
            ),
            {**PING, "net.ipv4.ip_unprivileged_port_start": "0", "kernel.shmmni": "8"},
            id="pod-sysctls-set-in-infra-namespaces",
        ),
        pytest.param(
            replace(POD, sysctls=(("net.ipv4.ping_group_range", "1 1"),)),
            {"net.ipv4.ping_group_range": "1 1"},
            id="pod-sysctl-overrides-ping-group-range",
        ),
        pytest.param(replace(POD, host_network=True), None, id="hostNetwork-keeps-host-sysctls"),
    ],
)
def test_infra_sysctls(pod: PodPlan, expected: dict[str, str] | None) -> None:
    assert infra_spec(pod)["linux"].get("sysctl") == expected


@pytest.mark.parametrize(
    ("oom", "expected"),
    [
        pytest.param(-998, -998, id="infra-container-oom-score-adj"),
        pytest.param(None, None, id="oom-score-adj-inherited-when-unset"),
    ],
)
def test_infra_oom_score_adj(oom: int | None, expected: int | None) -> None:
    assert infra_spec(oom_score_adj=oom)["process"].get("oomScoreAdj") == expected


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param({"pids_limit": 2048}, {"limit": 2048}, id="pids-limit-podman-default"),
        pytest.param({"pids_limit": 0}, None, id="pids-limit-zero-is-unlimited"),
        pytest.param({}, None, id="pids-limit-unset-is-unlimited"),
    ],
)
def test_container_pids_limit(overrides: dict[str, Any], expected: object) -> None:
    assert container_spec(**overrides)["linux"]["resources"].get("pids") == expected


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param({"oom_score_adj": 1000}, 1000, id="best-effort-oom-score-adj"),
        pytest.param({"oom_score_adj": -997}, -997, id="guaranteed-oom-score-adj"),
        pytest.param({}, None, id="oom-score-adj-inherited-when-unset"),
    ],
)
def test_container_oom_score_adj(overrides: dict[str, Any], expected: object) -> None:
    assert container_spec(**overrides)["process"].get("oomScoreAdj") == expected


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        pytest.param(
            replace(POD, subdomain="svc", set_hostname_as_fqdn=True),
            "web.svc.default.svc.cluster.local",
            id="setHostnameAsFQDN-with-subdomain-kernel-hostname-is-fqdn",
        ),
        pytest.param(
            replace(POD, set_hostname_as_fqdn=True),
            "web",
            id="setHostnameAsFQDN-without-subdomain-is-the-name",
        ),
        pytest.param(replace(POD, subdomain="svc"), "web", id="subdomain-alone-keeps-the-name"),
    ],
)
def test_infra_hostname(pod: PodPlan, expected: str) -> None:
    assert infra_spec(pod)["hostname"] == expected
