"""The Job controller's decisions, as a pure function of the Job, its pods and `now`.

`compute_job_actions(job, pods, now=...)` is one pass of kube-controller-manager's syncJob
(`pkg/controller/job/job_controller.go`, `backoff_utils.go`, `pod_failure_policy.go`,
`indexed_job_utils.go`) and of the TTL-after-finished controller, on one node:

- shape: `completions` and `parallelism` (default 1); active wanted =
  `min(parallelism, completions - succeeded)`; without completions a work queue, done once a
  pod succeeded and none is active. Indexed jobs run each index 0..completions-1 once.
- failures: a new pod after a failed one waits 10 s * 2^(n-1) (n failures since the last
  success), capped at 10 min; more failed pods than `backoffLimit` (with OnFailure: as many
  container restarts) fails the Job with BackoffLimitExceeded; `podFailurePolicy` rules
  (FailJob, Ignore, Count on exit codes) are looked at first; `activeDeadlineSeconds` from
  `status.startTime` fails it with DeadlineExceeded.
- conditions: SuccessCriteriaMet / FailureTarget first, the terminal Complete / Failed only
  once no pod of the Job is active or terminating (Kubernetes 1.31); Suspended;
  `ttlSecondsAfterFinished` deletes the finished Job.

Pods are never deleted once finished (their logs stay); the counters come from the pods
present. Nothing here reads a clock or the store: the engine passes `now` and `JobPod`s.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
LEGACY_JOB_NAME_LABEL = "job-name"
LEGACY_CONTROLLER_UID_LABEL = "controller-uid"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"

DEFAULT_BACKOFF = 10.0  # DefaultJobPodFailureBackOff
MAX_BACKOFF = 600.0  # MaxJobPodFailureBackOff

COMPLETE = "Complete"
FAILED = "Failed"
SUCCESS_CRITERIA_MET = "SuccessCriteriaMet"
FAILURE_TARGET = "FailureTarget"
SUSPENDED = "Suspended"

BACKOFF_LIMIT_EXCEEDED = "BackoffLimitExceeded"
DEADLINE_EXCEEDED = "DeadlineExceeded"
POD_FAILURE_POLICY = "PodFailurePolicy"
COMPLETIONS_REACHED = "CompletionsReached"

MESSAGES = {
    BACKOFF_LIMIT_EXCEEDED: "Job has reached the specified backoff limit",
    DEADLINE_EXCEEDED: "Job was active longer than specified deadline",
    COMPLETIONS_REACHED: "Reached expected number of succeeded pods",
}

PENDING, RUNNING, SUCCEEDED = "Pending", "Running", "Succeeded"


@dataclass(frozen=True, slots=True)
class JobBackoff:
    """The pod failure back-off: base doubling per failure since the last success, capped."""

    base: float = DEFAULT_BACKOFF
    cap: float = MAX_BACKOFF


@dataclass(frozen=True, slots=True)
class JobPod:
    """One pod of the Job as observed. `phase` is the pod's (Pending, Running, Succeeded,
    Failed); `finished_at` when it became Succeeded or Failed; `exit_codes` the terminated
    containers' (name, exit code) of a Failed pod; `restarts` its containers' restarts."""

    name: str
    phase: str
    created_at: float = 0.0
    finished_at: float | None = None
    terminating: bool = False
    ready: bool = False
    restarts: int = 0
    index: int | None = None
    exit_codes: tuple[tuple[str, int], ...] = ()

    @property
    def finished(self) -> bool:
        return self.phase in (SUCCEEDED, FAILED)

    @property
    def active(self) -> bool:
        return not self.finished and not self.terminating


@dataclass(frozen=True, slots=True)
class JobEvent:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class JobActions:
    """What the controller does: `create` pods (their completion index, None when not
    Indexed), `delete` pods by name (active ones, terminated with their grace period),
    write `status`, record `events`, delete the Job itself (`delete_job`: its TTL ran
    out), and look again after `requeue_after` seconds."""

    create: tuple[int | None, ...] = ()
    delete: tuple[str, ...] = ()
    status: dict[str, Any] = field(default_factory=dict)
    events: tuple[JobEvent, ...] = ()
    delete_job: bool = False
    requeue_after: float | None = None


# --- reading the Job ----------------------------------------------------------------------


def _spec(job: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = job.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def completions(job: Mapping[str, Any]) -> int | None:
    spec = _spec(job)
    if spec.get("completions") is None and spec.get("parallelism") is None:
        return 1
    return _int(spec.get("completions"))


def parallelism(job: Mapping[str, Any]) -> int:
    value = _int(_spec(job).get("parallelism"))
    return 1 if value is None else value


def indexed(job: Mapping[str, Any]) -> bool:
    return _spec(job).get("completionMode") == "Indexed"


def restart_policy(job: Mapping[str, Any]) -> str:
    template = _spec(job).get("template") or {}
    return str((template.get("spec") or {}).get("restartPolicy") or "")


def rfc3339(ts: float) -> str:
    return dt.datetime.fromtimestamp(int(ts), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: Any) -> float | None:
    """An RFC 3339 time of the API ("2026-12-06T10:00:00Z") as Unix seconds."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def condition(status: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    """The condition of `kind` whose status is True, if any."""
    for cond in status.get("conditions") or ():
        if isinstance(cond, Mapping) and cond.get("type") == kind and cond.get("status") == "True":
            return cond
    return None


def finished_condition(status: Mapping[str, Any]) -> str:
    """ "Complete", "Failed" or "" (IsJobFinished)."""
    for kind in (COMPLETE, FAILED):
        if condition(status, kind) is not None:
            return kind
    return ""


def _set_condition(
    conditions: list[dict[str, Any]],
    kind: str,
    *,
    status: str,
    reason: str,
    message: str,
    now: float,
) -> bool:
    """Add or update a condition; False when it already said the same."""
    stamp = rfc3339(now)
    for cond in conditions:
        if cond.get("type") == kind:
            if cond.get("status") == status and cond.get("reason") == reason:
                return False
            cond.update(
                status=status,
                reason=reason,
                message=message,
                lastProbeTime=stamp,
                lastTransitionTime=stamp,
            )
            return True
    conditions.append(
        {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastProbeTime": stamp,
            "lastTransitionTime": stamp,
        }
    )
    return True


# --- pod failure policy and back-off --------------------------------------------------------


def _rule_matches(rule: Mapping[str, Any], pod: JobPod) -> str:
    """The container whose exit code the rule's onExitCodes matches ("" if none)."""
    codes = rule.get("onExitCodes")
    if not isinstance(codes, Mapping):
        return ""
    name = codes.get("containerName")
    values = set(codes.get("values") or ())
    operator = codes.get("operator")
    for container, code in pod.exit_codes:
        if code == 0 or (name and container != name):
            continue
        if (operator == "In" and code in values) or (operator == "NotIn" and code not in values):
            return f"{container}\0{code}"
    return ""


