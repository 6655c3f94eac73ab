"""Rules the API server checks in code for Jobs and CronJobs (batch/validation), beyond the
schema: a pod template that restarts Never or OnFailure, non-negative counts, Indexed jobs
with completions, podFailurePolicy with Never, a selector matching the template, and a
CronJob's schedule as robfig/cron parses it (`kube.cron`), no TZ= in it, a known timeZone.

`check_rules(obj, zone_error=...)` returns (field path, message) pairs; `zone_error(name)`
says why a time zone name does not load ("" when it does), so this module stays pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kubeplay.kube import cron
from kubeplay.kube.objects import KubeObject

RESTART_POLICIES = ("OnFailure", "Never")
CONCURRENCY_POLICIES = ("Allow", "Forbid", "Replace")


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f'"{v}"' for v in values)


def _selector_matches(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    from kubeplay.kube import workloads

    return workloads.selector_matches(selector, labels)


def job_spec_problems(spec: Mapping[str, Any], prefix: str) -> list[tuple[str, str]]:
    """ValidateJobSpec for the spec at `prefix` (`spec`, or a CronJob's
    `spec.jobTemplate.spec`)."""
    problems: list[tuple[str, str]] = []
    for name in (
        "parallelism",
        "completions",
        "backoffLimit",
        "activeDeadlineSeconds",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
        "maxFailedIndexes",
    ):
        value = _int(spec.get(name))
        if value is not None and value < 0:
            problems.append(
                (f"{prefix}.{name}", f"Invalid value: {value}: must be greater than or equal to 0")
            )
    template = _map(spec.get("template"))
    pod_spec = _map(template.get("spec"))
    policy = pod_spec.get("restartPolicy")
    path = f"{prefix}.template.spec.restartPolicy"
    if policy is None:
        problems.append((path, f"Required value: valid values: {_quoted(RESTART_POLICIES)}"))
    elif policy not in RESTART_POLICIES:
        problems.append(
            (
                path,
                f'Unsupported value: "{policy}": supported values: {_quoted(RESTART_POLICIES)}',
            )
        )
    if spec.get("completionMode") == "Indexed" and spec.get("completions") is None:
        problems.append(
            (f"{prefix}.completions", "Required value: when completion mode is Indexed")
        )
    if spec.get("podFailurePolicy") is not None and policy not in (None, "Never"):
        problems.append(
            (
                path,
                f'Invalid value: "{policy}": only "Never" is supported when podFailurePolicy '
                "is specified",
            )
        )
    selector = spec.get("selector")
    if isinstance(selector, Mapping) and selector:
        labels = _map(_map(template.get("metadata")).get("labels"))
        if not _selector_matches(selector, labels):
            problems.append(
                (
                    f"{prefix}.template.metadata.labels",
                    "`selector` does not match template `labels`",
                )
            )
    return problems


def check_rules(obj: KubeObject, *, zone_error: Callable[[str], str]) -> list[tuple[str, str]]:
    """(field path, message) for what the API server rejects in a Job or CronJob."""
    spec = obj.body.get("spec")
    if not isinstance(spec, Mapping):
        return []
    if obj.kind == "Job":
        return job_spec_problems(spec, "spec")
    if obj.kind != "CronJob":
        return []
    problems: list[tuple[str, str]] = []
    schedule = spec.get("schedule")
    if not isinstance(schedule, str) or not schedule:
        problems.append(("spec.schedule", "Required value"))
    else:
        try:
            cron.parse(schedule)
        except cron.CronError as err:
            if str(err) != cron.TZ_MESSAGE:
                problems.append(("spec.schedule", f'Invalid value: "{schedule}": {err}'))
        if "TZ" in schedule:
            problems.append(("spec.schedule", f'Invalid value: "{schedule}": {cron.TZ_MESSAGE}'))
    zone = spec.get("timeZone")
    if zone is not None:
        if not isinstance(zone, str) or not zone:
            problems.append(
                ("spec.timeZone", 'Invalid value: "": timeZone must be nil or non-empty string')
            )
        elif zone.lower() == "local":
            problems.append(
                (
                    "spec.timeZone",
                    f'Invalid value: "{zone}": timeZone must be an explicit time zone as '
                    "defined in https://www.iana.org/time-zones",
                )
            )
        elif why := zone_error(zone):
            problems.append(("spec.timeZone", f'Invalid value: "{zone}": {why}'))
    for name in ("startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        value = _int(spec.get(name))
        if value is not None and value < 0:
            problems.append(
                (f"spec.{name}", f"Invalid value: {value}: must be greater than or equal to 0")
            )
    policy = spec.get("concurrencyPolicy")
    if policy is not None and policy not in CONCURRENCY_POLICIES:
        problems.append(
            (
                "spec.concurrencyPolicy",
                f'Unsupported value: "{policy}": supported values: {_quoted(CONCURRENCY_POLICIES)}',
            )
        )
    template = spec.get("jobTemplate")
    job_spec = template.get("spec") if isinstance(template, Mapping) else None
    if isinstance(job_spec, Mapping):
        problems.extend(job_spec_problems(job_spec, "spec.jobTemplate.spec"))
    return problems
