"""activeDeadlineSeconds (https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/,
kubelet active_deadline.go pastActiveDeadline): counted from startTime; once passed the pod
is Failed with reason DeadlineExceeded and nothing of it is started again."""

from __future__ import annotations

import pytest

from kubeplay.plan import actions, deadline, status
from kubeplay.plan.observed import ObservedPod
from kubeplay.plan.pods import ContainerKind, ContainerPlan, PodPlan


@pytest.mark.parametrize(
    ("seconds", "started", "now", "exceeded", "left"),
    [
        pytest.param(None, 100.0, 1e9, False, None, id="no-deadline"),
        pytest.param(30, None, 1e9, False, None, id="not-started"),
        pytest.param(30, 100.0, 129.5, False, 0.5, id="before"),
        pytest.param(30, 100.0, 130.0, True, 0.0, id="exactly-at"),
        pytest.param(30, 100.0, 200.0, True, -70.0, id="after"),
    ],
)
def test_deadline(
    seconds: int | None, started: float | None, now: float, exceeded: bool, left: float | None
) -> None:
    assert deadline.deadline_exceeded(seconds, started, now) is exceeded
    assert deadline.seconds_left(seconds, started, now) == left


APP = ContainerPlan(
    name="app", kind=ContainerKind.APP, image="b", image_ref="b", image_id="i",
    pull_policy="Never", argv=("sh",), env=(), working_dir="/", user="",
)  # fmt: skip
POD = PodPlan(uid="u", namespace="default", name="p", hostname="p", containers=(APP,))
FAILED = ObservedPod(
    sandbox_running=True, failed_reason=deadline.REASON, failed_message=deadline.MESSAGE
)


def test_deadline_exceeded_pod_is_failed_with_its_reason() -> None:
    got = status.derive_pod_status(POD, FAILED)
    assert (got["phase"], got["reason"], got["message"]) == (
        "Failed",
        "DeadlineExceeded",
        "Pod was active on the node longer than the specified deadline",
    )
    assert status.summarize(POD, FAILED, phase="Failed").status == "DeadlineExceeded"


def test_deadline_exceeded_pod_starts_nothing() -> None:
    todo = actions.compute_pod_actions(POD, FAILED)
    assert todo.pod_done and not todo.start and not todo.create_sandbox
