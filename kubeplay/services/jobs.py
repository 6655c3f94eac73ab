"""Jobs and CronJobs for the commands: `wait --for=condition=complete job/NAME`,
`create job NAME --from=cronjob/NAME`, `apply --wait` of a Job, and the columns of
`get jobs` / `get cronjobs` (kubectl's printers). The controllers that run them are
`engine.controllers.jobs` and `engine.controllers.cronjobs`, on the supervisor's loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubeplay.engine import host as host_mod
from kubeplay.errors import AlreadyExistsError, KubeplayError, NotFoundError, UsageError
from kubeplay.plan import cronjob as cron_plan
from kubeplay.plan import job as job_plan
from kubeplay.settings import Settings

JOB_RESOURCES = frozenset({"job", "jobs", "job.batch", "jobs.batch"})
CRONJOB_RESOURCES = frozenset({"cronjob", "cronjobs", "cj", "cronjob.batch", "cronjobs.batch"})
INSTANTIATE_ANNOTATION = "cronjob.kubernetes.io/instantiate"
POLL_SECONDS = 0.2


def _job_body(settings: Settings, namespace: str, name: str) -> Mapping[str, Any] | None:
    host = host_mod.open_host(settings)
    try:
        rec = host.store.get_record("batch", "Job", namespace, name)
        return rec.body if rec is not None else None
    finally:
        host.close()


def wait(settings: Settings, namespace: str, name: str, *, condition: str, timeout: float) -> str:
    """`kubectl wait job/NAME --for=condition=Complete` (or Failed, Suspended...; `delete`);
    kubectl's message, KubeplayError after `timeout`."""
    deadline = time.monotonic() + timeout
    if condition != "delete" and not condition.startswith("condition="):
        raise UsageError(
            f"unrecognized condition: {condition!r} (use condition=complete, condition=failed "
            "or delete)"
        )
    kind, _, want = condition.removeprefix("condition=").partition("=")
    want = want or "True"
    while True:
        body = _job_body(settings, namespace, name)
        if condition == "delete":
            if body is None:
                return f"job.batch/{name} condition met"
        elif body is None:
            raise NotFoundError(f'jobs.batch "{name}" not found')
        else:
            for cond in (body.get("status") or {}).get("conditions") or ():
                if (
                    str(cond.get("type", "")).lower() == kind.lower()
                    and str(cond.get("status", "")).lower() == want.lower()
                ):
                    return f"job.batch/{name} condition met"
        if time.monotonic() >= deadline:
            raise KubeplayError(f"timed out waiting for the condition on jobs/{name}")
        time.sleep(POLL_SECONDS)


def not_complete(settings: Settings, jobs: Sequence[tuple[str, str]]) -> list[str]:
    """`apply --wait`: the Jobs (namespace, name) not Complete now, as `job.batch/NAME`."""
    out: list[str] = []
    for namespace, name in jobs:
        body = _job_body(settings, namespace, name)
        status = (body or {}).get("status") or {}
        if job_plan.condition(status, job_plan.COMPLETE) is None:
            out.append(f"job.batch/{name}")
    return out


def create_from_cronjob(settings: Settings, namespace: str, name: str, source: str) -> str:
    """`kubectl create job NAME --from=cronjob/SOURCE`: a Job from the CronJob's jobTemplate,
    annotated `cronjob.kubernetes.io/instantiate: manual` and owned by the CronJob, which the
    supervisor's Job controller runs now. kubectl's line."""
    from kubeplay.engine import locks
    from kubeplay.engine.controllers import cronjobs
    from kubeplay.kube import kinds, validate

    kind, _, cronjob_name = source.partition("/")
    if kind.lower() not in ("cronjob", "cronjobs", "cj", "cronjob.batch", "cronjobs.batch"):
        raise UsageError(f"from must be an existing cronjob: {source}")
    problem = validate.name_problem(name)
    if problem:
        raise UsageError(f"job: {problem}")
    host = host_mod.open_host(settings)
    try:
        key = kinds.ObjectKey("batch", "Job", namespace, name)
        with locks.key_locks(settings.locks_dir, [key]):
            cj = host.store.get_record("batch", "CronJob", namespace, cronjob_name)
            if cj is None:
                raise NotFoundError(f'cronjobs.batch "{cronjob_name}" not found')
            if host.store.get_record(*key) is not None:
                raise AlreadyExistsError(f'jobs.batch "{name}" already exists')
            template = (cj.body.get("spec") or {}).get("jobTemplate") or {}
            tmeta = template.get("metadata") or {}
            meta: dict[str, Any] = {
                "name": name,
                "namespace": namespace,
                "annotations": {
                    **(tmeta.get("annotations") or {}),
                    INSTANTIATE_ANNOTATION: "manual",
                },
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "CronJob",
                        "name": cj.name,
                        "uid": cj.uid,
                        "controller": True,
                    }
                ],
            }
            if tmeta.get("labels"):
                meta["labels"] = dict(tmeta["labels"])
            body = {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": meta,
                "spec": dict(template.get("spec") or {}),
            }
            rec = cronjobs.job_record(body, owner_uid=cj.uid, origin=cj.origin, now=time.time())
            host.store.put_records([rec])
    finally:
        host.close()
    return f"job.batch/{name} created"


