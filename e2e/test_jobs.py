"""Jobs and CronJobs end to end: the supervisor's controllers run real pods to completion.

A Job with completions 4 and parallelism 2 never has more than 2 pods running and completes
(`wait --for=condition=complete`, `get jobs`); backoffLimit fails a Job whose pods exit 1;
a `* * * * *` CronJob fires, the supervisor's clock moved by the test-only
KUBEPLAY_TEST_CLOCK_OFFSET so that the next minute is seconds away (no minute-long wait),
and its Job's pod runs; `down` removes Jobs, CronJobs and their pods. A supervisor killed
mid-Job or mid-run of a CronJob leaves no duplicate pod nor a second Job for one schedule;
play of a Job whose pod cannot start fails and leaves nothing, while under apply such a pod
ends in StartError and fails the Job.
"""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

import pytest

from e2e.conftest import IMAGE, Kubeplay

pytestmark = pytest.mark.root


def _job(name: str, *, script: str, extra: str = "", policy: str = "Never") -> str:
    return f"""
apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
spec:
{extra}
  template:
    spec:
      restartPolicy: {policy}
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: {IMAGE}
        command: ["sh", "-c", "{script}"]
"""


def _pods_of(kp: Kubeplay, job: str) -> list[dict[str, Any]]:
    doc = json.loads(kp.ok("get", "pods", "-o", "json"))
    return [
        p
        for p in doc.get("items", [])
        if p["metadata"].get("labels", {}).get("batch.kubernetes.io/job-name") == job
    ]


def _job_status(kp: Kubeplay, name: str) -> dict[str, Any]:
    doc = json.loads(kp.ok("get", "job", name, "-o", "json"))
    status: dict[str, Any] = doc.get("status", {})
    return status


def test_completions_4_parallelism_2_never_runs_more_than_2_and_completes(kp: Kubeplay) -> None:
    path = kp.write(
        "job.yaml", _job("pi", script="sleep 1", extra="  completions: 4\n  parallelism: 2")
    )
    out = kp.play(path)
    assert "job.batch/pi created" in out
    most = 0

    def done() -> bool:
        nonlocal most
        running = [
            p for p in _pods_of(kp, "pi") if p["status"].get("phase") in ("Pending", "Running")
        ]
        most = max(most, len(running))
        conditions = _job_status(kp, "pi").get("conditions", [])
        return any(c["type"] == "Complete" for c in conditions)

    kp.wait_for("job pi complete", done, timeout=120)
    assert most <= 2
    assert kp.ok("wait", "job/pi", "--for=condition=complete", "--timeout=10s").strip() == (
        "job.batch/pi condition met"
    )
    status = _job_status(kp, "pi")
    assert status["succeeded"] == 4
    assert [p["status"]["phase"] for p in _pods_of(kp, "pi")] == ["Succeeded"] * 4
    table = kp.ok("get", "jobs").splitlines()
    assert table[0].split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert table[1].split()[:3] == ["pi", "Complete", "4/4"]
    described = kp.ok("describe", "job", "pi")
    assert "Pods Statuses:    0 Active (0 Ready) / 4 Succeeded / 0 Failed" in described
    uid = json.loads(kp.ok("get", "job", "pi", "-o", "json"))["metadata"]["uid"]
    assert f"Selector:         batch.kubernetes.io/controller-uid={uid}" in described
    assert "SuccessfulCreate" in described and "Completed" in described
    generated = kp.ok("generate", "kube")  # the Job comes back, not its pods
    assert "kind: Job" in generated and "kind: Pod" not in generated
    kp.ok("down", str(path))
    assert _pods_of(kp, "pi") == []
    assert kp("get", "job", "pi").returncode != 0


def test_backoff_limit_fails_the_job(kp: Kubeplay) -> None:
    kp.env["KUBEPLAY_BACKOFF_BASE"] = "0.5"  # the pod failure back-off follows it
    path = kp.write("fail.yaml", _job("bad", script="exit 1", extra="  backoffLimit: 1"))
    kp.play(path)
    kp.ok("wait", "job/bad", "--for=condition=failed", "--timeout=90s", timeout=120)
    status = _job_status(kp, "bad")
    assert status["failed"] == 2
    failed = [c for c in status["conditions"] if c["type"] == "Failed"]
    assert failed[0]["reason"] == "BackoffLimitExceeded"
    assert [p["status"]["phase"] for p in _pods_of(kp, "bad")] == ["Failed", "Failed"]
    res = kp("wait", "job/bad", "--for=condition=complete", "--timeout=1s")
    assert res.returncode != 0 and "timed out" in res.stderr
    kp.ok("down", str(path))


