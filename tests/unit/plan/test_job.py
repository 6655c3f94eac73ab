"""The Job controller's decisions (plan.job), table-tested on a fake clock.

Each case is a Job, its pods as observed and `now`; the expected pods to create and delete,
conditions and counters are what kube-controller-manager's syncJob does on one node.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubeplay.plan import job as plan
from kubeplay.plan.job import FAILED, PENDING, RUNNING, SUCCEEDED, JobBackoff, JobPod

T0 = 1_800_000_000.0


def _job(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "pi", "namespace": "default"},
        "spec": {
            "backoffLimit": 6,
            "template": {
                "metadata": {"labels": {"app": "pi"}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "main", "image": "busybox"}],
                },
            },
        },
    }
    status = spec.pop("status", None)
    body["spec"].update(spec)
    if status is not None:
        body["status"] = status
    return body


def _started(**spec: Any) -> dict[str, Any]:
    return _job(status={"startTime": plan.rfc3339(T0)}, **spec)


def _pod(name: str, phase: str, *, at: float = T0, **kw: Any) -> JobPod:
    finished = at + 1 if phase in (SUCCEEDED, FAILED) else None
    return JobPod(
        name=name, phase=phase, created_at=at, finished_at=kw.pop("finished_at", finished), **kw
    )


def _types(actions: plan.JobActions) -> list[tuple[str, str]]:
    return [(c["type"], c["reason"]) for c in actions.status.get("conditions", [])]


def test_new_job_starts_one_pod_and_records_start_time() -> None:
    actions = plan.compute_job_actions(_job(), [], now=T0)
    assert actions.create == (None,)
    assert actions.status["startTime"] == plan.rfc3339(T0)
    assert actions.status["active"] == 1


@pytest.mark.parametrize(
    ("spec", "pods", "create", "delete"),
    [
        pytest.param(
            {"completions": 3, "parallelism": 2}, [], (None, None), (), id="parallelism-caps-active"
        ),
        pytest.param(
            {"completions": 3, "parallelism": 2},
            [_pod("a", SUCCEEDED), _pod("b", SUCCEEDED), _pod("c", RUNNING)],
            (),
            (),
            id="never-more-than-remaining-completions",
        ),
        pytest.param(
            {"completions": 3, "parallelism": 2},
            [_pod("a", SUCCEEDED), _pod("b", RUNNING)],
            (None,),
            (),
            id="a-success-makes-room",
        ),
        pytest.param(
            {"completions": 2, "parallelism": 3},
            [
                _pod("a", RUNNING, at=T0),
                _pod("b", PENDING, at=T0 + 1),
                _pod("c", RUNNING, at=T0 + 2),
            ],
            (),
            ("b",),
            id="excess-active-removed-pending-first",
        ),
        pytest.param(
            {"parallelism": 2, "completions": None},
            [],
            (None, None),
            (),
            id="work-queue-runs-parallelism",
        ),
        pytest.param(
            {"parallelism": 2, "completions": None},
            [_pod("a", SUCCEEDED), _pod("b", RUNNING)],
            (),
            (),
            id="work-queue-after-a-success-makes-no-more",
        ),
        pytest.param(
            {"completions": 3, "parallelism": 2},
            [_pod("a", RUNNING, terminating=True)],
            (None, None),
            (),
            id="terminating-pods-are-not-active",
        ),
    ],
)
def test_manage_pods(
    spec: dict[str, Any],
    pods: list[JobPod],
    create: tuple[int | None, ...],
    delete: tuple[str, ...],
) -> None:
    actions = plan.compute_job_actions(_started(**spec), pods, now=T0 + 5)
    assert actions.create == create
    assert actions.delete == delete


def test_completes_once_completions_reached() -> None:
    pods = [_pod("a", SUCCEEDED), _pod("b", SUCCEEDED), _pod("c", SUCCEEDED)]
    actions = plan.compute_job_actions(_started(completions=3, parallelism=2), pods, now=T0 + 10)
    assert _types(actions) == [
        ("SuccessCriteriaMet", "CompletionsReached"),
        ("Complete", "CompletionsReached"),
    ]
    assert actions.status["succeeded"] == 3
    assert actions.status["completionTime"] == plan.rfc3339(T0 + 10)
    assert "active" not in actions.status


def test_success_criteria_first_then_complete_after_pods_stop() -> None:
    job = _started(completions=1, parallelism=2)
    pods = [_pod("a", SUCCEEDED), _pod("b", RUNNING)]
    first = plan.compute_job_actions(job, pods, now=T0 + 5)
    assert first.delete == ("b",)
    assert _types(first) == [("SuccessCriteriaMet", "CompletionsReached")]
    job["status"] = first.status
    stopping = plan.compute_job_actions(
        job, [pods[0], _pod("b", RUNNING, terminating=True)], now=T0 + 6
    )
    assert _types(stopping) == [("SuccessCriteriaMet", "CompletionsReached")]
    job["status"] = stopping.status
    done = plan.compute_job_actions(job, [pods[0], _pod("b", FAILED)], now=T0 + 7)
    assert ("Complete", "CompletionsReached") in _types(done)


@pytest.mark.parametrize(
    ("failures", "now", "create", "wait"),
    [
        pytest.param(1, T0 + 2, (), 10.0, id="first-failure-waits-10s"),
        pytest.param(1, T0 + 11, (None,), None, id="after-10s-a-new-pod"),
        pytest.param(2, T0 + 11, (), 20.0, id="second-failure-waits-20s"),
        pytest.param(3, T0 + 11, (), 40.0, id="third-failure-waits-40s"),
        pytest.param(8, T0 + 1, (), 600.0, id="capped-at-10-minutes"),
    ],
)
def test_pod_failure_backoff(
    failures: int, now: float, create: tuple[int | None, ...], wait: float | None
) -> None:
    # every failed pod finished at T0 + 1
    pods = [_pod(f"p{i}", FAILED) for i in range(failures)]
    actions = plan.compute_job_actions(_started(backoffLimit=10), pods, now=now)
    assert actions.create == create
    if wait is not None:
        assert actions.requeue_after == pytest.approx(T0 + 1 + wait - now)


def test_backoff_restarts_after_a_success() -> None:
    pods = [
        _pod("a", FAILED, finished_at=T0),
        _pod("b", SUCCEEDED, finished_at=T0 + 20),
        _pod("c", FAILED, finished_at=T0 + 30),
    ]
    assert plan.backoff_remaining(pods, now=T0 + 30, policy=JobBackoff()) == 10.0


def test_backoff_limit_exceeded_fails_the_job() -> None:
    job = _started(backoffLimit=2)
    pods = [_pod(f"p{i}", FAILED) for i in range(3)]
    actions = plan.compute_job_actions(job, pods, now=T0 + 60)
    assert _types(actions) == [
        ("FailureTarget", "BackoffLimitExceeded"),
        ("Failed", "BackoffLimitExceeded"),
    ]
    assert actions.status["failed"] == 3
    assert "completionTime" not in actions.status
    assert (
        plan.JobEvent(
            "Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit"
        )
        in actions.events
    )


def test_backoff_limit_counts_restarts_with_on_failure() -> None:
    job = _started(backoffLimit=2)
    job["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    below = plan.compute_job_actions(job, [_pod("a", RUNNING, restarts=1)], now=T0 + 5)
    assert _types(below) == []
    at = plan.compute_job_actions(job, [_pod("a", RUNNING, restarts=2)], now=T0 + 5)
    assert at.delete == ("a",)
    assert _types(at) == [("FailureTarget", "BackoffLimitExceeded")]


def test_active_deadline_fails_and_stops_pods() -> None:
    job = _started(activeDeadlineSeconds=30, completions=2, parallelism=2)
    pods = [_pod("a", RUNNING), _pod("b", RUNNING)]
    before = plan.compute_job_actions(job, pods, now=T0 + 10)
    assert before.requeue_after == 20.0
    after = plan.compute_job_actions(job, pods, now=T0 + 30)
    assert set(after.delete) == {"a", "b"}
    assert _types(after) == [("FailureTarget", "DeadlineExceeded")]


def test_ttl_after_finished_deletes_the_job() -> None:
    job = _started(ttlSecondsAfterFinished=100)
    done = plan.compute_job_actions(job, [_pod("a", SUCCEEDED)], now=T0 + 10)
    assert done.requeue_after == 100.0
    job["status"] = done.status
    waiting = plan.compute_job_actions(job, [_pod("a", SUCCEEDED)], now=T0 + 50)
    assert (waiting.delete_job, waiting.requeue_after) == (False, 60.0)
    gone = plan.compute_job_actions(job, [_pod("a", SUCCEEDED)], now=T0 + 110)
    assert gone.delete_job


def test_pod_failure_policy_ignore_and_fail_job() -> None:
    policy = {
        "rules": [
            {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [42]}},
            {
                "action": "FailJob",
                "onExitCodes": {"containerName": "main", "operator": "In", "values": [3]},
            },
        ]
    }
    job = _started(backoffLimit=0, podFailurePolicy=policy)
    ignored = plan.compute_job_actions(
        job, [_pod("a", FAILED, exit_codes=(("main", 42),))], now=T0 + 5
    )
    assert _types(ignored) == []
    assert ignored.create == (None,)  # an ignored failure is no back-off either
    assert "failed" not in ignored.status
    fail = plan.compute_job_actions(job, [_pod("a", FAILED, exit_codes=(("main", 3),))], now=T0 + 5)
    assert _types(fail)[0] == ("FailureTarget", "PodFailurePolicy")
    assert fail.status["conditions"][0]["message"] == (
        "Container main for pod default/a failed with exit code 3 matching FailJob rule at index 1"
    )


def test_indexed_job_creates_missing_indexes() -> None:
    job = _started(completions=4, parallelism=2, completionMode="Indexed")
    pods = [_pod("pi-0-x", SUCCEEDED, index=0), _pod("pi-1-y", RUNNING, index=1)]
    actions = plan.compute_job_actions(job, pods, now=T0 + 5)
    assert actions.create == (2,)
    assert actions.status["completedIndexes"] == "0"


def test_indexed_job_complete_when_every_index_succeeded() -> None:
    job = _started(completions=3, parallelism=3, completionMode="Indexed")
    pods = [_pod(f"pi-{i}", SUCCEEDED, index=i) for i in (0, 1, 2)]
    actions = plan.compute_job_actions(job, pods, now=T0 + 5)
    assert actions.status["completedIndexes"] == "0-2"
    assert ("Complete", "CompletionsReached") in _types(actions)


def test_suspend_stops_pods_and_resume_resets_start_time() -> None:
    job = _started(suspend=True)
    suspended = plan.compute_job_actions(job, [_pod("a", RUNNING)], now=T0 + 5)
    assert suspended.delete == ("a",)
    assert suspended.create == ()
    assert _types(suspended) == [("Suspended", "JobSuspended")]
    job["status"] = suspended.status
    job["spec"]["suspend"] = False
    resumed = plan.compute_job_actions(job, [], now=T0 + 100)
    assert resumed.create == (None,)
    assert resumed.status["startTime"] == plan.rfc3339(T0 + 100)
    assert resumed.status["conditions"][0]["status"] == "False"


def test_job_pod_indexed_body() -> None:
    job = _job(completionMode="Indexed", completions=2)
    body = plan.job_pod(job, uid="u1", index=1, name="pi-1-abcde")
    meta = body["metadata"]
    assert meta["generateName"] == "pi-1-"
    assert meta["labels"][plan.COMPLETION_INDEX] == "1"
    assert meta["annotations"][plan.COMPLETION_INDEX] == "1"
    assert meta["labels"][plan.JOB_NAME_LABEL] == "pi"
    assert meta["labels"]["app"] == "pi"
    assert meta["ownerReferences"][0]["kind"] == "Job"
    assert body["spec"]["hostname"] == "pi-1"
    env = body["spec"]["containers"][0]["env"]
    assert env[0]["name"] == "JOB_COMPLETION_INDEX"
    assert "hostname" not in job["spec"]["template"]["spec"]  # the Job is left as it was


@pytest.mark.parametrize(
    ("spec", "status", "expected"),
    [
        pytest.param({"completions": 3}, {"succeeded": 1}, "1/3", id="completions"),
        pytest.param({"completions": None, "parallelism": 2}, {}, "0/1 of 2", id="work-queue"),
        pytest.param({}, {}, "0/1", id="defaults"),
    ],
)
def test_completions_text(spec: dict[str, Any], status: dict[str, Any], expected: str) -> None:
    job = _job(**spec)
    job["status"] = copy.deepcopy(status)
    assert plan.completions_text(job) == expected


def test_format_indexes() -> None:
    assert plan.format_indexes([0, 1, 2, 4, 6, 7]) == "0-2,4,6-7"
