"""`describe job|cronjob`'s layout (kubectl's JobDescriber and CronJobDescriber, aligned by
Go's tabwriter): the API server's defaults shown, pods by phase, the pod template; a
CronJob's job template, last and next schedule time and active Jobs."""

from __future__ import annotations

import calendar
import time
from typing import Any

from kubeplay.cli import describe

TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"batch.kubernetes.io/job-name": "pi"}},
    "spec": {
        "restartPolicy": "Never",
        "containers": [{"name": "pi", "image": "busybox", "command": ["sh", "-c", "true"]}],
    },
}
JOB: dict[str, Any] = {
    "kind": "Job",
    "metadata": {
        "name": "pi",
        "namespace": "default",
        "labels": {"batch.kubernetes.io/job-name": "pi"},
        "ownerReferences": [{"kind": "CronJob", "name": "nightly", "controller": True}],
    },
    "spec": {
        "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}},
        "template": TEMPLATE,
    },
    "status": {
        "startTime": "2026-12-06T09:00:00Z",
        "completionTime": "2026-12-06T09:01:05Z",
        "succeeded": 1,
        "conditions": [{"type": "Complete", "status": "True", "reason": "CompletionsReached"}],
    },
}


def test_job_complete() -> None:
    lines = describe.describe_job(JOB, ("Succeeded",), no_events=True).splitlines()
    assert lines[:15] == [
        "Name:             pi",
        "Namespace:        default",
        "Selector:         batch.kubernetes.io/controller-uid=u1",
        "Labels:           batch.kubernetes.io/job-name=pi",
        "Annotations:      <none>",
        "Controlled By:    CronJob/nightly",
        "Parallelism:      1",
        "Completions:      1",
        "Completion Mode:  NonIndexed",
        "Suspend:          false",
        "Backoff Limit:    6",
        "Start Time:       Sun, 06 Dec 2026 09:00:00 +0000",
        "Completed At:     Sun, 06 Dec 2026 09:01:05 +0000",
        "Duration:         65s",
        "Pods Statuses:    0 Active (0 Ready) / 1 Succeeded / 0 Failed",
    ]
    assert lines[15] == "Pod Template:"
    assert "      sh" in lines and "  Complete   True    CompletionsReached" in lines
    assert lines[-1].split() == ["Events:", "<none>"]


def test_job_work_queue_and_indexed_fields() -> None:
    body = {
        **JOB,
        "spec": {**JOB["spec"], "parallelism": 3, "completionMode": "Indexed"},
        "status": {"completedIndexes": "0-1"},
    }
    lines = describe.describe_job(body, ("Running", "Pending")).splitlines()
    assert "Completions:        <unset>" in lines  # parallelism without completions: a queue
    assert "Pods Statuses:      2 Active (1 Ready) / 0 Succeeded / 0 Failed" in lines
    assert "Completed Indexes:  0-1" in lines
    assert not any(line.startswith(("Start Time", "Duration")) for line in lines)


def test_cronjob() -> None:
    body = {
        "kind": "CronJob",
        "metadata": {"name": "nightly", "namespace": "default"},
        "spec": {
            "schedule": "0 3 * * *",
            "timeZone": "Europe/Berlin",
            "jobTemplate": {"spec": {"template": TEMPLATE}},
        },
        "status": {"lastScheduleTime": "2026-12-06T02:00:00Z", "active": [{"name": "n-1"}]},
    }
    next_at = float(calendar.timegm(time.strptime("2026-12-07T02:00:00Z", "%Y-%m-%dT%H:%M:%SZ")))
    lines = describe.describe_cronjob(body, next_at).splitlines()
    assert lines[:13] == [
        "Name:                          nightly",
        "Namespace:                     default",
        "Labels:                        <none>",
        "Annotations:                   <none>",
        "Schedule:                      0 3 * * *",
        "Time Zone:                     Europe/Berlin",
        "Concurrency Policy:            Allow",
        "Suspend:                       False",
        "Successful Job History Limit:  3",
        "Failed Job History Limit:      1",
        "Starting Deadline Seconds:     <unset>",
        "Selector:                      <unset>",
        "Parallelism:                   <unset>",
    ]
    assert lines[-3:] == [
        "Last Schedule Time:  Sun, 06 Dec 2026 02:00:00 +0000",
        "Next Schedule Time:  Mon, 07 Dec 2026 02:00:00 +0000",
        "Active Jobs:         n-1",
    ]
