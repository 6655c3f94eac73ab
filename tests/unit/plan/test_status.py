"""PodStatus and kubectl's columns derived from a plan plus what was observed.

Sources: kubelet's getPhase (pkg/kubelet/kubelet_pods.go), pkg/kubelet/status/generate.go
(GeneratePodInitializedCondition, GenerateContainersReadyCondition,
GeneratePodReadyCondition), and kubectl's printPod (pkg/printers/internalversion/printers.go).
https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-phase
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from kubeplay.plan import probes, status
from kubeplay.plan.observed import ContainerState, ObservedContainer, ObservedPod, Termination
from kubeplay.plan.pods import ContainerKind, ContainerPlan, PodPlan
from kubeplay.plan.resources import ResourcePlan

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z
T0_TEXT = "2023-11-14T22:13:20Z"


def _ctr(name: str, kind: ContainerKind = ContainerKind.APP, restart: str = "") -> ContainerPlan:
    return ContainerPlan(
        name=name,
        kind=kind,
        image="busybox:1",
        image_ref="docker.io/library/busybox:1",
        image_id="sha256:" + "c" * 64,
        pull_policy="IfNotPresent",
        argv=("sleep", "inf"),
        env=(),
        working_dir="/",
        user="",
        restart_policy=restart,
    )


def _plan(
    apps: tuple[str, ...] = ("app",),
    inits: tuple[str, ...] = (),
    sidecars: tuple[str, ...] = (),
    policy: str = "Always",
) -> PodPlan:
    init = tuple(_ctr(n, ContainerKind.INIT) for n in inits) + tuple(
        _ctr(n, ContainerKind.INIT, "Always") for n in sidecars
    )
    return PodPlan(
        uid="u",
        namespace="default",
        name="p",
        hostname="p",
        restart_policy=policy,
        init_containers=init,
        containers=tuple(_ctr(n) for n in apps),
    )


def _term(code: int, *, oom: bool = False, at: float = T0 + 5) -> Termination:
    return Termination(exit_code=code, started_at=T0, finished_at=at, oom_killed=oom)


START_FAILURE = 'exec: "/nope": stat /nope: no such file or directory'


def _start_error(at: float = T0 + 5) -> Termination:
    """The runtime could not start the instance (containerd: exit 128, StartError)."""
    return Termination(
        exit_code=128, started_at=0.0, finished_at=at, message=START_FAILURE, start_error=True
    )


def failed_start(name: str, **kw: Any) -> ObservedContainer:
    return ObservedContainer(
        name=name, state=ContainerState.TERMINATED, termination=_start_error(), **kw
    )


def running(name: str, **kw: Any) -> ObservedContainer:
    return ObservedContainer(
        name=name, state=ContainerState.RUNNING, started_at=T0, container_id=f"c-{name}", **kw
    )


def exited(name: str, code: int, **kw: Any) -> ObservedContainer:
    return ObservedContainer(
        name=name, state=ContainerState.TERMINATED, termination=_term(code), **kw
    )


def waiting(name: str, reason: str = "ContainerCreating", **kw: Any) -> ObservedContainer:
    return ObservedContainer(name=name, waiting_reason=reason, **kw)


def _observed(*containers: ObservedContainer, **kw: Any) -> ObservedPod:
    return ObservedPod(
        sandbox_id="sb",
        sandbox_running=True,
        containers={c.name: c for c in containers},
        created_at=T0,
        **kw,
    )


# --- phase ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plan", "observed", "expected"),
    [
        pytest.param(_plan(), _observed(), "Pending", id="nothing-started-pending"),
        pytest.param(_plan(), _observed(waiting("app")), "Pending", id="app-waiting-pending"),
        pytest.param(
            _plan(inits=("init",)), _observed(running("init")), "Pending", id="init-running"
        ),
        pytest.param(
            _plan(inits=("a", "b")),
            _observed(exited("a", 0), waiting("b")),
            "Pending",
            id="second-init-not-started",
        ),
        pytest.param(
            _plan(inits=("init",), policy="Never"),
            _observed(exited("init", 1)),
            "Failed",
            id="init-failed-restart-never",
        ),
        pytest.param(
            _plan(inits=("init",), policy="OnFailure"),
            _observed(exited("init", 1)),
            "Pending",
            id="init-failed-restart-onfailure",
        ),
        pytest.param(
            _plan(inits=("init",)),
            _observed(waiting("init", "CrashLoopBackOff", last_termination=_term(1))),
            "Pending",
            id="init-crashloop-restart-always",
        ),
        pytest.param(
            _plan(inits=("init",)),
            _observed(exited("init", 0), running("app")),
            "Running",
            id="init-done-app-running",
        ),
        pytest.param(_plan(), _observed(running("app")), "Running", id="running"),
        pytest.param(
            _plan(apps=("a", "b"), policy="Never"),
            _observed(running("a"), exited("b", 1)),
            "Running",
            id="one-running-one-failed-never",
        ),
        pytest.param(
            _plan(policy="Never"), _observed(exited("app", 0)), "Succeeded", id="never-succeeded"
        ),
        pytest.param(
            _plan(apps=("a", "b"), policy="Never"),
            _observed(exited("a", 0), exited("b", 2)),
            "Failed",
            id="never-one-failed",
        ),
        pytest.param(
            _plan(policy="OnFailure"),
            _observed(exited("app", 0)),
            "Succeeded",
            id="onfailure-succeeded",
        ),
        pytest.param(
            _plan(policy="OnFailure"),
            _observed(exited("app", 1)),
            "Running",
            id="onfailure-failed-restarting",
        ),
        pytest.param(
            _plan(policy="OnFailure"),
            _observed(waiting("app", "CrashLoopBackOff", last_termination=_term(1))),
            "Running",
            id="onfailure-crashloop-counts-as-stopped",
        ),
        pytest.param(
            _plan(), _observed(exited("app", 0)), "Running", id="always-all-exited-running"
        ),
        pytest.param(
            _plan(policy="Never"),
            _observed(failed_start("app")),
            "Failed",
            id="never-start-error-fails-the-pod",
        ),
        pytest.param(
            _plan(apps=("a", "b"), policy="Never"),
            _observed(failed_start("a"), running("b")),
            "Running",
            id="never-start-error-beside-a-running-container",
        ),
        pytest.param(
            _plan(policy="OnFailure"),
            _observed(failed_start("app", restart_count=1)),
            "Running",
            id="onfailure-start-error-restarting",
        ),
        pytest.param(
            _plan(inits=("init",), policy="Never"),
            _observed(failed_start("init")),
            "Failed",
            id="never-init-start-error-fails-the-pod",
        ),
        pytest.param(
            _plan(inits=("init",), policy="OnFailure"),
            _observed(failed_start("init")),
            "Pending",
            id="onfailure-init-start-error-pending",
        ),
        pytest.param(
            _plan(),
            _observed(waiting("app", "CrashLoopBackOff", last_termination=_term(1))),
            "Running",
            id="always-crashloop-running",
        ),
        # Sidecars (KEP-753): restartable init containers.
        pytest.param(
            _plan(sidecars=("proxy",)),
            _observed(waiting("proxy")),
            "Pending",
            id="sidecar-not-started-pending",
        ),
        pytest.param(
            _plan(sidecars=("proxy",)),
            _observed(running("proxy"), running("app")),
            "Running",
            id="sidecar-and-app-running",
        ),
        pytest.param(
            _plan(sidecars=("proxy",)),
            _observed(exited("proxy", 1), running("app")),
            "Running",
            id="sidecar-exited-after-app-started",
        ),
        pytest.param(
            _plan(sidecars=("proxy",)),
            _observed(
                waiting("proxy", "CrashLoopBackOff", last_termination=_term(1)), running("app")
            ),
            "Running",
            id="sidecar-crashloop-after-app-started",
        ),
        pytest.param(
            _plan(sidecars=("proxy",), policy="Never"),
            _observed(running("proxy"), exited("app", 0)),
            "Running",
            id="sidecar-still-running-after-app-done",
        ),
        pytest.param(
            _plan(sidecars=("proxy",), policy="Never"),
            _observed(exited("proxy", 137), exited("app", 0)),
            "Succeeded",
            id="sidecar-stopped-app-succeeded",
        ),
    ],
)
def test_derive_phase(plan: PodPlan, observed: ObservedPod, expected: str) -> None:
    assert status.derive_phase(plan, observed) == expected


# --- conditions ----------------------------------------------------------------------------


def _conditions(plan: PodPlan, observed: ObservedPod) -> dict[str, tuple[str, str]]:
    got = status.derive_pod_status(plan, observed)["conditions"]
    return {c["type"]: (c["status"], c.get("reason", "")) for c in got}


@pytest.mark.parametrize(
    ("plan", "observed", "kind", "expected"),
    [
        pytest.param(
            _plan(), _observed(running("app")), "PodScheduled", ("True", ""), id="scheduled"
        ),
        pytest.param(
            _plan(),
            _observed(running("app")),
            "PodReadyToStartContainers",
            ("True", ""),
            id="sandbox-ready",
        ),
        pytest.param(
            _plan(),
            replace(_observed(), sandbox_running=False),
            "PodReadyToStartContainers",
            ("False", ""),
            id="sandbox-missing",
        ),
        pytest.param(
            _plan(),
            _observed(waiting("app")),
            "Initialized",
            ("True", ""),
            id="no-init-initialized",
        ),
        pytest.param(
            _plan(inits=("init",)),
            _observed(running("init")),
            "Initialized",
            ("False", "ContainersNotInitialized"),
            id="init-running-not-initialized",
        ),
        pytest.param(
            _plan(inits=("init",)),
            _observed(exited("init", 0)),
            "Initialized",
            ("True", ""),
            id="init-done-initialized",
        ),
        pytest.param(
            _plan(inits=("init",)),
            _observed(exited("init", 1)),
            "Initialized",
            ("False", "ContainersNotInitialized"),
            id="init-failed-not-initialized",
        ),
        pytest.param(
            _plan(sidecars=("proxy",)),
            _observed(running("proxy")),
            "Initialized",
            ("True", ""),
            id="sidecar-started-initialized",
        ),
        pytest.param(
            _plan(sidecars=("proxy",)),
            _observed(exited("proxy", 1), running("app")),
            "Initialized",
            ("True", ""),
            id="sidecar-restarting-stays-initialized",
        ),
        pytest.param(
            _plan(apps=("a", "b")),
            _observed(running("a"), running("b")),
            "ContainersReady",
            ("True", ""),
            id="all-running-containers-ready",
        ),
        pytest.param(
            _plan(apps=("a", "b")),
            _observed(running("a"), waiting("b")),
            "ContainersReady",
            ("False", "ContainersNotReady"),
            id="one-waiting-not-ready",
        ),
        pytest.param(
            _plan(apps=("a", "b")),
            _observed(running("a"), waiting("b")),
            "Ready",
            ("False", "ContainersNotReady"),
            id="pod-not-ready-follows-containers",
        ),
        pytest.param(_plan(), _observed(running("app")), "Ready", ("True", ""), id="pod-ready"),
        pytest.param(
            _plan(sidecars=("proxy",)),
            _observed(exited("proxy", 1), running("app")),
            "Ready",
            ("False", "ContainersNotReady"),
            id="sidecar-down-not-ready",
        ),
        pytest.param(
            _plan(policy="Never"),
            _observed(exited("app", 0)),
            "Ready",
            ("False", "PodCompleted"),
            id="succeeded-pod-completed",
        ),
        pytest.param(
            _plan(policy="Never"),
            _observed(exited("app", 1)),
            "ContainersReady",
            ("False", "PodFailed"),
            id="failed-pod-failed",
        ),
    ],
)
def test_conditions(
    plan: PodPlan, observed: ObservedPod, kind: str, expected: tuple[str, str]
) -> None:
    assert _conditions(plan, observed)[kind] == expected


def test_pod_status_shape() -> None:
    observed = _observed(running("app"), pod_ip="10.88.0.5", host_ip="192.168.1.2", started_at=T0)
    got = status.derive_pod_status(_plan(), observed)
    assert [c["type"] for c in got["conditions"]] == [
        "PodReadyToStartContainers",
        "Initialized",
        "Ready",
        "ContainersReady",
        "PodScheduled",
    ]
    assert all(c["lastTransitionTime"] == T0_TEXT for c in got["conditions"])
    assert got["podIP"] == "10.88.0.5"
    assert got["podIPs"] == [{"ip": "10.88.0.5"}]
    assert got["hostIPs"] == [{"ip": "192.168.1.2"}]
    assert got["startTime"] == T0_TEXT
    assert got["qosClass"] == "BestEffort"
    assert "initContainerStatuses" not in got
    assert [c["name"] for c in got["containerStatuses"]] == ["app"]


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        pytest.param(ResourcePlan(), "BestEffort", id="qosClass-BestEffort"),
        pytest.param(
            ResourcePlan(
                cpu_request_milli=100, cpu_limit_milli=100, memory_limit=1, memory_request=1
            ),
            "Guaranteed",
            id="qosClass-Guaranteed",
        ),
        pytest.param(ResourcePlan(memory_request=1), "Burstable", id="qosClass-Burstable"),
    ],
)
def test_pod_status_qos_class(resources: ResourcePlan, expected: str) -> None:
    plan = _plan()
    plan = replace(plan, containers=tuple(replace(c, resources=resources) for c in plan.containers))
    got = status.derive_pod_status(plan, _observed(running("app"), started_at=T0))
    assert got["qosClass"] == expected


def test_pod_status_without_ip_omits_fields() -> None:
    got = status.derive_pod_status(_plan(inits=("i",)), _observed())
    assert not {"podIP", "podIPs", "hostIP", "hostIPs", "startTime"} & set(got)
    assert [c["name"] for c in got["initContainerStatuses"]] == ["i"]


# --- containerStatuses ---------------------------------------------------------------------

CRASH_MESSAGE = "back-off 20s restarting failed container=app pod=p_default(u)"


def _terminated(code: int, reason: str, **extra: Any) -> dict[str, Any]:
    return {
        "exitCode": code,
        "reason": reason,
        "startedAt": T0_TEXT,
        "finishedAt": "2023-11-14T22:13:25Z",
        **extra,
    }


@pytest.mark.parametrize(
    ("obs", "expected"),
    [
        pytest.param(
            running("app", restart_count=2),
            {
                "state": {"running": {"startedAt": T0_TEXT}},
                "ready": True,
                "started": True,
                "restartCount": 2,
                "containerID": "kubeplay://c-app",
                "lastState": {},
            },
            id="running",
        ),
        pytest.param(
            waiting("app", "ErrImagePull", waiting_message="pull access denied"),
            {
                "state": {"waiting": {"reason": "ErrImagePull", "message": "pull access denied"}},
                "ready": False,
                "started": False,
                "lastState": {},
            },
            id="waiting-with-message",
        ),
        pytest.param(
            waiting("app", ""),
            {"state": {"waiting": {"reason": "ContainerCreating"}}},
            id="waiting-default-reason",
        ),
        pytest.param(
            exited("app", 0),
            {"state": {"terminated": _terminated(0, "Completed")}, "ready": False},
            id="terminated-completed",
        ),
        pytest.param(
            exited("app", 1),
            {"state": {"terminated": _terminated(1, "Error")}, "started": False},
            id="terminated-error",
        ),
        pytest.param(
            ObservedContainer(
                name="app", state=ContainerState.TERMINATED, termination=_term(137, oom=True)
            ),
            {"state": {"terminated": _terminated(137, "OOMKilled")}},
            id="terminated-oomkilled-no-signal",
        ),
        pytest.param(
            exited("app", 143),
            {"state": {"terminated": _terminated(143, "Error", signal=15)}},
            id="terminated-by-signal-128-plus-n",
        ),
        pytest.param(
            exited("app", 128),
            {"state": {"terminated": _terminated(128, "Error")}},
            id="exit-128-is-not-a-signal",
        ),
        pytest.param(
            ObservedContainer(
                name="app",
                state=ContainerState.TERMINATED,
                termination=replace(_term(1), message="boom", container_id="x"),
            ),
            {
                "state": {
                    "terminated": _terminated(
                        1, "Error", message="boom", containerID="kubeplay://x"
                    )
                }
            },
            id="terminated-message-and-id",
        ),
        pytest.param(
            running("app", restart_count=1, last_termination=_term(2)),
            {
                "state": {"running": {"startedAt": T0_TEXT}},
                "lastState": {"terminated": _terminated(2, "Error")},
                "restartCount": 1,
            },
            id="last-state-terminated",
        ),
        pytest.param(
            waiting(
                "app",
                "CrashLoopBackOff",
                waiting_message=CRASH_MESSAGE,
                restart_count=2,
                last_termination=_term(1),
            ),
            {
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": CRASH_MESSAGE}},
                "lastState": {"terminated": _terminated(1, "Error")},
                "restartCount": 2,
                "ready": False,
                "started": False,
            },
            id="crash-loop-back-off-waits-with-last-state",
        ),
    ],
)
def test_container_status(obs: ObservedContainer, expected: dict[str, Any]) -> None:
    got = status.container_status(_ctr("app"), obs)
    assert {k: got.get(k) for k in expected} == expected


def _start_error_text(**kw: Any) -> dict[str, Any]:
    return {
        "exitCode": 128,
        "reason": "StartError",
        "startedAt": "1970-01-01T00:00:00Z",  # containerd's zero start time, as shown
        "finishedAt": "2023-11-14T22:13:25Z",
        "message": START_FAILURE,
        **kw,
    }


@pytest.mark.parametrize(
    ("plan", "obs", "expected"),
    [
        pytest.param(
            _plan(policy="Never"),
            failed_start("app"),
            {
                "state": {"terminated": _start_error_text()},
                "lastState": {},
                "restartCount": 0,
                "ready": False,
                "started": False,
            },
            id="never-start-error-stays-terminated",
        ),
        pytest.param(
            _plan(policy="OnFailure"),
            failed_start("app", restart_count=1),
            {
                "state": {"waiting": {"reason": "RunContainerError", "message": START_FAILURE}},
                "lastState": {"terminated": _start_error_text()},
                "restartCount": 1,
            },
            id="onfailure-start-error-waits-run-container-error",
        ),
        pytest.param(
            _plan(policy="Always"),
            failed_start("app", container_id="x"),
            {
                "state": {"waiting": {"reason": "RunContainerError", "message": START_FAILURE}},
                "lastState": {"terminated": _start_error_text()},
                "containerID": "kubeplay://x",
            },
            id="always-start-error-waits-run-container-error",
        ),
        pytest.param(
            _plan(policy="Always"),
            waiting(
                "app",
                "CrashLoopBackOff",
                waiting_message=CRASH_MESSAGE,
                restart_count=2,
                last_termination=_start_error(),
            ),
            {
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": CRASH_MESSAGE}},
                "lastState": {"terminated": _start_error_text()},
                "restartCount": 2,
            },
            id="start-error-back-off-is-crash-loop-back-off",
        ),
    ],
)
def test_start_error_container_status(
    plan: PodPlan, obs: ObservedContainer, expected: dict[str, Any]
) -> None:
    """A container the runtime could not start: containerd ends it with exit code 128 and
    reason StartError; the kubelet shows one that will be restarted as waiting
    RunContainerError (its reasonCache), then CrashLoopBackOff, the failure as lastState."""
    (got,) = status.derive_pod_status(plan, _observed(obs))["containerStatuses"]
    assert {k: got.get(k) for k in expected} == expected


@pytest.mark.parametrize(
    ("plan", "obs", "expected"),
    [
        pytest.param(
            _plan(policy="Always"),
            waiting("app", restart_count=1, last_termination=_term(1)),
            {
                "state": {"terminated": _terminated(1, "Error")},
                "lastState": {},
                "restartCount": 1,
                "ready": False,
            },
            id="restart-not-made-yet-shows-the-instance-that-ended",
        ),
        pytest.param(
            _plan(policy="Always"),
            waiting("app", "CrashLoopBackOff", restart_count=1, last_termination=_term(1)),
            {
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": _terminated(1, "Error")},
            },
            id="back-off-waits-crash-loop-back-off",
        ),
        pytest.param(
            _plan(policy="Always"),
            waiting("app"),
            {"state": {"waiting": {"reason": "ContainerCreating"}}, "lastState": {}},
            id="first-instance-not-made-yet-is-container-creating",
        ),
        pytest.param(
            _plan(policy="Always"),
            waiting("app", restart_count=1, last_termination=_start_error()),
            {
                "state": {"waiting": {"reason": "RunContainerError", "message": START_FAILURE}},
                "lastState": {"terminated": _start_error_text()},
            },
            id="restart-after-a-start-error-waits-run-container-error",
        ),
    ],
)
def test_a_restart_in_progress(
    plan: PodPlan, obs: ObservedContainer, expected: dict[str, Any]
) -> None:
    """Between the retirement of an instance and the making of the next one the kubelet
    still lists the ended instance: terminated (its reason), not ContainerCreating."""
    (got,) = status.derive_pod_status(plan, _observed(obs))["containerStatuses"]
    assert {k: got.get(k) for k in expected} == expected


@pytest.mark.parametrize(
    ("plan", "observed", "expected"),
    [
        pytest.param(
            _plan(inits=("init",)),
            _observed(running("init")),
            {"init": "running", "app": "PodInitializing"},
            id="app-waits-pod-initializing-while-init-runs",
        ),
        pytest.param(
            _plan(inits=("a", "b")),
            _observed(running("a")),
            {"a": "running", "b": "PodInitializing", "app": "PodInitializing"},
            id="later-init-waits-pod-initializing",
        ),
        pytest.param(
            _plan(),
            _observed(),
            {"app": "ContainerCreating"},
            id="no-init-containers-container-creating",
        ),
        pytest.param(
            _plan(inits=("init",)),
            _observed(waiting("init", "CrashLoopBackOff", last_termination=_term(1))),
            {"init": "CrashLoopBackOff", "app": "PodInitializing"},
            id="init-crash-loop-keeps-its-reason",
        ),
    ],
)
def test_waiting_reasons(plan: PodPlan, observed: ObservedPod, expected: dict[str, str]) -> None:
    """kubelet's default waiting state: PodInitializing in a pod with init containers."""
    got = status.derive_pod_status(plan, observed)
    states = {}
    for cs in got.get("initContainerStatuses", []) + got["containerStatuses"]:
        state = cs["state"]
        states[cs["name"]] = state["waiting"]["reason"] if "waiting" in state else next(iter(state))
    assert states == expected


