"""The Job and CronJob controllers on the loop, with the pod controller, the fakes, a real
store and a fake clock (no root): pods made and started, never more active than
parallelism, completion; back-off between failed pods and backoffLimit; the TTL; a CronJob
making its Job at its schedule time and the Job's pods; a Job whose CronJob is gone. The
supervisor's controllers are made once a workload object is stored
(`reconcile.deferred_workload_controllers`): a Job runs through them, and a Job's pods left
by a Job deleted meanwhile (an owned object opens that gate too) are deleted."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubeplay.engine import ownedpods, reconcile
from kubeplay.engine.controllers.cronjobs import CronJobController
from kubeplay.engine.controllers.jobs import JobController, job_key
from kubeplay.engine.controllers.pods import PodController, pod_key
from kubeplay.engine.loop import Loop
from kubeplay.kube import defaults
from kubeplay.plan import job as job_plan
from kubeplay.plan.backoff import BackoffPolicy
from kubeplay.plan.images import ImageConfig
from kubeplay.plan.job import JobBackoff
from kubeplay.state.store import ObjectRecord, PodRecord
from kubeplay.testing import FakeClock, FakeHost, FakeImageStore, fake_host, new_uid

# 2026-12-06 10:00:00 UTC, a full hour
T0 = dt.datetime(2026, 12, 6, 10, 0, tzinfo=dt.UTC).timestamp()


def _job(name: str = "pi", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{"name": "main", "image": "busybox", "command": ["sh"]}],
                }
            },
            **spec,
        },
    }


class Env:
    def __init__(self, tmp_path: Path) -> None:
        images = FakeImageStore({"busybox": ImageConfig(cmd=("sh",))})
        self.fakes: FakeHost = fake_host(tmp_path, clock=FakeClock(T0), images=images)
        self.host = self.fakes.host
        self.clock = self.fakes.clock
        self.runtime = self.fakes.runtime
        self.pods = PodController(
            self.host, policy=BackoffPolicy(base=10.0, cap=300.0), watchers=[ownedpods.owner_keys]
        )
        self.jobs = JobController(self.host, clock=self.clock, backoff=JobBackoff())
        self.cronjobs = CronJobController(self.host, clock=self.clock)
        self.loop = Loop(
            [self.pods, self.jobs, self.cronjobs], workers=2, clock=self.clock, resync={}
        )

    def put(self, body: dict[str, Any], *, created_at: float | None = None) -> ObjectRecord:
        uid = new_uid()
        at = self.clock() if created_at is None else created_at
        live = defaults.default_object(body)
        live["metadata"].update(uid=uid, creationTimestamp=job_plan.rfc3339(at), generation=1)
        rec = ObjectRecord(
            uid=uid,
            api_group="batch",
            kind=body["kind"],
            namespace="default",
            name=body["metadata"]["name"],
            body=live,
            source="apply:test",
            last_applied=body,
            created_at=at,
        )
        self.host.store.put_records([rec])
        return rec

    def get(self, kind: str, name: str) -> ObjectRecord | None:
        return self.host.store.get_record("batch", kind, "default", name)

    def status(self, kind: str, name: str) -> dict[str, Any]:
        rec = self.get(kind, name)
        assert rec is not None
        return dict(rec.body.get("status") or {})

    def pods_of(self, uid: str) -> list[PodRecord]:
        return ownedpods.owned(self.host.store, uid)

    def running(self, uid: str) -> list[PodRecord]:
        names = {p.uid: p for p in self.pods_of(uid)}
        return [names[u] for u, n in self.runtime.running() if u in names and n == "main"]

    def finish(self, pod: PodRecord, code: int) -> None:
        self.runtime.exit(pod.uid, "main", code)
        self.loop.add([pod_key(pod.namespace, pod.name)])

    def settle(self) -> None:
        self.loop.request_full()
        asyncio.run(self.loop.drain())


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path)
    yield e
    e.host.close()


def test_completions_3_parallelism_2_never_runs_more_than_2(env: Env) -> None:
    rec = env.put(_job(completions=3, parallelism=2))
    env.settle()
    most = 0
    for _ in range(5):
        running = env.running(rec.uid)
        most = max(most, len(running))
        if not running:
            break
        env.clock.advance(1.0)
        env.finish(running[0], 0)
        env.settle()
    assert most == 2
    status = env.status("Job", "pi")
    assert status["succeeded"] == 3
    assert [c["type"] for c in status["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    assert len(env.pods_of(rec.uid)) == 3
    names = sorted(p.name for p in env.pods_of(rec.uid))
    assert all(n.startswith("pi-") and len(n) == len("pi-") + 5 for n in names)
    pod = env.pods_of(rec.uid)[0]
    assert pod.manifest["metadata"]["labels"][job_plan.JOB_NAME_LABEL] == "pi"
    assert env.jobs.needed() is False
    reasons = [e.reason for e in env.host.store.list_events(rec.uid)]
    assert reasons.count("SuccessfulCreate") == 3 and "Completed" in reasons


def test_backoff_between_failed_pods_then_backoff_limit_fails_it(env: Env) -> None:
    rec = env.put(_job(backoffLimit=1))
    env.settle()
    (first,) = env.running(rec.uid)
    env.finish(first, 1)
    env.settle()
    assert env.running(rec.uid) == []  # waits 10 s before the next pod
    env.clock.advance(9.0)
    env.settle()
    assert env.running(rec.uid) == []
    env.clock.advance(1.5)
    env.settle()
    (second,) = env.running(rec.uid)
    env.clock.advance(1.0)
    env.finish(second, 1)
    env.settle()
    status = env.status("Job", "pi")
    assert status["failed"] == 2
    assert (status["conditions"][-1]["type"], status["conditions"][-1]["reason"]) == (
        "Failed",
        "BackoffLimitExceeded",
    )
    assert env.running(rec.uid) == []
    assert len(env.pods_of(rec.uid)) == 2  # failed pods are kept for their logs


def test_ttl_after_finished_deletes_job_and_pods(env: Env) -> None:
    rec = env.put(_job(ttlSecondsAfterFinished=30))
    env.settle()
    (pod,) = env.running(rec.uid)
    env.finish(pod, 0)
    env.settle()
    assert "Complete" in [c["type"] for c in env.status("Job", "pi")["conditions"]]
    assert env.jobs.needed() is True  # its TTL is still to come
    env.clock.advance(31.0)
    env.settle()
    assert env.get("Job", "pi") is None
    assert env.pods_of(rec.uid) == []


def test_indexed_job_gives_each_pod_its_index(env: Env) -> None:
    rec = env.put(_job(completions=2, parallelism=2, completionMode="Indexed"))
    env.settle()
    pods = sorted(env.pods_of(rec.uid), key=lambda p: p.name)
    assert [p.name.rsplit("-", 1)[0] for p in pods] == ["pi-0", "pi-1"]
    spec = pods[1].manifest["spec"]
    assert spec["hostname"] == "pi-1"
    assert spec["containers"][0]["env"][0]["name"] == "JOB_COMPLETION_INDEX"


def test_cronjob_makes_its_job_at_the_schedule_time(env: Env) -> None:
    body = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "tick", "namespace": "default"},
        "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": _job()["spec"]}},
    }
    cj = env.put(body, created_at=T0 + 30)
    env.settle()
    assert env.host.store.list_records(["Job"]) == []
    assert env.loop.timers.get(env.cronjobs.keys()[0]) == pytest.approx(T0 + 300.1)
    env.clock.advance(300.1)
    asyncio.run(env.loop.drain())  # the timer, not a trigger
    name = f"tick-{int(T0 + 300) // 60}"
    job = env.get("Job", name)
    assert job is not None and job.owner_uid == cj.uid
    annotations = job.body["metadata"]["annotations"]
    assert annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"] == "2026-12-06T10:05:00Z"
    assert len(env.running(job.uid)) == 1  # the Job controller made and started its pod
    assert env.status("CronJob", "tick")["lastScheduleTime"] == "2026-12-06T10:05:00Z"
    assert [r["name"] for r in env.status("CronJob", "tick")["active"]] == [name]
    # its Job finishing updates the CronJob's status at once (no resync, no timer)
    (pod,) = env.running(job.uid)
    env.finish(pod, 0)
    asyncio.run(env.loop.drain())
    status = env.status("CronJob", "tick")
    assert "active" not in status
    assert status["lastSuccessfulTime"] == job_plan.rfc3339(env.clock())
    # the CronJob goes: its Job and the Job's pods go too
    env.host.store.delete_records([cj.uid])
    env.settle()
    env.settle()
    assert env.host.store.list_records(["Job"]) == []
    assert env.runtime.running() == []


# --- the supervisor's deferred workload controllers -----------------------------------------


class Deferred:
    """The supervisor's workload controllers on a loop beside the pod controller; `made`
    counts how often `workload_controllers` ran."""

    def __init__(self, env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
        self.made = 0
        real = reconcile.workload_controllers

        def counted(*args: Any, **kwargs: Any) -> list[reconcile.WorkloadController]:
            self.made += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(reconcile, "workload_controllers", counted)
        self.controllers = reconcile.deferred_workload_controllers(
            env.host, clock=env.clock, wait=False
        )
        self.loop = Loop([env.pods, *self.controllers], workers=2, clock=env.clock, resync={})

    def settle(self) -> None:
        self.loop.request_full()
        asyncio.run(self.loop.drain())


def test_no_controller_is_made_while_no_workload_object_is_stored(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    deferred = Deferred(env, monkeypatch)
    deferred.settle()
    assert [c.keys() for c in deferred.controllers] == [[]] * len(reconcile.WORKLOAD_KINDS)
    assert not any(c.needed() for c in deferred.controllers)
    assert reconcile.any_needed(env.host) is False
    assert deferred.made == 0

    env.put(_job())
    job = next(c for c in deferred.controllers if "Job" in c.kinds)
    assert job.keys() == [job_key("default", "pi")]
    assert job.needed() is True
    assert reconcile.any_needed(env.host) is True
    assert deferred.made == 2  # the deferred ones once, any_needed its own


def test_a_job_runs_to_completion_through_deferred_controllers(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    deferred = Deferred(env, monkeypatch)
    rec = env.put(_job(completions=2, parallelism=2))
    deferred.settle()
    running = env.running(rec.uid)
    assert len(running) == 2
    for pod in running:
        env.runtime.exit(pod.uid, "main", 0)
    deferred.settle()
    status = env.status("Job", "pi")
    assert status["succeeded"] == 2
    assert [c["type"] for c in status["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    assert deferred.made == 1


def test_the_pods_of_a_job_deleted_meanwhile_are_deleted_by_the_next_supervisor(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = env.put(_job(completions=1))
    env.settle()  # the test's own eager controllers: the Job's pod runs
    (pod,) = env.pods_of(rec.uid)
    env.host.store.delete_records([rec.uid])  # no Job record left, its pod is an orphan
    deferred = Deferred(env, monkeypatch)  # a supervisor started afterwards
    job = next(c for c in deferred.controllers if "Job" in c.kinds)
    assert job.keys() == [job_key("default", "pi")]
    deferred.settle()
    left = env.host.store.get_pod(pod.namespace, pod.name)
    assert left is None or left.lifecycle == "terminating"
