"""Pod Security Standards checks, one positive and one negative case per check, as
kubernetes/pod-security-admission policy/check_*.go decides them (ids are the checks)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from kubeplay.plan.check import podsecurity

Spec = dict[str, Any]
LATEST = (1, 37)


def restricted_spec() -> Spec:
    """A pod spec every check admits."""
    return {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "app",
                "image": "registry.example/app:1",
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
    }


def _ctr(spec: Spec) -> dict[str, Any]:
    ctr: dict[str, Any] = spec["containers"][0]
    return ctr


def _sc(spec: Spec) -> dict[str, Any]:
    sc: dict[str, Any] = _ctr(spec)["securityContext"]
    return sc


def _set(path: str, value: Any) -> Callable[[Spec], None]:
    """Set `a.b.c` in the spec; `ctr.` means the first container, `csc.` its securityContext."""

    def mutate(spec: Spec) -> None:
        target: dict[str, Any] = spec
        parts = path.split(".")
        if parts[0] == "ctr":
            target, parts = _ctr(spec), parts[1:]
        elif parts[0] == "csc":
            target, parts = _sc(spec), parts[1:]
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value

    return mutate


def _volume(source: dict[str, Any]) -> Callable[[Spec], None]:
    return lambda spec: spec.setdefault("volumes", []).append({"name": "v", **source})


def _drop_pod_field(field: str) -> Callable[[Spec], None]:
    return lambda spec: spec["securityContext"].pop(field)


CASES = [
    # baseline
    pytest.param(
        _set("hostNetwork", True), LATEST, {"hostNamespaces"}, id="host-network-is-a-host-namespace"
    ),
    pytest.param(_set("hostNetwork", False), LATEST, set(), id="host-network-false-is-allowed"),
    pytest.param(_set("csc.privileged", True), LATEST, {"privileged"}, id="privileged-container"),
    pytest.param(_set("csc.privileged", False), LATEST, set(), id="privileged-false-is-allowed"),
    pytest.param(
        _set("csc.capabilities.add", ["SYS_ADMIN"]),
        LATEST,
        {"capabilities_baseline", "capabilities_restricted"},
        id="capability-beyond-the-default-set",
    ),
    pytest.param(
        _set("csc.capabilities.add", ["CHOWN"]),
        LATEST,
        {"capabilities_restricted"},
        id="default-set-capability-passes-baseline-not-restricted",
    ),
    pytest.param(
        _set("csc.capabilities.add", ["NET_BIND_SERVICE"]),
        LATEST,
        set(),
        id="net-bind-service-is-allowed-by-restricted",
    ),
    pytest.param(
        _volume({"hostPath": {"path": "/etc"}}),
        LATEST,
        {"hostPathVolumes", "restrictedVolumes"},
        id="host-path-volume",
    ),
    pytest.param(_volume({"emptyDir": {}}), LATEST, set(), id="empty-dir-volume-is-allowed"),
    pytest.param(
        _set("ctr.ports", [{"containerPort": 80, "hostPort": 8080}]),
        LATEST,
        {"hostPorts"},
        id="host-port",
    ),
    pytest.param(
        _set("ctr.ports", [{"containerPort": 80, "hostPort": 0}]),
        LATEST,
        set(),
        id="host-port-zero-is-unset",
    ),
    pytest.param(
        _set("ctr.readinessProbe", {"httpGet": {"host": "10.0.0.1", "port": 80}}),
        LATEST,
        {"hostProbesAndHostLifecycle"},
        id="probe-host-from-1-34",
    ),
    pytest.param(
        _set("ctr.readinessProbe", {"httpGet": {"host": "10.0.0.1", "port": 80}}),
        (1, 33),
        set(),
        id="probe-host-not-checked-before-1-34",
    ),
    pytest.param(
        _set("csc.appArmorProfile", {"type": "Unconfined"}),
        LATEST,
        {"appArmorProfile"},
        id="apparmor-unconfined",
    ),
    pytest.param(
        _set("csc.appArmorProfile", {"type": "RuntimeDefault"}),
        LATEST,
        set(),
        id="apparmor-runtime-default-is-allowed",
    ),
    pytest.param(
        _set("csc.seLinuxOptions", {"type": "spc_t"}),
        LATEST,
        {"seLinuxOptions"},
        id="selinux-type-outside-the-container-types",
    ),
    pytest.param(
        _set("csc.seLinuxOptions", {"type": "container_engine_t"}),
        (1, 30),
        {"seLinuxOptions"},
        id="selinux-container-engine-t-not-allowed-before-1-31",
    ),
    pytest.param(
        _set("csc.seLinuxOptions", {"type": "container_engine_t"}),
        (1, 31),
        set(),
        id="selinux-container-engine-t-allowed-from-1-31",
    ),
    pytest.param(
        _set("csc.seLinuxOptions", {"user": "system_u"}),
        LATEST,
        {"seLinuxOptions"},
        id="selinux-user-may-not-be-set",
    ),
    pytest.param(
        _set("csc.procMount", "Unmasked"),
        LATEST,
        {"procMount", "procMount_restricted"},
        id="proc-mount-unmasked",
    ),
    pytest.param(
        _set("csc.procMount", "Default"), LATEST, set(), id="proc-mount-default-is-allowed"
    ),
    pytest.param(
        _set("csc.procMount", "Unmasked"),
        (1, 34),
        {"procMount"},
        id="proc-mount-restricted-check-exists-from-1-35",
    ),
    pytest.param(
        lambda spec: (_set("hostUsers", False)(spec), _set("csc.procMount", "Unmasked")(spec)),
        LATEST,
        {"procMount_restricted"},
        id="proc-mount-unmasked-in-a-user-namespace-passes-baseline-only",
    ),
    pytest.param(
        _set("securityContext.seccompProfile", {"type": "Unconfined"}),
        LATEST,
        {"seccompProfile_baseline", "seccompProfile_restricted"},
        id="seccomp-unconfined",
    ),
    pytest.param(
        _set("securityContext.seccompProfile", {"type": "Localhost", "localhostProfile": "p.json"}),
        LATEST,
        set(),
        id="seccomp-localhost-is-allowed",
    ),
    pytest.param(
        _drop_pod_field("seccompProfile"),
        LATEST,
        {"seccompProfile_restricted"},
        id="seccomp-unset-fails-restricted-only",
    ),
    pytest.param(
        _set("securityContext.sysctls", [{"name": "kernel.msgmax", "value": "1"}]),
        LATEST,
        {"sysctls"},
        id="unsafe-sysctl",
    ),
    pytest.param(
        _set("securityContext.sysctls", [{"name": "net.ipv4.tcp_rmem", "value": "4096"}]),
        (1, 31),
        {"sysctls"},
        id="tcp-rmem-sysctl-not-safe-before-1-32",
    ),
    pytest.param(
        _set("securityContext.sysctls", [{"name": "net.ipv4.tcp_rmem", "value": "4096"}]),
        (1, 32),
        set(),
        id="tcp-rmem-sysctl-safe-from-1-32",
    ),
    pytest.param(
        _set("csc.windowsOptions", {"hostProcess": True}),
        LATEST,
        {"windowsHostProcess"},
        id="windows-host-process",
    ),
    # restricted
    pytest.param(
        _volume({"nfs": {"server": "nfs", "path": "/"}}),
        LATEST,
        {"restrictedVolumes"},
        id="nfs-volume-is-a-restricted-volume-type",
    ),
    pytest.param(
        _volume({"persistentVolumeClaim": {"claimName": "data"}}),
        LATEST,
        set(),
        id="persistent-volume-claim-is-allowed",
    ),
    pytest.param(
        lambda spec: _sc(spec).pop("allowPrivilegeEscalation"),
        LATEST,
        {"allowPrivilegeEscalation"},
        id="allow-privilege-escalation-unset",
    ),
    pytest.param(
        lambda spec: (
            _sc(spec).pop("allowPrivilegeEscalation"),
            _set("os", {"name": "windows"})(spec),
        ),
        LATEST,
        set(),
        id="allow-privilege-escalation-not-required-of-windows-pods",
    ),
    pytest.param(
        _drop_pod_field("runAsNonRoot"),
        LATEST,
        {"runAsNonRoot"},
        id="run-as-non-root-unset",
    ),
    pytest.param(
        lambda spec: (_drop_pod_field("runAsNonRoot")(spec), _set("csc.runAsNonRoot", True)(spec)),
        LATEST,
        set(),
        id="run-as-non-root-set-on-every-container",
    ),
    pytest.param(
        lambda spec: (_drop_pod_field("runAsNonRoot")(spec), _set("hostUsers", False)(spec)),
        (1, 35),
        set(),
        id="run-as-non-root-relaxed-in-a-user-namespace-from-1-35",
    ),
    pytest.param(
        lambda spec: (_drop_pod_field("runAsNonRoot")(spec), _set("hostUsers", False)(spec)),
        (1, 34),
        {"runAsNonRoot"},
        id="run-as-non-root-not-relaxed-before-1-35",
    ),
    pytest.param(_set("csc.runAsUser", 0), LATEST, {"runAsUser"}, id="run-as-user-root"),
    pytest.param(_set("csc.runAsUser", 1000), LATEST, set(), id="run-as-user-non-zero-is-allowed"),
    pytest.param(
        _set("csc.capabilities", {}),
        LATEST,
        {"capabilities_restricted"},
        id="capabilities-must-drop-all",
    ),
]


@pytest.mark.parametrize(("mutate", "version", "expected"), CASES)
def test_pod_security_checks(
    mutate: Callable[[Spec], Any], version: tuple[int, int], expected: set[str]
) -> None:
    spec = restricted_spec()
    mutate(spec)
    failures = podsecurity.compute_failures(spec, {}, prefix="spec", version=version)
    assert {f.check for f in failures} == expected


def test_every_check_has_a_positive_case() -> None:
    failing = set()
    for case in CASES:
        _mutate, _version, expected = case.values
        failing |= expected
    assert failing == set(podsecurity.CHECKS)


@pytest.mark.parametrize(
    ("mutate", "message", "path"),
    [
        pytest.param(
            lambda spec: _sc(spec).pop("allowPrivilegeEscalation"),
            'allowPrivilegeEscalation != false (container "app" must set '
            "securityContext.allowPrivilegeEscalation=false)",
            "spec.containers[0].securityContext.allowPrivilegeEscalation",
            id="allow-privilege-escalation-wording",
        ),
        pytest.param(
            _set("ctr.ports", [{"containerPort": 80, "hostPort": 8080}]),
            'hostPort (container "app" uses hostPort 8080)',
            "spec.containers[0].ports[0].hostPort",
            id="host-port-wording",
        ),
        pytest.param(
            _set("hostPID", True),
            "host namespaces (hostPID=true)",
            "spec.hostPID",
            id="host-namespaces-wording",
        ),
    ],
)
def test_reason_and_detail_read_as_the_admission_words_them(
    mutate: Callable[[Spec], Any], message: str, path: str
) -> None:
    spec = restricted_spec()
    mutate(spec)
    (failure,) = podsecurity.compute_failures(spec, {}, prefix="spec", version=LATEST)
    assert (failure.message, failure.path) == (message, path)


@pytest.mark.parametrize(
    ("mutate", "level"),
    [
        pytest.param(_set("hostIPC", True), "privileged", id="baseline-failure-needs-privileged"),
        pytest.param(
            _drop_pod_field("runAsNonRoot"), "baseline", id="restricted-failure-needs-baseline"
        ),
        pytest.param(lambda spec: None, "restricted", id="compliant-pod-meets-restricted"),
    ],
)
def test_needed_level(mutate: Callable[[Spec], Any], level: str) -> None:
    spec = restricted_spec()
    mutate(spec)
    failures = podsecurity.compute_failures(spec, {}, prefix="spec", version=LATEST)
    assert podsecurity.needed_level(failures) == level


def test_restricted_check_overrides_its_baseline_check_at_restricted() -> None:
    spec = copy.deepcopy(restricted_spec())
    _set("csc.capabilities.add", ["SYS_ADMIN"])(spec)
    failures = {
        f.check: f for f in podsecurity.compute_failures(spec, {}, prefix="spec", version=LATEST)
    }
    baseline, restricted = failures["capabilities_baseline"], failures["capabilities_restricted"]
    assert podsecurity.enforced_by(baseline, "baseline", LATEST)
    assert not podsecurity.enforced_by(restricted, "baseline", LATEST)
    assert not podsecurity.enforced_by(baseline, "restricted", LATEST)
    assert podsecurity.enforced_by(restricted, "restricted", LATEST)