def test_a_pod_the_runtime_cannot_start_fails_the_job_as_start_error(kp: Kubeplay) -> None:
    """apply leaves the Job's pods to its controller: the runtime cannot start the pod's
    container (no such executable), which ends as containerd ends it (terminated, exit code
    128, reason StartError); under restartPolicy Never it is not started again, the pod is
    Failed and, with backoffLimit 0, the Job fails (BackoffLimitExceeded)."""
    kp.env["KUBEPLAY_BACKOFF_BASE"] = "0.5"
    body = _job("bad", script="true", extra="  backoffLimit: 0")
    path = kp.write("bad.yaml", body.replace('["sh", "-c", "true"]', '["/nonexistent"]'))
    assert kp.ok("apply", "-f", str(path)).strip() == "job.batch/bad created"
    kp.ok("wait", "job/bad", "--for=condition=failed", "--timeout=60s", timeout=90)
    status = _job_status(kp, "bad")
    failed = [c for c in status["conditions"] if c["type"] == "Failed"]
    assert failed[0]["reason"] == "BackoffLimitExceeded"
    assert status["failed"] == 1
    (pod,) = _pods_of(kp, "bad")
    assert pod["status"]["phase"] == "Failed"
    (ctr,) = pod["status"]["containerStatuses"]
    ended = ctr["state"]["terminated"]
    assert (ended["reason"], ended["exitCode"]) == ("StartError", 128)
    assert '"/nonexistent"' in ended["message"]
    assert ctr["restartCount"] == 0 and ctr["lastState"] == {}
    name = pod["metadata"]["name"]
    row = next(ln for ln in kp.ok("get", "pods").splitlines() if ln.startswith(name))
    assert row.split()[1:4] == ["0/1", "StartError", "0"]
    assert kp.ok("logs", name) == ""
    kp.ok("delete", "-f", str(path))  # background: the pod goes afterwards
    kp.wait_for("the Job's pod gone", lambda: _pods_of(kp, "bad") == [], timeout=60)


def test_play_of_a_job_whose_pod_cannot_start_fails_and_removes_it(kp: Kubeplay) -> None:
    """play runs a new Job's first pod at once, as it runs a Pod: one the runtime cannot
    start (no such executable) fails the play, exit 1, and nothing is left; apply leaves
    the Job to its controller, as a cluster does."""
    body = _job("migrate", script="true").replace('["sh", "-c", "true"]', '["/nonexistent"]')
    path = kp.write("migrate.yaml", body)
    res = kp("play", str(path))
    assert res.returncode == 1, res
    assert '"/nonexistent"' in res.stderr
    assert "(everything this play created was removed)" in res.stderr
    assert kp("get", "job", "migrate").returncode == 1
    assert _pods_of(kp, "migrate") == []
    kp.applied.append(str(path))
    assert kp.ok("apply", "-f", str(path)).strip() == "job.batch/migrate created"
    assert kp.wait_for("the Job's pod", lambda: _pods_of(kp, "migrate"), timeout=30)
    kp.ok("delete", "-f", str(path))


def test_cronjob_fires_on_its_schedule(kp: Kubeplay) -> None:
    # the supervisor's clock: 3 s before the next minute of the real clock
    kp.env["KUBEPLAY_TEST_CLOCK_OFFSET"] = str(60 - time.time() % 60 - 3)
    path = kp.write(
        "cron.yaml",
        f"""
        apiVersion: batch/v1
        kind: CronJob
        metadata:
          name: tick
        spec:
          schedule: "* * * * *"
          timeZone: Etc/UTC
          jobTemplate:
            spec:
              template:
                spec:
                  restartPolicy: OnFailure
                  terminationGracePeriodSeconds: 1
                  containers:
                  - name: main
                    image: {IMAGE}
                    command: ["sh", "-c", "echo tick"]
        """,
    )
    kp.play(path)

    def fired() -> list[str]:
        doc = json.loads(kp.ok("get", "jobs", "-o", "json"))
        return [j["metadata"]["name"] for j in doc.get("items", [])]

    (name,) = kp.wait_for("the CronJob's first Job", fired, timeout=60)
    assert name.startswith("tick-") and name.removeprefix("tick-").isdigit()
    kp.ok("wait", f"job/{name}", "--for=condition=complete", "--timeout=60s", timeout=90)
    (pod,) = _pods_of(kp, name)
    assert kp.ok("logs", pod["metadata"]["name"]).strip() == "tick"
    row = kp.ok("get", "cronjobs").splitlines()
    assert row[0].split() == [
        "NAME",
        "SCHEDULE",
        "TIMEZONE",
        "SUSPEND",
        "ACTIVE",
        "LAST",
        "SCHEDULE",
        "AGE",
    ]
    assert row[1].split()[0] == "tick"
    described = kp.ok("describe", "cronjob", "tick")
    assert "Next Schedule Time:" in described and "Active Jobs:" in described
    assert f"Created job {name}" in described
    assert kp.ok("create", "job", "by-hand", "--from=cronjob/tick").strip() == (
        "job.batch/by-hand created"
    )
    kp.ok("wait", "job/by-hand", "--for=condition=complete", "--timeout=60s", timeout=90)
    kp.ok("down", str(path))
    assert fired() == []
    assert _pods_of(kp, name) == []


