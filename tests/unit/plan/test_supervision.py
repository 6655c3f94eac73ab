"""gate_starts and needs_supervision: which pending starts the supervisor makes now (kubelet's
doBackOff before startContainer, the image manager's pull back-off) and when a pod no longer
needs it. https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#container-restarts
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from kubeplay.plan import supervision
from kubeplay.plan.actions import PodActions
from kubeplay.plan.backoff import BackoffEntry, BackoffPolicy
from kubeplay.plan.observed import ContainerState, ObservedContainer, ObservedPod, Termination
from kubeplay.plan.pods import ContainerKind, ContainerPlan, PodPlan
from kubeplay.plan.supervision import StartGate

T0 = 1_000_000.0
POLICY = BackoffPolicy(base=10, cap=300)


def _ctr(name: str, kind: ContainerKind = ContainerKind.APP) -> ContainerPlan:
    return ContainerPlan(
        name=name,
        kind=kind,
        image="busybox:1",
        image_ref="docker.io/library/busybox:1",
        image_id="sha256:" + "e" * 64,
        pull_policy="IfNotPresent",
        argv=("false",),
        env=(),
        working_dir="/",
        user="",
    )


PLAN = PodPlan(
    uid="u-1",
    namespace="default",
    name="web",
    hostname="web",
    init_containers=(_ctr("init", ContainerKind.INIT),),
    containers=(_ctr("app"),),
)


def exited(name: str, code: int = 1, at: float = T0) -> ObservedContainer:
    return ObservedContainer(
        name=name,
        state=ContainerState.TERMINATED,
        container_id=f"c-{name}",
        termination=Termination(exit_code=code, started_at=at - 1, finished_at=at),
    )


def crash_looping(name: str, at: float = T0) -> ObservedContainer:
    return ObservedContainer(
        name=name,
        waiting_reason="CrashLoopBackOff",
        restart_count=1,
        last_termination=Termination(exit_code=1, started_at=at - 1, finished_at=at),
    )


def _pod(*containers: ObservedContainer) -> ObservedPod:
    return ObservedPod(
        sandbox_id="sb", sandbox_running=True, containers={c.name: c for c in containers}
    )


CRASH_10S = "back-off 10s restarting failed container=app pod=web_default(u-1)"


@pytest.mark.parametrize(
    ("observed", "todo", "entries", "now", "expected"),
    [
        pytest.param(
            _pod(exited("app")),
            PodActions(start=("app",), restarts=("app",)),
            {},
            T0,
            (StartGate("app", True, BackoffEntry(10, T0)),),
            id="first-restart-immediate",
        ),
        pytest.param(
            _pod(exited("app", at=T0 + 12)),
            PodActions(start=("app",), restarts=("app",)),
            {"app": BackoffEntry(10, T0 + 11)},
            T0 + 12,
            (
                StartGate(
                    "app", False, BackoffEntry(10, T0 + 11), 10.0, "CrashLoopBackOff", CRASH_10S
                ),
            ),
            id="crash-again-crash-loop-back-off",
        ),
        pytest.param(
            _pod(crash_looping("app", at=T0 + 12)),
            PodActions(start=("app",), restarts=("app",)),
            {"app": BackoffEntry(10, T0 + 11)},
            T0 + 22,
            (StartGate("app", True, BackoffEntry(20, T0 + 22)),),
            id="window-over-restart-doubles",
        ),
        pytest.param(
            _pod(exited("init")),
            PodActions(start_init="init", restarts=("init",)),
            {"init": BackoffEntry(10, T0 - 1)},
            T0 + 4,
            (
                StartGate(
                    "init",
                    False,
                    BackoffEntry(10, T0 - 1),
                    6.0,
                    "CrashLoopBackOff",
                    "back-off 10s restarting failed container=init pod=web_default(u-1)",
                ),
            ),
            id="init-container-same-back-off",
        ),
        pytest.param(
            _pod(),
            PodActions(start=("app",)),
            {},
            T0,
            (StartGate("app", True),),
            id="never-ran-starts-at-once",
        ),
        pytest.param(
            _pod(ObservedContainer(name="app", waiting_reason="ErrImagePull")),
            PodActions(start=("app",)),
            {"app": BackoffEntry(10, T0)},
            T0 + 3,
            (
                StartGate(
                    "app",
                    False,
                    BackoffEntry(10, T0),
                    7.0,
                    "ImagePullBackOff",
                    'Back-off pulling image "busybox:1"',
                ),
            ),
            id="err-image-pull-waits-image-pull-back-off",
        ),
        pytest.param(
            _pod(ObservedContainer(name="app", waiting_reason="ImagePullBackOff")),
            PodActions(start=("app",)),
            {"app": BackoffEntry(10, T0)},
            T0 + 10.5,
            (StartGate("app", True, BackoffEntry(20, T0 + 10.5)),),
            id="image-pull-retried-after-back-off",
        ),
        pytest.param(
            _pod(ObservedContainer(name="app", waiting_reason="ErrImagePull")),
            PodActions(start=("app",)),
            {},
            T0,
            (StartGate("app", False, BackoffEntry(10, T0), 10, "ErrImagePull", ""),),
            id="first-failed-pull-waits-the-base-keeping-its-reason",
        ),
        pytest.param(
            _pod(
                ObservedContainer(
                    name="app", waiting_reason="CreateContainerConfigError", waiting_message="x"
                )
            ),
            PodActions(start=("app",)),
            {"app": BackoffEntry(20, T0)},
            T0 + 5,
            (
                StartGate(
                    "app", False, BackoffEntry(20, T0), 15.0, "CreateContainerConfigError", "x"
                ),
            ),
            id="config-error-keeps-its-reason-while-held",
        ),
        pytest.param(
            _pod(
                ObservedContainer(
                    name="app",
                    waiting_reason="ErrImagePull",
                    restart_count=1,
                    last_termination=Termination(
                        exit_code=1, started_at=T0 - 100, finished_at=T0 - 99
                    ),
                )
            ),
            PodActions(start=("app",), restarts=("app",)),
            {"app": BackoffEntry(10, T0)},
            T0 + 1,
            (
                StartGate(
                    "app",
                    False,
                    BackoffEntry(10, T0),
                    9.0,
                    "ImagePullBackOff",
                    'Back-off pulling image "busybox:1"',
                ),
            ),
            id="restart-whose-pull-failed-waits-since-the-attempt-not-the-exit",
        ),
    ],
)
def test_gate_starts(
    observed: ObservedPod,
    todo: PodActions,
    entries: dict[str, BackoffEntry],
    now: float,
    expected: tuple[StartGate, ...],
) -> None:
    got = supervision.gate_starts(PLAN, observed, todo, entries, policy=POLICY, now=now)
    assert got == expected


def test_sidecar_and_app_are_gated_apart() -> None:
    todo = PodActions(start_init="init", start=("app",), restarts=("init", "app"))
    observed = _pod(exited("init", at=T0), exited("app", at=T0))
    entries = {"init": BackoffEntry(10, T0 - 1)}
    got = supervision.gate_starts(PLAN, observed, todo, entries, policy=POLICY, now=T0)
    assert [(g.name, g.allowed) for g in got] == [("init", False), ("app", True)]


@pytest.mark.parametrize(
    ("plan", "observed", "expected"),
    [
        pytest.param(
            PLAN, _pod(exited("init", 0), exited("app", 0)), True, id="always-restarts-forever"
        ),
        pytest.param(
            replace(PLAN, restart_policy="OnFailure"),
            _pod(exited("init", 0), exited("app", 0)),
            False,
            id="onfailure-succeeded-done",
        ),
        pytest.param(
            replace(PLAN, restart_policy="Never"),
            _pod(exited("init", 0), exited("app", 1)),
            False,
            id="never-failed-done",
        ),
        pytest.param(
            replace(PLAN, restart_policy="Never"),
            _pod(exited("init", 0), replace(exited("app"), state=ContainerState.RUNNING)),
            True,
            id="never-running-still-supervised",
        ),
        pytest.param(PLAN, _pod(), True, id="pending-init-supervised"),
        pytest.param(PLAN, replace(_pod(), terminating=True), False, id="terminating-left-to-down"),
    ],
)
def test_needs_supervision(plan: PodPlan, observed: ObservedPod, expected: bool) -> None:
    assert supervision.needs_supervision(plan, observed) is expected
