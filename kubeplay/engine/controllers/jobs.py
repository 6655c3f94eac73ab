"""The Job controller: runs each Job's pods to completion, one sync per Job key.

A sync (in a worker thread of `engine.loop`, or once in a command's process through
`engine.reconcile`) takes the Job's key lock, reads the Job's row and the pods it owns
(`engine.ownedpods.owned`), turns each into a `plan.job.JobPod` (phase, finish time,
restarts, exit codes, from `engine.pods.observe` and `plan.status`), asks
`plan.job.compute_job_actions`, and carries it out: new pods through `ownedpods.create`
(named `<job>-<5 random>` or, Indexed, `<job>-<index>-<5 random>`; the pod controller starts
them), active pods stopped through `ownedpods.delete`, the status written into the Job's
body when it changed, events recorded on the Job, and a Job whose ttlSecondsAfterFinished ran
out deleted with its pods. Pods left by a Job that is gone (deleted, or recreated under the
same name) are deleted, as the garbage collector does. Each pod that changes queues its
Job again (`ownedpods.owner_keys`); back-offs and deadlines come back as `requeue_after`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kubeplay import log
from kubeplay.engine import events, ownedpods
from kubeplay.engine import pods as engine_pods
from kubeplay.engine.controllers import keylock
from kubeplay.engine.host import Host
from kubeplay.engine.loop import ObjectKey, SyncResult
from kubeplay.errors import AlreadyExistsError, PermanentError
from kubeplay.kube import workloads
from kubeplay.plan import job as job_plan
from kubeplay.plan.job import JobBackoff, JobPod
from kubeplay.state.store import ObjectRecord, PodRecord

KIND = "Job"
GROUP = "batch"
RESYNC_SECONDS = 30.0

_log = log.get_logger(__name__)


def job_key(namespace: str, name: str) -> ObjectKey:
    return ObjectKey(KIND, namespace, name)


def _owner_of(pod: PodRecord) -> Mapping[str, Any]:
    ref = ownedpods.controller_ref(pod.manifest)
    return ref if ref.get("kind") == KIND else {}


def observe_pod(host: Host, pod: PodRecord) -> JobPod:
    """A pod of a Job as the Job controller sees it."""
    from kubeplay.plan import pods as plans
    from kubeplay.plan import status as status_mod

    plan = plans.from_json(pod.plan_json)
    observed = engine_pods.observe(host, pod)
    status = status_mod.derive_pod_status(plan, observed)
    phase = str(status.get("phase") or job_plan.PENDING)
    ends = [c.termination.finished_at for c in observed.containers.values() if c.termination]
    finished_at: float | None = None
    if phase in (job_plan.SUCCEEDED, job_plan.FAILED):
        finished_at = max(ends) if ends else (observed.started_at or pod.created_at)
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or ()
    )
    annotations = (pod.manifest.get("metadata") or {}).get("annotations") or {}
    index_text = str(annotations.get(job_plan.COMPLETION_INDEX, ""))
    return JobPod(
        name=pod.name,
        phase=phase,
        created_at=pod.created_at,
        finished_at=finished_at,
        terminating=pod.lifecycle == "terminating" or observed.terminating,
        ready=ready,
        restarts=sum(c.restart_count for c in observed.containers.values()),
        index=int(index_text) if index_text.isdigit() else None,
        exit_codes=tuple(
            (name, c.termination.exit_code)
            for name, c in sorted(observed.containers.items())
            if c.termination is not None
        ),
    )


def random_suffix() -> str:
    return "".join(secrets.choice(workloads.ALPHANUMS) for _ in range(workloads.RANDOM_LENGTH))


def delete_job(host: Host, rec: ObjectRecord, *, now: float) -> list[ObjectKey]:
    """Delete a Job and, in the background, its pods (they stop within their grace period):
    the pod keys to sync."""
    pods = ownedpods.owned(host.store, rec.uid, rec.namespace)
    for pod in pods:
        ownedpods.delete(host, pod, now=now)
    host.store.delete_records([rec.uid])
    return [ObjectKey("Pod", p.namespace, p.name) for p in pods]


class JobController:
    kinds = frozenset({KIND})

    def __init__(
        self,
        host: Host,
        *,
        clock: Callable[[], float] = time.time,
        backoff: JobBackoff | None = None,
        random: Callable[[], str] = random_suffix,
        held: frozenset[ObjectKey] = frozenset(),
        wait: bool = True,
    ) -> None:
        self.host = host
        self.clock = clock
        self.held = held  # keys whose lock the calling command holds already
        self.wait = wait  # a command waits for the Job's lock; the supervisor looks later
        if backoff is None:
            # the pod failure back-off follows the restart back-off's base (10 s by default;
            # KUBEPLAY_BACKOFF_BASE shortens both in tests), capped at 60 times it (10 min)
            base = host.settings.backoff_base
            backoff = JobBackoff(base=base, cap=base * job_plan.MAX_BACKOFF / 10.0)
        self.backoff = backoff
        self.random = random

    # --- Controller --------------------------------------------------------------------

    def keys(self) -> list[ObjectKey]:
        store = self.host.store
        jobs = store.list_records([KIND])
        found = {job_key(r.namespace, r.name) for r in jobs if r.api_group == GROUP}
        uids = {r.uid for r in jobs}
        for pod in store.list_pods():  # pods whose Job is gone: the sync deletes them
            ref = _owner_of(pod)
            if ref and ref.get("uid") not in uids:
                found.add(job_key(pod.namespace, str(ref.get("name") or "")))
        return sorted(found)

    def needed(self) -> bool:
        """An unfinished Job, or a finished one with a TTL to wait for."""
        for rec in self.host.store.list_records([KIND]):
            status = rec.body.get("status") or {}
            spec = rec.body.get("spec") or {}
            if not job_plan.finished_condition(status):
                if not spec.get("suspend"):
                    return True
            elif spec.get("ttlSecondsAfterFinished") is not None:
                return True
        return False

    def failed(self, key: ObjectKey, err: PermanentError, *, now: float) -> None:
        rec = self.host.store.get_record(GROUP, KIND, key.namespace, key.name)
        if rec is not None:
            self._event(rec, "Warning", "Failed", str(err), now=now)

    def sync(self, key: ObjectKey, *, now: float) -> SyncResult:
        return keylock.sync_locked(
            self.host,
            key,
            group=GROUP,
            held=self.held,
            wait=self.wait,
            sync=lambda: self._sync_locked(key, now=now),
        )

    # --- one Job -------------------------------------------------------------------------

    def _sync_locked(self, key: ObjectKey, *, now: float) -> SyncResult:
        store = self.host.store
        rec = store.get_record(GROUP, KIND, key.namespace, key.name)
        if rec is not None and rec.deleting_at is None:
            ownedpods.claim(self.host, rec, api_version="batch/v1")  # listed below by name
        pods = [p for p in store.list_pods(key.namespace) if _owner_of(p).get("name") == key.name]
        touched: list[ObjectKey] = []
        mine: list[PodRecord] = []
        for pod in pods:
            if rec is not None and rec.deleting_at is None and _owner_of(pod).get("uid") == rec.uid:
                mine.append(pod)
            elif pod.lifecycle != "terminating":  # an orphan: its Job is gone
                ownedpods.delete(self.host, pod, now=now)
                touched.append(ObjectKey("Pod", pod.namespace, pod.name))
        if rec is None or rec.deleting_at is not None:
            return SyncResult(also=tuple(touched))
        observed = [observe_pod(self.host, p) for p in mine]
        actions = job_plan.compute_job_actions(rec.body, observed, now=now, backoff=self.backoff)
        by_name = {p.name: p for p in mine}
        for name in actions.delete:
            victim = by_name.get(name)
            if victim is not None and victim.lifecycle != "terminating":
                ownedpods.delete(self.host, victim, now=now)
                touched.append(ObjectKey("Pod", victim.namespace, victim.name))
                self._event(rec, "Normal", "SuccessfulDelete", f"Deleted pod: {name}", now=now)
        if actions.delete_job:
            _log.info("job_ttl_expired", job=f"{rec.namespace}/{rec.name}")
            touched += delete_job(self.host, rec, now=now)
            return SyncResult(also=tuple(touched))
        if actions.create:
            touched += self._create(rec, actions.create, taken={p.name for p in pods}, now=now)
        for event in actions.events:
            self._event(rec, event.type, event.reason, event.message, now=now)
        self.host.store.set_record_status(rec.uid, actions.status)
        status = actions.status
        finished = bool(job_plan.finished_condition(status))
        ttl = (rec.body.get("spec") or {}).get("ttlSecondsAfterFinished")
        owner = ownedpods.controller_ref(rec.body)
        was_finished = bool(job_plan.finished_condition(rec.body.get("status") or {}))
        if finished and not was_finished and owner.get("kind") == "CronJob":
            touched.append(ObjectKey("CronJob", rec.namespace, str(owner.get("name") or "")))
        return SyncResult(
            requeue_after=actions.requeue_after,
            needs_supervisor=not finished or ttl is not None,
            also=tuple(touched),
        )

    def _create(
        self, rec: ObjectRecord, indexes: Sequence[int | None], *, taken: set[str], now: float
    ) -> list[ObjectKey]:
        bodies: list[dict[str, Any]] = []
        used = set(taken) | {p.name for p in self.host.store.list_pods(rec.namespace)}
        for index in indexes:
            base = job_plan.pod_base_name(rec.name, index)
            name = workloads.generated_name(base, self.random())
            while name in used:
                name = workloads.generated_name(base, self.random())
            used.add(name)
            body = job_plan.job_pod(rec.body, uid=rec.uid, index=index, name=name)
            body["metadata"]["namespace"] = rec.namespace
            bodies.append(body)
        try:
            created = ownedpods.create(self.host, bodies, origin=rec.origin, now=now)
        except AlreadyExistsError as err:  # a name taken meanwhile: the next sync draws again
            _log.warning("job_pod_exists", job=f"{rec.namespace}/{rec.name}", error=str(err))
            return []
        for note in created.notes:
            self._event(rec, "Warning", "FailedCreate", note, now=now)
        for pod in created.pods:
            self._event(rec, "Normal", "SuccessfulCreate", f"Created pod: {pod.name}", now=now)
        return [ObjectKey("Pod", p.namespace, p.name) for p in created.pods]

    def _event(
        self, rec: ObjectRecord, type_: str, reason: str, message: str, *, now: float
    ) -> None:
        events.record_about(self.host, rec, reason=reason, message=message, type=type_, at=now)
