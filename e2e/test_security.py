"""securityContext and resources, checked from inside the container's own process: each main
process writes what it is (ids, /proc/self/status, mounts, sysctls, cgroup files) to /dev/shm
before it sleeps, and the test reads that back with exec."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from e2e.conftest import IMAGE, REPO, SLEEPER, Kubeplay

pytestmark = pytest.mark.root

# The pod's containers share one /dev/shm: each writes its own file ({name}).
REPORT = (
    "id -u > /dev/shm/{name}; id -G >> /dev/shm/{name}; grep -E '^(Cap|NoNewPrivs|Seccomp:)' "
    "/proc/self/status >> /dev/shm/{name}; grep -E ' / | /sys | /proc/keys ' /proc/mounts "
    ">> /dev/shm/{name}; (touch /rootfs-write && echo root-rw || echo root-ro) >> /dev/shm/{name}; "
)


def _report(kp: Kubeplay, container: str, pod: str = "sec") -> str:
    def read() -> str:
        res = kp("exec", pod, "-c", container, "--", "cat", f"/dev/shm/{container}")
        return res.stdout if res.returncode == 0 and "root-r" in res.stdout else ""

    out: str = kp.wait_for(f"{container} report", read)
    return out


def _status(report: str, field: str) -> str:
    match = re.search(rf"^{field}:\s+(\S+)", report, re.M)
    assert match, (field, report)
    return match[1]


def _mask(*bits: int) -> str:
    return f"{sum(1 << b for b in bits):016x}"


def test_security_context_from_inside_the_container(kp: Kubeplay) -> None:
    def ctr(name: str, sc: str) -> str:
        return (
            f"  - name: {name}\n    image: {IMAGE}\n"
            f'    command: [sh, -c, "{REPORT.format(name=name)}{SLEEPER}"]\n'
            f"    securityContext: {sc}\n"
        )

    own_caps = re.search(r"^CapBnd:\s+(\S+)", Path("/proc/self/status").read_text(), re.M)
    assert own_caps
    path = kp.write(
        "sec.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: sec}\nspec:\n"
        "  securityContext:\n"
        "    runAsUser: 1000\n    runAsGroup: 3000\n    supplementalGroups: [4000]\n"
        "    sysctls:\n"
        "    - {name: net.ipv4.ip_unprivileged_port_start, value: '0'}\n"
        "    - {name: kernel.shm_rmid_forced, value: '1'}\n"
        "  containers:\n"
        + ctr("user", "{}")
        + ctr(
            "caps", "{runAsUser: 0, capabilities: {drop: [ALL], add: [NET_BIND_SERVICE, CAP_KILL]}}"
        )
        + ctr("ro", "{runAsUser: 0, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false}")
        + ctr(
            "unconfined", "{runAsUser: 0, seccompProfile: {type: Unconfined}, procMount: Unmasked}"
        )
        + ctr("plain", "{runAsUser: 0}")
        # Its own pod: the kernel shares one sysfs superblock per network namespace, so a
        # privileged container's rw /sys needs a netns where nothing mounted /sys ro first.
        + "---\napiVersion: v1\nkind: Pod\nmetadata: {name: privileged}\nspec:\n"
        + "  containers:\n"
        + ctr("priv", "{privileged: true}"),
    )
    kp.play(path)

    user = _report(kp, "user")
    assert user.splitlines()[:2] == ["1000", "3000 4000"]
    assert _status(user, "CapEff") == "0" * 16  # a non-root process has no effective caps
    assert _status(user, "Seccomp") == "2"  # RuntimeDefault: Podman's profile, filtering

    plain = _report(kp, "plain")
    assert plain.splitlines()[:2] == ["0", "3000 4000"]
    podman_defaults = (0, 1, 3, 4, 5, 6, 7, 8, 10, 18, 31)
    assert _status(plain, "CapEff") == _mask(*podman_defaults)
    assert _status(plain, "NoNewPrivs") == "0"
    assert re.search(r"^sysfs /sys sysfs ro,", plain, re.M), plain
    assert re.search(r" /proc/keys ", plain), plain  # masked
    assert plain.splitlines()[-1] == "root-rw"

    caps = _report(kp, "caps")
    assert _status(caps, "CapEff") == _mask(5, 10)  # KILL, NET_BIND_SERVICE
    assert _status(caps, "CapBnd") == _mask(5, 10)

    ro = _report(kp, "ro")
    assert ro.splitlines()[-1] == "root-ro"
    assert re.search(r"^overlay / overlay ro,", ro, re.M), ro
    assert _status(ro, "NoNewPrivs") == "1"

    priv = _report(kp, "priv", pod="privileged")
    assert _status(priv, "CapEff") == own_caps[1]
    assert _status(priv, "Seccomp") == "0"
    assert re.search(r"^sysfs /sys sysfs rw,", priv, re.M), priv
    assert " /proc/keys " not in priv
    assert kp.exec("privileged", "ls", "/dev/loop-control") == "/dev/loop-control\n"

    unconfined = _report(kp, "unconfined")
    assert _status(unconfined, "Seccomp") == "0"
    assert " /proc/keys " not in unconfined  # procMount Unmasked

    sysctl = kp.exec(
        "sec",
        "cat",
        "/proc/sys/net/ipv4/ip_unprivileged_port_start",
        "/proc/sys/kernel/shm_rmid_forced",
        container="plain",
    )
    assert sysctl.split() == ["0", "1"]


def test_run_as_non_root_refuses_an_image_running_as_root(kp: Kubeplay) -> None:
    path = kp.write(
        "nonroot.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: nonroot}}
        spec:
          securityContext: {{runAsNonRoot: true}}
          containers:
          - {{name: main, image: {IMAGE}, command: [sh, -c, "{SLEEPER}"]}}
          - name: ok
            image: {IMAGE}
            command: [sh, -c, "{SLEEPER}"]
            securityContext: {{runAsUser: 1000}}
        """,
    )
    res = kp("play", str(path))
    assert res.returncode == 0, res
    pod = kp.pod("nonroot")
    uid = pod["metadata"]["uid"]
    waiting = pod["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting == {
        "reason": "CreateContainerConfigError",
        "message": "container has runAsNonRoot and image will run as root "
        f'(pod: "nonroot_default({uid})", container: main)',
    }
    assert "running" in pod["status"]["containerStatuses"][1]["state"]
    assert kp.exec("nonroot", "id", "-u", container="ok") == "1000\n"
    assert "CreateContainerConfigError" in res.stderr