def test_container_status_image_fields() -> None:
    """imageID is the image the running instance was made from (its state, not the plan)."""
    got = status.container_status(
        _ctr("app"), replace(running("app"), image_id="sha256:" + "c" * 64)
    )
    assert (got["name"], got["image"], got["imageID"]) == (
        "app",
        "busybox:1",
        "sha256:" + "c" * 64,
    )


# --- kubectl get pods: READY, STATUS, RESTARTS ---------------------------------------------


@pytest.mark.parametrize(
    ("plan", "observed", "expected"),
    [
        pytest.param(_plan(), _observed(running("app")), ("1/1", "Running", 0), id="running"),
        pytest.param(
            _plan(), _observed(waiting("app")), ("0/1", "ContainerCreating", 0), id="creating"
        ),
        pytest.param(
            _plan(policy="Never"),
            _observed(exited("app", 0)),
            ("0/1", "Completed", 0),
            id="completed",
        ),
        pytest.param(
            _plan(policy="Never"), _observed(exited("app", 1)), ("0/1", "Error", 0), id="error"
        ),
        pytest.param(
            _plan(policy="Never"),
            _observed(
                ObservedContainer(
                    name="app", state=ContainerState.TERMINATED, termination=_term(137, oom=True)
                )
            ),
            ("0/1", "OOMKilled", 0),
            id="oomkilled",
        ),
        pytest.param(
            _plan(),
            _observed(
                waiting("app", "CrashLoopBackOff", restart_count=3, last_termination=_term(1))
            ),
            ("0/1", "CrashLoopBackOff", 3),
            id="crashloopbackoff",
        ),
        pytest.param(
            _plan(apps=("a", "b")),
            _observed(running("a", restart_count=2), running("b", restart_count=5)),
            ("2/2", "Running", 7),
            id="restarts-summed",
        ),
        pytest.param(
            _plan(apps=("a", "b"), policy="Never"),
            _observed(running("a"), exited("b", 0)),
            ("1/2", "NotReady", 0),
            id="completed-and-running-is-notready",
        ),
        pytest.param(
            _plan(inits=("a", "b")),
            _observed(waiting("a"), waiting("b")),
            ("0/1", "Init:0/2", 0),
            id="init-0-of-2",
        ),
        pytest.param(
            _plan(inits=("a", "b")),
            _observed(exited("a", 0), running("b")),
            ("0/1", "Init:1/2", 0),
            id="init-1-of-2",
        ),
        pytest.param(
            _plan(inits=("a", "b"), policy="Never"),
            _observed(exited("a", 1)),
            ("0/1", "Init:Error", 0),
            id="init-error",
        ),
        pytest.param(
            _plan(inits=("a",)),
            _observed(waiting("a", "CrashLoopBackOff", restart_count=4, last_termination=_term(1))),
            ("0/1", "Init:CrashLoopBackOff", 4),
            id="init-crashloopbackoff-counts-init-restarts",
        ),
        pytest.param(
            _plan(inits=("a",)),
            _observed(exited("a", 0, restart_count=4), running("app", restart_count=1)),
            ("1/1", "Running", 1),
            id="after-init-only-app-restarts",
        ),
        pytest.param(
            _plan(sidecars=("proxy",)),
            _observed(running("proxy"), running("app")),
            ("2/2", "Running", 0),
            id="sidecar-counts-in-ready",
        ),
        pytest.param(
            _plan(sidecars=("proxy",)),
            _observed(running("proxy"), waiting("app")),
            ("1/2", "PodInitializing", 0),
            id="sidecar-started-app-pod-initializing",
        ),
        pytest.param(
            _plan(inits=("a",)),
            _observed(exited("a", 0), waiting("app")),
            ("0/1", "PodInitializing", 0),
            id="inits-done-app-not-created-pod-initializing",
        ),
        pytest.param(
            _plan(),
            _observed(waiting("app", "ImagePullBackOff")),
            ("0/1", "ImagePullBackOff", 0),
            id="image-pull-back-off",
        ),
        pytest.param(
            _plan(policy="Never"),
            _observed(failed_start("app")),
            ("0/1", "StartError", 0),
            id="never-start-error",
        ),
        pytest.param(
            _plan(policy="OnFailure"),
            _observed(failed_start("app", restart_count=1)),
            ("0/1", "RunContainerError", 1),
            id="onfailure-start-error-run-container-error",
        ),
        pytest.param(
            _plan(),
            _observed(
                waiting("app", "CrashLoopBackOff", restart_count=2, last_termination=_start_error())
            ),
            ("0/1", "CrashLoopBackOff", 2),
            id="start-error-held-in-back-off",
        ),
        pytest.param(
            _plan(inits=("a",), policy="Never"),
            _observed(failed_start("a")),
            ("0/1", "Init:StartError", 0),
            id="never-init-start-error",
        ),
        pytest.param(
            _plan(inits=("a",), policy="OnFailure"),
            _observed(failed_start("a", restart_count=1)),
            ("0/1", "Init:RunContainerError", 1),
            id="onfailure-init-start-error",
        ),
        pytest.param(
            _plan(sidecars=("proxy",)),
            _observed(
                waiting("proxy", "CrashLoopBackOff", restart_count=2, last_termination=_term(1)),
                running("app", restart_count=1),
            ),
            ("1/2", "Init:CrashLoopBackOff", 3),
            # kubectl keeps the sidecar's Init:<reason> but, the pod being initialized,
            # counts READY and RESTARTS from the sidecars and app containers.
            id="sidecar-crashloop-after-init",
        ),
        pytest.param(
            _plan(),
            _observed(running("app"), terminating=True),
            ("1/1", "Terminating", 0),
            id="terminating",
        ),
        pytest.param(
            _plan(policy="Never"),
            _observed(exited("app", 0), terminating=True),
            ("0/1", "Completed", 0),
            id="terminating-terminal-pod-keeps-status",
        ),
        pytest.param(
            _plan(policy="Never"),
            _observed(exited("app", 0), terminating=True, deleting_at=T0 + 10),
            ("0/1", "Completed", 0),
            id="terminating-pod-finished-before-its-deletion-keeps-Completed",
        ),
        pytest.param(
            _plan(policy="Never"),
            _observed(exited("app", 0), terminating=True, deleting_at=T0 + 1),
            ("0/1", "Terminating", 0),
            id="interrupted-deletion-stopped-the-pod-shows-Terminating",
        ),
    ],
)
def test_summarize(plan: PodPlan, observed: ObservedPod, expected: tuple[str, str, int]) -> None:
    got = status.summarize(plan, observed)
    assert (got.ready, got.status, got.restarts) == expected