def match_pod_failure_policy(
    job: Mapping[str, Any], pod: JobPod, *, job_name: str, namespace: str
) -> tuple[str, str]:
    """(action, message) of the first podFailurePolicy rule matching a failed pod: action
    FailJob, Ignore, Count or FailIndex; ("Count", "") when no rule matches (or no policy)."""
    policy = _spec(job).get("podFailurePolicy")
    if not isinstance(policy, Mapping):
        return "Count", ""
    for i, rule in enumerate(policy.get("rules") or ()):
        if not isinstance(rule, Mapping):
            continue
        hit = _rule_matches(rule, pod)
        if not hit:
            continue
        container, code = hit.split("\0")
        action = str(rule.get("action") or "Count")
        message = (
            f"Container {container} for pod {namespace}/{pod.name} failed with exit code "
            f"{code} matching {action} rule at index {i}"
        )
        return action, message
    return "Count", ""


def backoff_remaining(
    pods: Sequence[JobPod], *, now: float, policy: JobBackoff, ignored: frozenset[str] = frozenset()
) -> float:
    """Seconds before a new pod may be created: base * 2^(n-1), capped, after the last of
    the n failures since the last success (the Job controller's backoffRecord, rebuilt from
    the pods' finish times so a new supervisor keeps it)."""
    done = sorted(
        (p for p in pods if p.finished and p.name not in ignored and p.finished_at is not None),
        key=lambda p: (p.finished_at or 0.0, p.name),
    )
    failures = 0
    last = 0.0
    for pod in done:
        if pod.phase == SUCCEEDED:
            failures = 0
        else:
            failures += 1
            last = pod.finished_at or 0.0
    if failures == 0:
        return 0.0
    delay = min(policy.base * float(2 ** (failures - 1)), policy.cap)
    return max(0.0, last + delay - now)


def _removal_rank(pod: JobPod) -> tuple[int, int, float, str]:
    """activePodsForRemoval: not ready before ready, pending before running, newest first."""
    return (int(pod.ready), 0 if pod.phase == PENDING else 1, -pod.created_at, pod.name)


