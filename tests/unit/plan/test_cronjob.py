"""The CronJob controller's decisions (plan.cronjob), table-tested on a fake clock.

Times are Unix seconds; T0 is 2026-12-06 10:00:00 UTC, a full hour.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import pytest

from kubeplay.plan import cronjob as plan
from kubeplay.plan import job as job_plan
from kubeplay.plan.cronjob import ChildJob

UTC = dt.UTC
T0 = dt.datetime(2026, 12, 6, 10, 0, tzinfo=UTC).timestamp()
CREATED = T0 - 3600 + 30  # 09:00:30


def _cj(schedule: str = "*/5 * * * *", **spec: Any) -> dict[str, Any]:
    status = spec.pop("status", None)
    body: dict[str, Any] = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "backup", "namespace": "default"},
        "spec": {
            "schedule": schedule,
            "concurrencyPolicy": "Allow",
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {
                "metadata": {"labels": {"app": "backup"}},
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "OnFailure",
                            "containers": [{"name": "c", "image": "busybox"}],
                        }
                    }
                },
            },
            **spec,
        },
    }
    if status is not None:
        body["status"] = status
    return body


def _sync(
    cj: dict[str, Any], jobs: list[ChildJob], now: float, zone: Any = UTC
) -> plan.CronJobActions:
    return plan.compute_cronjob_actions(
        cj, jobs, uid="cj-uid", created_at=CREATED, now=now, zone=zone
    )


def _last(t: float) -> dict[str, Any]:
    return {"lastScheduleTime": job_plan.rfc3339(t)}


def test_nothing_due_requeues_at_the_next_time_plus_100ms() -> None:
    actions = _sync(_cj(status=_last(T0)), [], now=T0 + 10)
    assert actions.create is None
    assert actions.requeue_after == pytest.approx(290.1)


def test_due_time_creates_its_job() -> None:
    actions = _sync(_cj(status=_last(T0 - 300)), [], now=T0 + 2)
    assert actions.create is not None
    assert actions.create.name == f"backup-{int(T0) // 60}"
    body = actions.create.body
    assert body["metadata"]["annotations"][plan.SCHEDULED_TIMESTAMP] == "2026-12-06T10:00:00Z"
    assert body["metadata"]["labels"] == {"app": "backup"}
    assert body["metadata"]["ownerReferences"][0]["uid"] == "cj-uid"
    assert body["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"
    assert actions.status["lastScheduleTime"] == "2026-12-06T10:00:00Z"
    assert [r["name"] for r in actions.status["active"]] == [actions.create.name]
    assert actions.requeue_after == pytest.approx(298.1)


def test_after_downtime_only_the_latest_missed_time_runs() -> None:
    actions = _sync(_cj(status=_last(T0 - 3600)), [], now=T0 + 7)
    assert actions.create is not None
    assert actions.create.scheduled_at == T0
    assert not [e for e in actions.events if e.reason == "TooManyMissedTimes"]


def test_over_100_missed_warns() -> None:
    actions = _sync(_cj("* * * * *", status=_last(T0 - 200 * 60)), [], now=T0 + 1)
    assert actions.create is not None and actions.create.scheduled_at == T0
    assert [e.message for e in actions.events if e.reason == "TooManyMissedTimes"] == [
        plan.TOO_MANY_MISSED_MESSAGE
    ]


def test_starting_deadline_bounds_the_catch_up() -> None:
    # 200 minutes down, deadline 10 min: no warning, the latest time still runs
    cj = _cj("* * * * *", startingDeadlineSeconds=600, status=_last(T0 - 200 * 60))
    actions = _sync(cj, [], now=T0 + 1)
    assert actions.create is not None and actions.create.scheduled_at == T0
    assert not [e for e in actions.events if e.reason == "TooManyMissedTimes"]


def test_a_time_past_the_starting_deadline_is_skipped() -> None:
    cj = _cj("0 * * * *", startingDeadlineSeconds=60, status=_last(T0 - 3600))
    actions = _sync(cj, [], now=T0 + 120)
    assert actions.create is None


def test_first_run_counts_from_creation() -> None:
    actions = _sync(_cj("0 * * * *"), [], now=T0 + 5)  # created 09:00:30; 10:00 is due
    assert actions.create is not None and actions.create.scheduled_at == T0
    early = _sync(_cj("0 * * * *"), [], now=T0 - 60)
    assert early.create is None


def test_a_job_started_already_is_not_started_again() -> None:
    name = f"backup-{int(T0) // 60}"
    actions = _sync(_cj(status=_last(T0 - 300)), [ChildJob(name=name)], now=T0 + 2)
    assert actions.create is None
    assert actions.status["lastScheduleTime"] == "2026-12-06T10:00:00Z"  # the lost write
    assert actions.requeue_after == pytest.approx(298.1)


def test_forbid_skips_while_a_job_runs() -> None:
    cj = _cj(concurrencyPolicy="Forbid", status=_last(T0 - 300))
    actions = _sync(cj, [ChildJob(name="backup-1")], now=T0 + 2)
    assert actions.create is None
    assert [e.reason for e in actions.events] == ["JobAlreadyActive"]


def test_replace_deletes_the_active_job_first() -> None:
    cj = _cj(concurrencyPolicy="Replace", status=_last(T0 - 300))
    actions = _sync(cj, [ChildJob(name="backup-1")], now=T0 + 2)
    assert actions.delete == ("backup-1",)
    assert actions.create is not None


def test_allow_runs_beside_an_active_job() -> None:
    actions = _sync(_cj(status=_last(T0 - 300)), [ChildJob(name="backup-1")], now=T0 + 2)
    assert actions.delete == ()
    assert actions.create is not None
    assert len(actions.status["active"]) == 2


def test_suspend_creates_nothing_and_waits() -> None:
    actions = _sync(_cj(suspend=True, status=_last(T0 - 300)), [], now=T0 + 2)
    assert actions.create is None
    assert actions.requeue_after is None


def test_history_limits_delete_the_oldest_finished() -> None:
    jobs = [
        ChildJob(name=f"ok-{i}", finished="Complete", started_at=T0 - 1000 + i) for i in range(5)
    ] + [ChildJob(name=f"bad-{i}", finished="Failed", started_at=T0 - 900 + i) for i in range(2)]
    actions = _sync(_cj(status=_last(T0)), jobs, now=T0 + 10)
    assert set(actions.delete) == {"ok-0", "ok-1", "bad-0"}


def test_finished_job_leaves_active_and_sets_last_successful_time() -> None:
    cj = _cj(status={**_last(T0), "active": [{"name": "backup-1"}]})
    jobs = [ChildJob(name="backup-1", finished="Complete", started_at=T0, completed_at=T0 + 5)]
    actions = _sync(cj, jobs, now=T0 + 10)
    assert "active" not in actions.status
    assert actions.status["lastSuccessfulTime"] == job_plan.rfc3339(T0 + 5)
    assert [e.reason for e in actions.events] == ["SawCompletedJob"]


def test_time_zone_names_the_wall_clock() -> None:
    tokyo = zoneinfo.ZoneInfo("Asia/Tokyo")  # 10:00 UTC is 19:00 in Tokyo
    cj = _cj("0 19 * * *", timeZone="Asia/Tokyo", status=_last(T0 - 86400))
    actions = _sync(cj, [], now=T0 + 1, zone=tokyo)
    assert actions.create is not None and actions.create.scheduled_at == T0
    annotations = actions.create.body["metadata"]["annotations"]
    assert annotations[plan.SCHEDULED_TIMESTAMP] == "2026-12-06T19:00:00+09:00"
    in_utc = _sync(_cj("0 19 * * *", status=_last(T0 - 60)), [], now=T0 + 1)
    assert in_utc.create is None  # unset timeZone is UTC


def test_unknown_zone_and_bad_schedule_are_events() -> None:
    assert [e.reason for e in _sync(_cj(timeZone="Mars/Base"), [], now=T0, zone=None).events] == [
        "UnknownTimeZone"
    ]
    bad = _sync(_cj("61 * * * *"), [], now=T0)
    assert [e.reason for e in bad.events] == ["UnparseableSchedule"]
    assert bad.requeue_after is None


def test_schedule_that_never_comes_is_an_invalid_schedule() -> None:
    actions = _sync(_cj("0 0 31 2 *"), [], now=T0)
    assert [e.reason for e in actions.events] == ["InvalidSchedule"]


def test_daylight_saving_spring_forward_skips_the_day() -> None:
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    last = dt.datetime(2026, 3, 28, 2, 30, tzinfo=berlin).timestamp()
    cj = _cj("30 2 * * *", timeZone="Europe/Berlin", status=_last(last))
    now = dt.datetime(2026, 3, 29, 12, 0, tzinfo=berlin).timestamp()
    actions = plan.compute_cronjob_actions(
        cj, [], uid="u", created_at=last - 10, now=now, zone=berlin
    )
    assert actions.create is None
    expected = dt.datetime(2026, 3, 30, 2, 30, tzinfo=berlin).timestamp()
    assert actions.requeue_after == pytest.approx(expected + 0.1 - now)