def test_summarize_uses_given_phase() -> None:
    got = status.summarize(_plan(), _observed(running("app")), phase="Pending")
    assert got.status == "Pending"


@pytest.mark.parametrize(
    ("plan", "observed", "expected"),
    [
        pytest.param(_plan(), _observed(running("app")), None, id="never-restarted"),
        pytest.param(
            _plan(apps=("a", "b")),
            _observed(
                running("a", last_termination=_term(1, at=T0 + 10)),
                running("b", last_termination=_term(1, at=T0 + 20)),
            ),
            T0 + 20,
            id="latest-app-restart",
        ),
        pytest.param(
            _plan(inits=("i",)),
            _observed(
                exited("i", 0, last_termination=_term(1, at=T0 + 30)),
                running("app", last_termination=_term(1, at=T0 + 20)),
            ),
            T0 + 20,
            id="init-restarts-ignored-after-init",
        ),
    ],
)
def test_summarize_last_restart(
    plan: PodPlan, observed: ObservedPod, expected: float | None
) -> None:
    assert status.summarize(plan, observed).last_restart_at == expected


# --- probes: started and ready -------------------------------------------------------------

_PROBE = probes.ProbeSpec(probes.TCPSocketAction(port=80))


def _probed(
    name: str, *, readiness: bool = False, startup: bool = False, sidecar: bool = False
) -> ContainerPlan:
    kind = ContainerKind.INIT if sidecar else ContainerKind.APP
    return replace(
        _ctr(name, kind, "Always" if sidecar else ""),
        readiness=_PROBE if readiness else None,
        startup=_PROBE if startup else None,
    )