def format_indexes(indexes: Sequence[int]) -> str:
    """completedIndexes: "0-2,4" (ranges of three or more... as Kubernetes: any run of 2+)."""
    out: list[str] = []
    ordered = sorted(set(indexes))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        out.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(out)


# --- the sync -----------------------------------------------------------------------------


def compute_job_actions(
    job: Mapping[str, Any],
    pods: Sequence[JobPod],
    *,
    now: float,
    backoff: JobBackoff = JobBackoff(),
) -> JobActions:
    """One sync of the Job (see the module docstring)."""
    meta = job.get("metadata") or {}
    name, namespace = str(meta.get("name") or ""), str(meta.get("namespace") or "default")
    spec = _spec(job)
    old_status: Mapping[str, Any] = job.get("status") or {}
    status: dict[str, Any] = copy.deepcopy(dict(old_status))
    conditions: list[dict[str, Any]] = status.setdefault("conditions", [])
    events: list[JobEvent] = []

    terminating = [p for p in pods if p.terminating and not p.finished]
    active = [p for p in pods if p.active]

    if finished_condition(old_status):
        return _finished(job, status, active, terminating, now=now)

    # podFailurePolicy: Ignore drops a failed pod from the count, FailJob fails the Job.
    ignored: set[str] = set()
    fail_job: tuple[str, str] | None = None
    for pod in sorted((p for p in pods if p.phase == FAILED), key=lambda p: p.finished_at or 0):
        action, message = match_pod_failure_policy(job, pod, job_name=name, namespace=namespace)
        if action == "Ignore":
            ignored.add(pod.name)
        elif action == "FailJob" and fail_job is None:
            fail_job = (POD_FAILURE_POLICY, message)
    failed_pods = [p for p in pods if p.phase == FAILED and p.name not in ignored]
    want = completions(job)
    if indexed(job):
        done: set[int] = {
            p.index
            for p in pods
            if p.phase == SUCCEEDED and p.index is not None and 0 <= p.index < (want or 0)
        }
        succeeded = len(done)
    else:
        done = set()
        succeeded = sum(1 for p in pods if p.phase == SUCCEEDED)

    suspended = bool(spec.get("suspend"))
    requeue: list[float] = []
    create: list[int | None] = []
    delete: list[str] = []
    was_suspended = condition(old_status, SUSPENDED) is not None
    if suspended:
        delete = [p.name for p in active]
        if _set_condition(
            conditions,
            SUSPENDED,
            status="True",
            reason="JobSuspended",
            message="Job suspended",
            now=now,
        ):
            events.append(JobEvent("Normal", "Suspended", "Job suspended"))
        active = []
    else:
        if was_suspended:
            _set_condition(
                conditions,
                SUSPENDED,
                status="False",
                reason="JobResumed",
                message="Job resumed",
                now=now,
            )
            events.append(JobEvent("Normal", "Resumed", "Job resumed"))
            status["startTime"] = rfc3339(now)
        status.setdefault("startTime", rfc3339(now))

    target = _target(old_status)
    if target is None and not suspended:
        target = _failure(job, status, active, failed_pods, fail_job, now=now, requeue=requeue)
        if target is None and _success(job, want, succeeded, active):
            target = (SUCCESS_CRITERIA_MET, COMPLETIONS_REACHED, MESSAGES[COMPLETIONS_REACHED])
        if target is not None:
            kind, reason, message = target
            _set_condition(conditions, kind, status="True", reason=reason, message=message, now=now)
    if target is not None:
        delete = [p.name for p in active]
        active = []
    elif not suspended:
        create, removed = _manage(
            job,
            pods,
            active,
            want=want,
            succeeded=succeeded,
            done=done,
            now=now,
            backoff=backoff,
            ignored=frozenset(ignored),
            requeue=requeue,
        )
        delete = [p.name for p in removed]
        active = [p for p in active if p not in removed]

    # The terminal condition once nothing of the Job runs any more.
    finished_now = False
    if target is not None and not active and not terminating and not delete:
        kind, reason, message = target
        terminal = COMPLETE if kind == SUCCESS_CRITERIA_MET else FAILED
        _set_condition(conditions, terminal, status="True", reason=reason, message=message, now=now)
        if terminal == COMPLETE:
            status["completionTime"] = rfc3339(now)
            events.append(JobEvent("Normal", "Completed", "Job completed"))
        else:
            events.append(JobEvent("Warning", reason, message))
        finished_now = True
    elif target is not None:
        requeue.append(1.0)  # look again once the pods it stops are gone

    status["active"] = len(active) + len(create)
    status["ready"] = sum(1 for p in active if p.ready)
    status["terminating"] = len(terminating) + len(delete)
    status["succeeded"] = succeeded
    status["failed"] = len(failed_pods)
    if indexed(job):
        status["completedIndexes"] = format_indexes(sorted(i for i in done if i is not None))
    status = {k: v for k, v in status.items() if v not in (0, "", [], None)}
    if finished_now:
        ttl = _int(spec.get("ttlSecondsAfterFinished"))
        if ttl is not None:
            requeue.append(float(ttl))
    return JobActions(
        create=tuple(create),
        delete=tuple(delete),
        status=status,
        events=tuple(events),
        requeue_after=min(requeue) if requeue else None,
    )


