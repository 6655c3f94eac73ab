"""The CronJob controller's decisions, as a pure function of the CronJob, its Jobs and `now`.

`compute_cronjob_actions(cronjob, jobs, now=..., zone=...)` is one pass of
kube-controller-manager's `syncCronJob` and `cleanupFinishedJobs`
(`pkg/controller/cronjob/cronjob_controllerv2.go`, `utils.go`):

- `most_recent_schedule_time`: from `lastScheduleTime` (else the creation time), moved up to
  `now - startingDeadlineSeconds` when set, only the most recent missed time is started;
  over 100 missed gives the TooManyMissedTimes warning (the count estimated from the gap
  between the first two times, as Kubernetes does); one later than the deadline is skipped
  (MissSchedule).
- Jobs are named `<cronjob>-<scheduled time in minutes>`, so one schedule never starts twice,
  with the `batch.kubernetes.io/cronjob-scheduled-timestamp` annotation (RFC 3339 in the
  CronJob's zone); concurrencyPolicy Allow, Forbid (JobAlreadyActive) and Replace (the
  active Jobs are deleted first); suspend; successful/failedJobsHistoryLimit delete the
  oldest finished Jobs beyond them.
- requeue at the next schedule time + 100 ms (nextScheduleDelta).

The zone is loaded by the caller (`timeZone`, UTC when unset: a kubeadm or managed cluster's
controller-manager runs in UTC). No I/O, no clock.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubeplay.kube import cron
from kubeplay.plan import job as job_plan

SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"
NEXT_SCHEDULE_DELTA = 0.1  # seconds added to the requeue, as nextScheduleDelta
MANY_MISSED = 100
TOO_MANY_MISSED_MESSAGE = (
    "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew"
)


@dataclass(frozen=True, slots=True)
class ChildJob:
    """A Job the CronJob owns, as observed: `finished` is "Complete", "Failed" or "";
    `started_at` its status.startTime (history limits delete the oldest first)."""

    name: str
    uid: str = ""
    finished: str = ""
    started_at: float | None = None
    completed_at: float | None = None


@dataclass(frozen=True, slots=True)
class CronEvent:
    type: str
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class NewJob:
    name: str
    scheduled_at: float
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CronJobActions:
    """`create` a Job (at most one a sync), `delete` Jobs by name (Replace, history limits),
    write `status`, record `events`, look again after `requeue_after` seconds (None: only
    when something changes: suspended, or a schedule that cannot run)."""

    create: NewJob | None = None
    delete: tuple[str, ...] = ()
    status: dict[str, Any] = field(default_factory=dict)
    events: tuple[CronEvent, ...] = ()
    requeue_after: float | None = None


@dataclass(frozen=True, slots=True)
class MostRecent:
    earliest: float
    time: float | None  # the most recent unmet schedule time, None if none
    missed: int  # 0 none, else the estimated number missed
    error: str = ""


def _spec(cronjob: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = cronjob.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def most_recent_schedule_time(
    schedule: cron.Schedule,
    zone: dt.tzinfo,
    *,
    created_at: float,
    last_schedule: float | None,
    starting_deadline: int | None,
    now: float,
) -> MostRecent:
    """mostRecentScheduleTime (utils.go), in Unix seconds."""
    earliest = last_schedule if last_schedule is not None else created_at
    if starting_deadline is not None:
        earliest = max(earliest, now - starting_deadline)
    t1 = schedule.next(earliest, zone)
    if t1 is None:
        return MostRecent(earliest, None, 0, "no schedule time within five years")
    if now < t1:
        return MostRecent(earliest, None, 0)
    t2 = schedule.next(t1, zone)
    if t2 is None or now < t2:
        return MostRecent(earliest, t1, 0)
    between = round(t2 - t1)
    if between < 1:
        return MostRecent(
            earliest, None, 0, "time difference between two schedules is less than 1 second"
        )
    missed = int(now - t1) // between + 1
    potential = t1 + (missed - 2) * between
    recent: float | None = None
    t = schedule.next(potential, zone)
    while t is not None and t <= now:
        recent = t
        t = schedule.next(t, zone)
    return MostRecent(earliest, recent, missed)


def next_schedule_delay(
    schedule: cron.Schedule,
    zone: dt.tzinfo,
    *,
    created_at: float,
    last_schedule: float | None,
    now: float,
) -> float | None:
    """nextScheduleTimeDuration: seconds to the next schedule time after the last one
    (after now when some were missed), plus 100 ms."""
    recent = most_recent_schedule_time(
        schedule,
        zone,
        created_at=created_at,
        last_schedule=last_schedule,
        starting_deadline=None,
        now=now,
    )
    if recent.error:
        base = now
    elif recent.time is None:
        base = recent.earliest if recent.missed == 0 else now
    else:
        base = recent.time
    following = schedule.next(base, zone)
    if following is None:
        return None
    return max(0.0, following + NEXT_SCHEDULE_DELTA - now)


def job_name(cronjob_name: str, scheduled_at: float) -> str:
    """getJobName: `<cronjob>-<scheduledTime.Unix()/60>`."""
    return f"{cronjob_name}-{int(scheduled_at) // 60}"


def scheduled_timestamp(scheduled_at: float, zone: dt.tzinfo) -> str:
    """RFC 3339 in the CronJob's zone, as Go's time.RFC3339 writes it (Z for UTC)."""
    text = dt.datetime.fromtimestamp(int(scheduled_at), zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def job_from_template(
    cronjob: Mapping[str, Any], *, uid: str, scheduled_at: float, zone: dt.tzinfo
) -> dict[str, Any]:
    """getJobFromTemplate2: the jobTemplate's labels, annotations and spec, the scheduled
    timestamp annotation, owned by the CronJob."""
    meta = cronjob.get("metadata") or {}
    name = str(meta.get("name") or "")
    template = _spec(cronjob).get("jobTemplate") or {}
    tmeta = template.get("metadata") or {}
    annotations = dict(tmeta.get("annotations") or {})
    annotations[SCHEDULED_TIMESTAMP] = scheduled_timestamp(scheduled_at, zone)
    out_meta: dict[str, Any] = {"name": job_name(name, scheduled_at)}
    if meta.get("namespace"):
        out_meta["namespace"] = meta["namespace"]
    if tmeta.get("labels"):
        out_meta["labels"] = dict(tmeta["labels"])
    out_meta["annotations"] = annotations
    out_meta["ownerReferences"] = [
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "name": name,
            "uid": uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": out_meta,
        "spec": copy.deepcopy(dict(template.get("spec") or {})),
    }


def _active_refs(namespace: str, jobs: Sequence[ChildJob]) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": j.name,
            "namespace": namespace,
            "uid": j.uid,
        }
        for j in sorted(jobs, key=lambda j: j.name)
    ]


def _history(jobs: Sequence[ChildJob], kind: str, limit: int | None) -> list[str]:
    """removeOldestJobs: the finished Jobs of `kind` beyond `limit`, oldest start first
    (Jobs without a start time last, names breaking ties)."""
    if limit is None:
        return []
    done = [j for j in jobs if j.finished == kind]
    extra = len(done) - limit
    if extra <= 0:
        return []
    ordered = sorted(done, key=lambda j: (j.started_at is None, j.started_at or 0.0, j.name))
    return [j.name for j in ordered[:extra]]


def compute_cronjob_actions(
    cronjob: Mapping[str, Any],
    jobs: Sequence[ChildJob],
    *,
    uid: str,
    created_at: float,
    now: float,
    zone: dt.tzinfo | None,
) -> CronJobActions:
    """One sync of the CronJob (see the module docstring). `zone` is None when `timeZone`
    names no zone (UnknownTimeZone)."""
    meta = cronjob.get("metadata") or {}
    name = str(meta.get("name") or "")
    namespace = str(meta.get("namespace") or "default")
    spec = _spec(cronjob)
    old: Mapping[str, Any] = cronjob.get("status") or {}
    status: dict[str, Any] = copy.deepcopy(dict(old))
    events: list[CronEvent] = []
    delete: list[str] = []

    was_active = {str(r.get("name")) for r in old.get("active") or () if isinstance(r, Mapping)}
    for j in jobs:
        if j.finished and j.name in was_active:
            events.append(
                CronEvent(
                    "Normal",
                    "SawCompletedJob",
                    f"Saw completed job: {j.name}, condition: {j.finished}",
                )
            )
    successful = [j.completed_at for j in jobs if j.finished == "Complete" and j.completed_at]
    last_success = job_plan.parse_time(old.get("lastSuccessfulTime"))
    if successful and (last_success is None or max(successful) > last_success):
        status["lastSuccessfulTime"] = job_plan.rfc3339(max(successful))
    active = [j for j in jobs if not j.finished]

    history = [
        *_history(jobs, "Complete", _int(spec.get("successfulJobsHistoryLimit"))),
        *_history(jobs, "Failed", _int(spec.get("failedJobsHistoryLimit"))),
    ]

    def done(requeue: float | None = None, create: NewJob | None = None) -> CronJobActions:
        gone = set(delete) | set(history)
        alive = [j for j in active if j.name not in gone]
        if create is not None:
            alive.append(ChildJob(name=create.name))
        status["active"] = _active_refs(namespace, alive)
        for name_ in history:
            events.append(CronEvent("Normal", "SuccessfulDelete", f"Deleted job {name_}"))
        return CronJobActions(
            create=create,
            delete=tuple(dict.fromkeys([*delete, *history])),
            status={k: v for k, v in status.items() if v not in ([], None, "")},
            events=tuple(events),
            requeue_after=requeue,
        )

    if zone is None:
        events.append(
            CronEvent("Warning", "UnknownTimeZone", f"invalid timeZone: {spec.get('timeZone')!r}")
        )
        return done()
    try:
        schedule = cron.parse(str(spec.get("schedule") or ""))
    except cron.CronError as err:
        events.append(
            CronEvent(
                "Warning",
                "UnparseableSchedule",
                f"unparseable schedule: {spec.get('schedule')!r} : {err}",
            )
        )
        return done()
    if spec.get("suspend"):
        return done()

    last = job_plan.parse_time(old.get("lastScheduleTime"))
    deadline = _int(spec.get("startingDeadlineSeconds"))
    recent = most_recent_schedule_time(
        schedule,
        zone,
        created_at=created_at,
        last_schedule=last,
        starting_deadline=deadline,
        now=now,
    )

    def later(last_schedule: float | None) -> float | None:
        return next_schedule_delay(
            schedule, zone, created_at=created_at, last_schedule=last_schedule, now=now
        )

    if recent.missed > MANY_MISSED:
        events.append(CronEvent("Warning", "TooManyMissedTimes", TOO_MANY_MISSED_MESSAGE))
    if recent.error:
        events.append(
            CronEvent(
                "Warning",
                "InvalidSchedule",
                f"invalid schedule: {spec.get('schedule')} : {recent.error}",
            )
        )
        return done()
    scheduled = recent.time
    if scheduled is None:
        return done(later(last))
    if deadline is not None and scheduled + deadline < now:
        events.append(
            CronEvent(
                "Warning",
                "MissSchedule",
                f"Missed scheduled time to start a job: {job_plan.rfc3339(scheduled)}",
            )
        )
        return done(later(last))
    wanted = job_name(name, scheduled)
    if any(j.name == wanted for j in jobs) or last == scheduled:
        # started already (a supervisor killed between the Job and the status write)
        status["lastScheduleTime"] = job_plan.rfc3339(scheduled)
        return done(later(scheduled))
    policy = spec.get("concurrencyPolicy") or "Allow"
    if policy == "Forbid" and active:
        events.append(
            CronEvent(
                "Normal",
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy "
                "is Forbid",
            )
        )
        return done(later(last))
    if policy == "Replace":
        for j in active:
            delete.append(j.name)
            events.append(CronEvent("Normal", "SuccessfulDelete", f"Deleted job {j.name}"))
    body = job_from_template(cronjob, uid=uid, scheduled_at=scheduled, zone=zone)
    events.append(CronEvent("Normal", "SuccessfulCreate", f"Created job {wanted}"))
    status["lastScheduleTime"] = job_plan.rfc3339(scheduled)
    return done(later(scheduled), NewJob(name=wanted, scheduled_at=scheduled, body=body))


def next_run(
    cronjob: Mapping[str, Any], *, created_at: float, now: float, zone: dt.tzinfo
) -> float | None:
    """When the next Job is due (describe's "Next Schedule"), None if never/suspended."""
    spec = _spec(cronjob)
    if spec.get("suspend"):
        return None
    try:
        schedule = cron.parse(str(spec.get("schedule") or ""))
    except cron.CronError:
        return None
    last = job_plan.parse_time((cronjob.get("status") or {}).get("lastScheduleTime"))
    return schedule.next(max(now, last if last is not None else created_at), zone)