def test_non_namespaced_sysctl_is_refused(kp: Kubeplay) -> None:
    path = kp.write(
        "sysctl.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: sysctl}}
        spec:
          securityContext:
            sysctls: [{{name: kernel.pid_max, value: "100000"}}]
          containers: [{{name: main, image: {IMAGE}}}]
        """,
    )
    res = kp("play", str(path))
    assert res.returncode == 2, res
    assert res.stderr.strip() == (
        f"error: {path}:6: document 1 (Pod sysctl): spec.securityContext.sysctls[0].name: "
        "sysctl 'kernel.pid_max' is not namespaced: a pod cannot set it without changing the "
        "whole host (SysctlForbidden)"
    )
    kp.assert_nothing_runs()


def test_limits_become_cgroup_settings_and_oom_is_reported(kp: Kubeplay) -> None:
    path = kp.write(
        "limits.yaml",
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: limited}}
        spec:
          restartPolicy: Never
          containers:
          - name: main
            image: {IMAGE}
            command: [sh, -c, "{SLEEPER}"]
            resources:
              requests: {{cpu: 250m}}
              limits: {{cpu: 500m, memory: 64Mi}}
          - name: hog
            image: {IMAGE}
            command: [sh, -c, "sleep 1; dd if=/dev/zero of=/dev/null bs=64M count=1"]
            resources:
              limits: {{memory: 16Mi}}
        """,
    )
    kp.play(path)
    cg = kp.exec(
        "limited",
        "cat",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes",
        "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
        "/sys/fs/cgroup/cpu/cpu.cfs_period_us",
        "/sys/fs/cgroup/cpu/cpu.shares",
        container="main",
    )
    assert cg.split() == [str(64 * 2**20), str(64 * 2**20), "50000", "100000", "256"]

    def hog_state() -> dict[str, object]:
        statuses = kp.pod("limited")["status"]["containerStatuses"]
        state: dict[str, object] = statuses[1]["state"]
        return state if "terminated" in state else {}

    terminated = kp.wait_for("the hog to be OOM-killed", hog_state, timeout=30)["terminated"]
    assert terminated["reason"] == "OOMKilled", terminated
    assert terminated["exitCode"] == 137
    assert "running" in kp.pod("limited")["status"]["containerStatuses"][0]["state"]
    # conmon also writes an `oom` file into its working directory: never the user's.
    assert not (REPO / "oom").exists()