# --- get columns --------------------------------------------------------------------------


JOB_COLUMNS = ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
CRONJOB_COLUMNS = ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"]


def job_cells(body: Mapping[str, Any], *, now: float, human: Callable[[float], str]) -> list[str]:
    """STATUS, COMPLETIONS, DURATION of `kubectl get jobs` (`human` renders a duration)."""
    took = job_plan.duration_seconds(body, now=now)
    return [
        job_plan.status_text(body),
        job_plan.completions_text(body),
        "" if took is None else human(took),
    ]


def cronjob_cells(
    body: Mapping[str, Any], *, now: float, human: Callable[[float], str]
) -> list[str]:
    """SCHEDULE, TIMEZONE, SUSPEND, ACTIVE, LAST SCHEDULE of `kubectl get cronjobs`."""
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    last = job_plan.parse_time(status.get("lastScheduleTime"))
    return [
        str(spec.get("schedule") or ""),
        str(spec.get("timeZone") or "<none>"),
        "True" if spec.get("suspend") else "False",
        str(len(status.get("active") or ())),
        "<none>" if last is None else human(now - last),
    ]


def next_schedule(body: Mapping[str, Any], *, created_at: float, now: float) -> float | None:
    """When a CronJob runs next (None: suspended, or never)."""
    from kubeplay.engine.controllers import cronjobs

    zone = cronjobs.load_zone(str((body.get("spec") or {}).get("timeZone") or ""))
    if zone is None:
        return None
    return cron_plan.next_run(body, created_at=created_at, now=now, zone=zone)


def dependents(host: host_mod.Host, kind: str, uid: str) -> tuple[list[Any], list[str]]:
    """What goes with a Job or CronJob deleted (kubectl delete's background cascade): the
    pods to tear down and the uids of the CronJob's Jobs to remove."""
    from kubeplay.engine import ownedpods

    job_uids = [uid] if kind == "Job" else []
    children: list[str] = []
    if kind == "CronJob":
        children = [r.uid for r in host.store.list_records(["Job"], owner_uid=uid)]
        job_uids += children
    pods = [p for u in job_uids for p in ownedpods.owned(host.store, u)]
    return pods, children


def all_failed(settings: Settings, jobs: Sequence[tuple[str, str]], left: Sequence[str]) -> bool:
    """Whether every Job of `left` (as `job.batch/NAME`) has Failed: waiting is over."""
    wanted = {f"job.batch/{name}": (namespace, name) for namespace, name in jobs}
    for ref in left:
        namespace, name = wanted[ref]
        status = (_job_body(settings, namespace, name) or {}).get("status") or {}
        if job_plan.condition(status, job_plan.FAILED) is None:
            return False
    return True


def dependent_keys(host: host_mod.Host, key: Any) -> list[Any]:
    """The lock keys of what goes with the Job or CronJob `key` (its Jobs, their pods), so
    that a command removing it and the supervisor's controllers take turns."""
    from kubeplay.kube.kinds import ObjectKey

    rec = host.store.get_record(*key)
    if rec is None:
        return []
    pods, children = dependents(host, rec.kind, rec.uid)
    keys = [ObjectKey("", "Pod", p.namespace, p.name) for p in pods]
    for uid in children:
        job = host.store.get_record_by_uid(uid)
        if job is not None:
            keys.append(ObjectKey("batch", "Job", job.namespace, job.name))
    return keys


@dataclass(frozen=True, slots=True)
class BatchView:
    """A Job or CronJob for `describe`: the object as the API returns it, its pods' phases
    (a Job's), its next schedule time (a CronJob's) and its events (EventRecords)."""

    body: dict[str, Any]
    phases: tuple[str, ...] = ()
    next_at: float | None = None
    events: tuple[Any, ...] = ()


def describe(settings: Settings, resource: str, namespace: str, name: str) -> BatchView:
    """What `describe job|cronjob NAME` shows (cli.describe renders it)."""
    from kubeplay.services import resources

    kind = "Job" if resource.lower() in JOB_RESOURCES else "CronJob"
    host = host_mod.open_host(settings)
    try:
        rec = host.store.get_record("batch", kind, namespace, name)
        if rec is None:
            plural = "jobs" if kind == "Job" else "cronjobs"
            raise NotFoundError(f'{plural}.batch "{name}" not found')
        phases: tuple[str, ...] = ()
        if kind == "Job":
            from kubeplay.engine import ownedpods
            from kubeplay.engine.controllers import jobs as jobs_ctl

            phases = tuple(
                jobs_ctl.observe_pod(host, p).phase for p in ownedpods.owned(host.store, rec.uid)
            )
        events = tuple(host.store.list_events(rec.uid))
    finally:
        host.close()
    next_at = (
        next_schedule(rec.body, created_at=rec.created_at, now=time.time())
        if kind == "CronJob"
        else None
    )
    return BatchView(body=resources.to_kube(rec), phases=phases, next_at=next_at, events=events)
