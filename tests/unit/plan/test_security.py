"""The effective securityContext and the rules built on it, as the kubelet applies them.

Sources: https://kubernetes.io/docs/tasks/configure-pod-container/security-context/
(container fields override the pod's; capabilities add/drop; allowPrivilegeEscalation),
pkg/kubelet/kuberuntime/security_context_others.go verifyRunAsNonRoot,
pkg/kubelet/sysctl (namespaced sysctls), containerd's WithCapabilities (ALL first).
"""

from __future__ import annotations

from typing import Any

import pytest

from kubeplay.plan import security
from kubeplay.plan.security import SecurityPlan

DEFAULT = ("CAP_CHOWN", "CAP_KILL", "CAP_SETUID")
AVAILABLE = tuple(c for c in security.CAPABILITIES if c != "CAP_SYS_RESOURCE")


@pytest.mark.parametrize(
    ("pod_sc", "ctr_sc", "expected"),
    [
        pytest.param({}, {}, SecurityPlan(), id="unset-podman-defaults-RuntimeDefault-seccomp"),
        pytest.param(
            {"runAsNonRoot": True}, {}, SecurityPlan(run_as_non_root=True), id="pod-runAsNonRoot"
        ),
        pytest.param(
            {"runAsNonRoot": True},
            {"runAsNonRoot": False},
            SecurityPlan(),
            id="container-runAsNonRoot-wins",
        ),
        pytest.param(
            {"supplementalGroups": [5, 6], "fsGroup": 7},
            {},
            SecurityPlan(supplemental_groups=(5, 6, 7)),
            id="supplementalGroups-then-fsGroup",
        ),
        pytest.param(
            {},
            {"capabilities": {"add": ["net_admin", "CAP_SYS_TIME"], "drop": ["all"]}},
            SecurityPlan(cap_add=("CAP_NET_ADMIN", "CAP_SYS_TIME"), cap_drop=("ALL",)),
            id="capabilities-with-and-without-prefix",
        ),
        pytest.param(
            {},
            {"allowPrivilegeEscalation": False},
            SecurityPlan(no_new_privileges=True),
            id="allowPrivilegeEscalation-false",
        ),
        pytest.param(
            {},
            {"allowPrivilegeEscalation": True},
            SecurityPlan(),
            id="allowPrivilegeEscalation-true",
        ),
        pytest.param(
            {"seccompProfile": {"type": "Unconfined"}},
            {},
            SecurityPlan(seccomp="Unconfined"),
            id="pod-seccomp-applies",
        ),
        pytest.param(
            {"seccompProfile": {"type": "Unconfined"}},
            {"seccompProfile": {"type": "Localhost", "localhostProfile": "p/x.json"}},
            SecurityPlan(seccomp="Localhost", seccomp_localhost="p/x.json"),
            id="container-seccomp-wins",
        ),
        pytest.param(
            {},
            {"privileged": True, "readOnlyRootFilesystem": True, "procMount": "Unmasked"},
            SecurityPlan(privileged=True, read_only_root_fs=True, proc_mount="Unmasked"),
            id="privileged-readonly-root-unmasked-proc",
        ),
    ],
)
def test_security_from(
    pod_sc: dict[str, Any], ctr_sc: dict[str, Any], expected: SecurityPlan
) -> None:
    assert security.security_from(pod_sc, ctr_sc) == expected


@pytest.mark.parametrize(
    ("sec", "expected"),
    [
        pytest.param(SecurityPlan(), DEFAULT, id="default-set"),
        pytest.param(
            SecurityPlan(cap_add=("CAP_NET_RAW",), cap_drop=("CAP_KILL",)),
            ("CAP_CHOWN", "CAP_SETUID", "CAP_NET_RAW"),
            id="add-and-drop",
        ),
        pytest.param(SecurityPlan(cap_drop=("ALL",)), (), id="drop-all"),
        pytest.param(
            SecurityPlan(cap_drop=("ALL",), cap_add=("CAP_KILL",)),
            ("CAP_KILL",),
            id="drop-all-add-one",
        ),
        pytest.param(
            SecurityPlan(cap_add=("ALL",), cap_drop=("CAP_CHOWN",)),
            tuple(c for c in AVAILABLE if c != "CAP_CHOWN"),
            id="add-all-drop-one",
        ),
        pytest.param(
            SecurityPlan(cap_add=("CAP_SYS_RESOURCE",)),
            DEFAULT,
            id="cap-kubeplay-lacks-is-not-granted",
        ),
        pytest.param(
            SecurityPlan(privileged=True, cap_drop=("ALL",)), AVAILABLE, id="privileged-all"
        ),
    ],
)
def test_capabilities(sec: SecurityPlan, expected: tuple[str, ...]) -> None:
    assert security.capabilities(sec, default=DEFAULT, available=AVAILABLE) == expected


def test_caps_from_mask_reads_proc_status_bits() -> None:
    assert security.caps_from_mask(0x1FFFEFFFFFF) == AVAILABLE
    assert security.caps_from_mask(0b101) == ("CAP_CHOWN", "CAP_DAC_READ_SEARCH")


WHERE = '(pod: "web_default(u1)", container: app)'


@pytest.mark.parametrize(
    ("non_root", "run_as_user", "image_user", "expected"),
    [
        pytest.param(False, None, "", "", id="not-asked"),
        pytest.param(True, 1000, "", "", id="runAsUser-non-zero"),
        pytest.param(
            True,
            0,
            "1000",
            f"container's runAsUser breaks non-root policy {WHERE}",
            id="runAsUser-zero",
        ),
        pytest.param(
            True,
            None,
            "",
            f"container has runAsNonRoot and image will run as root {WHERE}",
            id="image-without-user-runs-as-root",
        ),
        pytest.param(
            True,
            None,
            "0:0",
            f"container has runAsNonRoot and image will run as root {WHERE}",
            id="image-user-zero",
        ),
        pytest.param(True, None, "1000:1000", "", id="image-numeric-user"),
        pytest.param(
            True,
            None,
            "nobody",
            "container has runAsNonRoot and image has non-numeric user (nobody), cannot verify "
            f"user is non-root {WHERE}",
            id="image-user-name-cannot-be-verified",
        ),
    ],
)
def test_run_as_non_root(
    non_root: bool, run_as_user: int | None, image_user: str, expected: str
) -> None:
    got = security.run_as_non_root_violation(
        SecurityPlan(run_as_non_root=non_root),
        run_as_user=run_as_user,
        image_user=image_user,
        pod=security.pod_ref("web", "default", "u1"),
        container="app",
    )
    assert got == expected


@pytest.mark.parametrize(
    ("name", "namespace"),
    [
        pytest.param("kernel.shm_rmid_forced", "ipc", id="kernel-shm"),
        pytest.param("kernel.msgmax", "ipc", id="kernel-msg"),
        pytest.param("kernel.sem", "ipc", id="kernel-sem"),
        pytest.param("fs.mqueue.msg_max", "ipc", id="fs-mqueue"),
        pytest.param("net.ipv4.ip_local_port_range", "net", id="net"),
        pytest.param("net/ipv4/tcp_syncookies", "net", id="slash-separated"),
        pytest.param("kernel.pid_max", "", id="not-namespaced"),
        pytest.param("vm.swappiness", "", id="vm-not-namespaced"),
    ],
)
def test_sysctl_namespace(name: str, namespace: str) -> None:
    assert security.sysctl_namespace(name) == namespace