def _oom_floor() -> int | None:
    """kubeplay's floor for oom_score_adj here: its own value without CAP_SYS_RESOURCE."""
    caps = re.search(r"^CapEff:\s+(\S+)", Path("/proc/self/status").read_text(), re.M)
    assert caps
    if int(caps[1], 16) & (1 << 24):
        return None
    return int(Path("/proc/self/oom_score_adj").read_text())


def test_container_defaults_pids_oom_score_adj_and_ping_group_range(kp: Kubeplay) -> None:
    def pod(name: str, extra: str, resources: str) -> str:
        return (
            f"---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n{extra}"
            f"  containers:\n  - name: main\n    image: {IMAGE}\n"
            f'    command: [sh, -c, "{SLEEPER}"]\n    resources: {resources}\n'
        )

    path = kp.write(
        "defaults.yaml",
        pod("besteffort", "", "{}")
        + pod("guaranteed", "", "{limits: {cpu: 100m, memory: 64Mi}}")
        + pod("burstable", "", "{requests: {memory: 64Mi}}")
        + pod("hostnet", "  hostNetwork: true\n", "{}"),
    )
    kp.play(path)
    mem_total = next(
        int(line.split()[1]) * 1024
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    floor = _oom_floor()

    def expected(value: int) -> int:
        return value if floor is None else max(value, floor)

    burstable = max(3, 1000 - (1000 * 64 * 2**20) // mem_total)
    for name, adj in (("besteffort", 1000), ("guaranteed", -997), ("burstable", burstable)):
        # PID 1 of the container's own PID namespace is its main process.
        assert kp.exec(name, "cat", "/proc/1/oom_score_adj") == f"{expected(adj)}\n", name
        assert kp.exec(name, "cat", "/sys/fs/cgroup/pids/pids.max") == "2048\n", name
    # The infra (pause) process: kubelet's PodInfraOOMAdj.
    infra = [
        pid
        for pid, cmd in kp.processes().items()
        if cmd.startswith("/catatonit") or "catatonit -P" in cmd
    ]
    assert infra, kp.processes()
    for pid in infra:
        assert Path(f"/proc/{pid}/oom_score_adj").read_text() == f"{expected(-998)}\n"
    status = {n: kp.pod(n)["status"]["qosClass"] for n in ("besteffort", "guaranteed", "burstable")}
    assert status == {
        "besteffort": "BestEffort",
        "guaranteed": "Guaranteed",
        "burstable": "Burstable",
    }
    ping = "/proc/sys/net/ipv4/ping_group_range"
    assert kp.exec("besteffort", "cat", ping).split() == ["0", "2147483647"]
    # hostNetwork: the host's network namespace, whose sysctls kubeplay leaves alone.
    assert kp.exec("hostnet", "cat", ping).split() == Path(ping).read_text().split()