def _probed_plan(*apps: ContainerPlan, sidecars: tuple[ContainerPlan, ...] = ()) -> PodPlan:
    return replace(_plan(), containers=apps, init_containers=sidecars)


@pytest.mark.parametrize(
    ("plan", "observed", "expected"),
    [
        pytest.param(
            _probed_plan(_probed("app", readiness=True)),
            _observed(running("app")),
            {"ContainersReady": "False", "Ready": "False", "ready": False, "started": True},
            id="readiness-probe-not-yet-passed-not-ready",
        ),
        pytest.param(
            _probed_plan(_probed("app", readiness=True)),
            _observed(running("app", readiness=True)),
            {"ContainersReady": "True", "Ready": "True", "ready": True, "started": True},
            id="readiness-probe-passed-ready",
        ),
        pytest.param(
            _probed_plan(_probed("app", readiness=True)),
            _observed(running("app", readiness=False)),
            {"ContainersReady": "False", "Ready": "False", "ready": False, "started": True},
            id="readiness-probe-failing-not-ready",
        ),
        pytest.param(
            _probed_plan(_probed("app", startup=True)),
            _observed(running("app")),
            {"ContainersReady": "False", "Ready": "False", "ready": False, "started": False},
            id="startup-probe-pending-not-started-not-ready",
        ),
        pytest.param(
            _probed_plan(_probed("app", startup=True)),
            _observed(running("app", startup=True)),
            {"ContainersReady": "True", "Ready": "True", "ready": True, "started": True},
            id="startup-probe-passed-started-and-ready-without-readiness-probe",
        ),
        pytest.param(
            _probed_plan(_probed("app", startup=True, readiness=True)),
            _observed(running("app", readiness=True)),
            {"ContainersReady": "False", "Ready": "False", "ready": False, "started": False},
            id="startup-probe-holds-readiness",
        ),
        pytest.param(
            _probed_plan(_probed("app", readiness=True)),
            _observed(exited("app", 0, readiness=True)),
            {"ContainersReady": "False", "ready": False, "started": False},
            id="exited-container-is-neither-ready-nor-started",
        ),
    ],
)
def test_probes_drive_ready_and_started(
    plan: PodPlan, observed: ObservedPod, expected: dict[str, Any]
) -> None:
    got = status.derive_pod_status(plan, observed)
    conds = {c["type"]: c["status"] for c in got["conditions"]}
    (cs,) = got["containerStatuses"]
    values = {**conds, "ready": cs["ready"], "started": cs["started"]}
    assert {k: values[k] for k in expected} == expected


def test_sidecar_with_startup_probe_initializes_the_pod_once_started() -> None:
    plan = _probed_plan(_ctr("app"), sidecars=(_probed("proxy", startup=True, sidecar=True),))
    pending = _conditions(plan, _observed(running("proxy")))
    assert pending["Initialized"] == ("False", "ContainersNotInitialized")
    done = _conditions(plan, _observed(running("proxy", startup=True)))
    assert done["Initialized"] == ("True", "")


def test_readiness_drives_the_ready_column() -> None:
    plan = _probed_plan(_probed("app", readiness=True), _ctr("side"))
    assert status.summarize(plan, _observed(running("app"), running("side"))).ready == "1/2"
    both = _observed(running("app", readiness=True), running("side"))
    assert status.summarize(plan, both).ready == "2/2"