def test_apply_wait_returns_once_the_job_is_complete(kp: Kubeplay) -> None:
    path = kp.write("quick.yaml", _job("quick", script="echo done"))
    out = kp.ok("apply", "-f", str(path), "--wait", "--timeout", "90s", timeout=120)
    assert "job.batch/quick created" in out
    conditions = _job_status(kp, "quick")["conditions"]
    assert "Complete" in [c["type"] for c in conditions]
    kp.ok("delete", "-f", str(path))  # background: the pod goes afterwards
    kp.wait_for("the Job's pod gone", lambda: _pods_of(kp, "quick") == [], timeout=60)


def test_indexed_job_pods_know_their_index_and_hostname(kp: Kubeplay) -> None:
    path = kp.write(
        "indexed.yaml",
        _job(
            "idx",
            script="echo $JOB_COMPLETION_INDEX $(hostname)",
            extra="  completions: 2\n  parallelism: 2\n  completionMode: Indexed",
        ),
    )
    kp.play(path)
    kp.ok("wait", "job/idx", "--for=condition=complete", "--timeout=90s", timeout=120)
    assert _job_status(kp, "idx")["completedIndexes"] == "0-1"
    lines = sorted(kp.ok("logs", p["metadata"]["name"]).strip() for p in _pods_of(kp, "idx"))
    assert lines == ["0 idx-0", "1 idx-1"]
    kp.ok("down", str(path))


def test_a_killed_supervisor_leaves_no_duplicate_pods(kp: Kubeplay) -> None:
    path = kp.write(
        "steps.yaml", _job("steps", script="sleep 2", extra="  completions: 3\n  parallelism: 1")
    )
    kp.play(path)
    kp.wait_for("the first pod", lambda: _pods_of(kp, "steps"), timeout=60)
    first = kp.wait_for("a supervisor", kp.supervisor_pid, timeout=10)
    os.kill(first, signal.SIGKILL)  # mid-Job: its first pod runs
    kp.ok("wait", "job/steps", "--for=condition=complete", "--timeout=120s", timeout=150)
    pods = _pods_of(kp, "steps")
    assert [p["status"]["phase"] for p in pods] == ["Succeeded"] * 3
    assert _job_status(kp, "steps")["succeeded"] == 3
    kp.ok("down", str(path))


def test_a_supervisor_killed_during_a_cronjobs_run_starts_no_second_job(kp: Kubeplay) -> None:
    """kill -9 of the supervisor while a CronJob's Job runs: the next supervisor (started by
    the next command) finds the run already made (its Job name is the scheduled minute) and
    makes no other for that time; the Job completes with one pod. The schedule matches one
    minute a day, so no later run can come in the test."""
    offset = 60 - time.time() % 60 - 3  # the supervisor's clock: 3 s before a minute
    kp.env["KUBEPLAY_TEST_CLOCK_OFFSET"] = str(offset)
    due = time.gmtime(time.time() + offset + 4)  # within the minute due
    path = kp.write(
        "nightly.yaml",
        f"""
        apiVersion: batch/v1
        kind: CronJob
        metadata:
          name: nightly
        spec:
          schedule: "{due.tm_min} {due.tm_hour} * * *"
          timeZone: Etc/UTC
          jobTemplate:
            spec:
              template:
                spec:
                  restartPolicy: Never
                  terminationGracePeriodSeconds: 1
                  containers:
                  - name: main
                    image: {IMAGE}
                    command: ["sh", "-c", "sleep 3"]
        """,
    )
    kp.play(path)

    def jobs() -> list[str]:
        doc = json.loads(kp.ok("get", "jobs", "-o", "json"))
        return [j["metadata"]["name"] for j in doc.get("items", [])]

    (name,) = kp.wait_for("the CronJob's Job", jobs, timeout=60)
    kp.wait_for("its pod", lambda: _pods_of(kp, name), timeout=30)
    first = kp.wait_for("a supervisor", kp.supervisor_pid, timeout=10)
    os.kill(first, signal.SIGKILL)  # mid-run: the Job's pod sleeps
    kp.ok("wait", f"job/{name}", "--for=condition=complete", "--timeout=90s", timeout=120)
    assert kp.wait_for("a new supervisor", kp.supervisor_pid, timeout=10) != first
    assert jobs() == [name]
    assert len(_pods_of(kp, name)) == 1
    cronjob = json.loads(kp.ok("get", "cronjob", "nightly", "-o", "json"))
    assert cronjob["status"].get("active") in (None, [])
    kp.ok("down", str(path))