def _target(status: Mapping[str, Any]) -> tuple[str, str, str] | None:
    for kind in (FAILURE_TARGET, SUCCESS_CRITERIA_MET):
        cond = condition(status, kind)
        if cond is not None:
            return kind, str(cond.get("reason") or ""), str(cond.get("message") or "")
    return None


def _failure(
    job: Mapping[str, Any],
    status: Mapping[str, Any],
    active: Sequence[JobPod],
    failed_pods: Sequence[JobPod],
    fail_job: tuple[str, str] | None,
    *,
    now: float,
    requeue: list[float],
) -> tuple[str, str, str] | None:
    spec = _spec(job)
    if fail_job is not None:
        return FAILURE_TARGET, fail_job[0], fail_job[1]
    limit = _int(spec.get("backoffLimit"))
    limit = 6 if limit is None else limit
    exceeded = len(failed_pods) > limit
    if not exceeded and restart_policy(job) == "OnFailure":
        restarts = sum(p.restarts for p in active)
        exceeded = restarts > 0 if limit == 0 else restarts >= limit
    if exceeded:
        reason = BACKOFF_LIMIT_EXCEEDED
        return FAILURE_TARGET, reason, MESSAGES[reason]
    deadline = _int(spec.get("activeDeadlineSeconds"))
    started = parse_time(status.get("startTime"))
    if deadline is not None and started is not None:
        left = started + deadline - now
        if left <= 0:
            return FAILURE_TARGET, DEADLINE_EXCEEDED, MESSAGES[DEADLINE_EXCEEDED]
        requeue.append(left)
    return None


def _success(
    job: Mapping[str, Any], want: int | None, succeeded: int, active: Sequence[JobPod]
) -> bool:
    if want is None:  # a work queue: once one pod succeeded, when the others are done
        return succeeded > 0 and not active
    return succeeded >= want


def _manage(
    job: Mapping[str, Any],
    pods: Sequence[JobPod],
    active: Sequence[JobPod],
    *,
    want: int | None,
    succeeded: int,
    done: set[int],
    now: float,
    backoff: JobBackoff,
    ignored: frozenset[str],
    requeue: list[float],
) -> tuple[list[int | None], list[JobPod]]:
    """manageJob: pods to create (their indexes) and active pods to remove."""
    par = parallelism(job)
    if want is None:
        wanted = len(active) if succeeded > 0 else par
    else:
        wanted = max(0, min(want - succeeded, par))
    removed: list[JobPod] = []
    if indexed(job):
        # an index that succeeded or is out of range needs no pod; a second pod of an index
        # goes (duplicates after a supervisor restart)
        seen: set[int] = set()
        for pod in sorted(active, key=lambda p: p.created_at):
            stale = pod.index is None or pod.index in done or pod.index >= (want or 0)
            if stale or pod.index is None or pod.index in seen:
                removed.append(pod)
            else:
                seen.add(pod.index)
    keep = [p for p in active if p not in removed]
    if len(keep) > wanted:
        extra = sorted(keep, key=_removal_rank)[: len(keep) - wanted]
        removed.extend(extra)
        keep = [p for p in keep if p not in extra]
    if len(keep) >= wanted:
        return [], removed
    wait = backoff_remaining(pods, now=now, policy=backoff, ignored=ignored)
    if wait > 0:
        requeue.append(wait)
        return [], removed
    count = wanted - len(keep)
    if not indexed(job):
        return [None] * count, removed
    running = {p.index for p in keep}
    free = [i for i in range(want or 0) if i not in done and i not in running]
    return list(free[:count]), removed


def _finished(
    job: Mapping[str, Any],
    status: dict[str, Any],
    active: Sequence[JobPod],
    terminating: Sequence[JobPod],
    *,
    now: float,
) -> JobActions:
    """A finished Job: its TTL (ttlSecondsAfterFinished, from completionTime or the time
    it failed), and any pod still active is stopped."""
    ttl = _int(_spec(job).get("ttlSecondsAfterFinished"))
    delete = tuple(p.name for p in active)
    if ttl is None:
        return JobActions(delete=delete, status=status)
    cond = condition(status, COMPLETE) or condition(status, FAILED) or {}
    finished_at = parse_time(status.get("completionTime")) or parse_time(
        cond.get("lastTransitionTime")
    )
    if finished_at is None:
        return JobActions(delete=delete, status=status)
    left = finished_at + ttl - now
    if left <= 0:
        return JobActions(delete=delete, status=status, delete_job=True)
    return JobActions(delete=delete, status=status, requeue_after=left)


# --- the pods it makes ----------------------------------------------------------------------


def pod_base_name(job_name: str, index: int | None) -> str:
    """The generateName of the Job's pods: `<job>-` or, Indexed, `<job>-<index>-`."""
    return f"{job_name}-" if index is None else f"{job_name}-{index}-"


def job_pod(job: Mapping[str, Any], *, uid: str, index: int | None, name: str) -> dict[str, Any]:
    """The Pod the Job controller makes from its template: the Job's labels (and the
    template's), owned by the Job; Indexed: the index as annotation and label, hostname
    `<job>-<index>`, and JOB_COMPLETION_INDEX in every container's env."""
    meta = job.get("metadata") or {}
    job_name = str(meta.get("name") or "")
    template = copy.deepcopy(dict(_spec(job).get("template") or {}))
    tmeta = dict(template.get("metadata") or {})
    labels = {
        **(tmeta.get("labels") or {}),
        CONTROLLER_UID_LABEL: uid,
        JOB_NAME_LABEL: job_name,
        LEGACY_CONTROLLER_UID_LABEL: uid,
        LEGACY_JOB_NAME_LABEL: job_name,
    }
    annotations = dict(tmeta.get("annotations") or {})
    pod_spec = dict(template.get("spec") or {})
    if index is not None:
        labels[COMPLETION_INDEX] = str(index)
        annotations[COMPLETION_INDEX] = str(index)
        pod_spec.setdefault("hostname", f"{job_name}-{index}")
        env_var = {
            "name": COMPLETION_INDEX_ENV,
            "valueFrom": {"fieldRef": {"fieldPath": f"metadata.annotations['{COMPLETION_INDEX}']"}},
        }
        for group in ("initContainers", "containers"):
            for ctr in pod_spec.get(group) or ():
                env = list(ctr.get("env") or ())
                if not any(e.get("name") == COMPLETION_INDEX_ENV for e in env):
                    ctr["env"] = [*env, env_var]
    out_meta: dict[str, Any] = {
        "name": name,
        "generateName": pod_base_name(job_name, index),
        "labels": labels,
    }
    if meta.get("namespace"):
        out_meta["namespace"] = meta["namespace"]
    if annotations:
        out_meta["annotations"] = annotations
    out_meta["ownerReferences"] = [
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": job_name,
            "uid": uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": out_meta, "spec": pod_spec}


# --- kubectl get jobs -----------------------------------------------------------------------


def status_text(job: Mapping[str, Any]) -> str:
    """kubectl's STATUS column (1.28+): Complete, Failed, Suspended, FailureTarget,
    SuccessCriteriaMet, Running."""
    status = job.get("status") or {}
    for kind in (COMPLETE, FAILED, FAILURE_TARGET, SUCCESS_CRITERIA_MET, SUSPENDED):
        if condition(status, kind) is not None:
            return kind
    return "Running"


def completions_text(job: Mapping[str, Any]) -> str:
    """COMPLETIONS: `succeeded/completions`, or `succeeded/1 of parallelism` for a work
    queue (kubectl's printJob)."""
    status = job.get("status") or {}
    succeeded = _int(status.get("succeeded")) or 0
    want = completions(job)
    if want is not None:
        return f"{succeeded}/{want}"
    par = parallelism(job)
    return f"{succeeded}/1 of {par}" if par > 1 else f"{succeeded}/1"


def duration_seconds(job: Mapping[str, Any], *, now: float) -> float | None:
    """DURATION: from startTime to completionTime (or now while it runs)."""
    status = job.get("status") or {}
    start = parse_time(status.get("startTime"))
    if start is None:
        return None
    end = parse_time(status.get("completionTime"))
    return (end if end is not None else now) - start
