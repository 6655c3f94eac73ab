"""The CronJob controller: makes each CronJob's Jobs on its schedule, one sync per key.

A sync takes the CronJob's key lock, reads its row and the Jobs it owns (rows whose
`owner_uid` is the CronJob's), loads its zone (`spec.timeZone`, UTC when unset), asks
`plan.cronjob.compute_cronjob_actions` and carries it out: a new Job row (named
`<cronjob>-<scheduled minute>`, so a schedule time never makes two, even across a
supervisor killed mid-sync), Jobs deleted with their pods (Replace, history limits), the
status written into the CronJob's body when it changed, events on the CronJob. The next
schedule time comes back as `requeue_after`: the loop's timer wakes the supervisor then,
and nothing else runs in between. The Job controller makes the new Job's pods (the Job's key
is in `also`). Jobs left by a CronJob that is gone are deleted, as the garbage collector
does. `clock` is the supervisor's: the e2e tests move it with KUBEPLAY_TEST_CLOCK_OFFSET.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
import uuid
from collections.abc import Callable
from typing import Any

from kubeplay import log
from kubeplay.engine import events
from kubeplay.engine.controllers import jobs as jobs_mod
from kubeplay.engine.controllers import keylock
from kubeplay.engine.host import Host
from kubeplay.engine.loop import ObjectKey, SyncResult
from kubeplay.errors import AlreadyExistsError, PermanentError
from kubeplay.kube import defaults
from kubeplay.plan import cronjob as cron_plan
from kubeplay.plan import job as job_plan
from kubeplay.state.store import ObjectRecord

KIND = "CronJob"
GROUP = "batch"
RESYNC_SECONDS = 30.0

_log = log.get_logger(__name__)


def cronjob_key(namespace: str, name: str) -> ObjectKey:
    return ObjectKey(KIND, namespace, name)


@functools.lru_cache(maxsize=64)
def load_zone(name: str) -> dt.tzinfo | None:
    """A CronJob's zone: UTC when unset (as a kubeadm or managed cluster's controller
    manager), the IANA zone `name`, or None when it does not load."""
    if not name:
        return dt.UTC
    import zoneinfo

    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # a directory, too long
        return None


def _child(rec: ObjectRecord) -> cron_plan.ChildJob:
    status = rec.body.get("status") or {}
    return cron_plan.ChildJob(
        name=rec.name,
        uid=rec.uid,
        finished=job_plan.finished_condition(status),
        started_at=job_plan.parse_time(status.get("startTime")),
        completed_at=job_plan.parse_time(status.get("completionTime")),
    )


def job_record(body: dict[str, Any], *, owner_uid: str, origin: str, now: float) -> ObjectRecord:
    """The row of a Job a CronJob (or `create job --from`) makes: defaulted as the API
    server stores it, with uid, creationTimestamp and generation."""
    uid = str(uuid.uuid4())
    body = defaults.default_object(body)
    meta = dict(body.get("metadata") or {})
    meta.update(uid=uid, creationTimestamp=job_plan.rfc3339(now), generation=1)
    body = {**body, "metadata": meta}
    return ObjectRecord(
        uid=uid,
        api_group=GROUP,
        kind="Job",
        namespace=str(meta.get("namespace") or "default"),
        name=str(meta.get("name") or ""),
        body=body,
        origin=origin,
        owner_uid=owner_uid,
        created_at=now,
        updated_at=now,
    )


class CronJobController:
    kinds = frozenset({KIND})

    def __init__(
        self,
        host: Host,
        *,
        clock: Callable[[], float] = time.time,
        held: frozenset[ObjectKey] = frozenset(),
        wait: bool = True,
    ) -> None:
        self.host = host
        self.clock = clock
        self.held = held  # keys whose lock the calling command holds already
        self.wait = wait  # a command waits for the CronJob's lock; the supervisor looks later

    def keys(self) -> list[ObjectKey]:
        store = self.host.store
        found = {
            cronjob_key(r.namespace, r.name)
            for r in store.list_records([KIND])
            if r.api_group == GROUP
        }
        uids = {r.uid for r in store.list_records([KIND])}
        for job in store.list_records(["Job"]):  # Jobs whose CronJob is gone
            ref = _controller(job)
            if ref and ref.get("kind") == KIND and ref.get("uid") not in uids:
                found.add(cronjob_key(job.namespace, str(ref.get("name") or "")))
        return sorted(found)

    def needed(self) -> bool:
        """Every CronJob that is not suspended waits for its next schedule time."""
        return any(
            not (r.body.get("spec") or {}).get("suspend")
            for r in self.host.store.list_records([KIND])
        )

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

    def _sync_locked(self, key: ObjectKey, *, now: float) -> SyncResult:
        store = self.host.store
        rec = store.get_record(GROUP, KIND, key.namespace, key.name)
        touched: list[ObjectKey] = []
        mine: list[ObjectRecord] = []
        for job in store.list_records(["Job"], key.namespace):
            ref = _controller(job)
            if ref.get("kind") != KIND or ref.get("name") != key.name:
                continue
            if rec is not None and rec.deleting_at is None and ref.get("uid") == rec.uid:
                mine.append(job)
            else:  # an orphan: its CronJob is gone
                touched += jobs_mod.delete_job(self.host, job, now=now)
        if rec is None or rec.deleting_at is not None:
            return SyncResult(also=tuple(touched))
        spec = rec.body.get("spec") or {}
        zone = load_zone(str(spec.get("timeZone") or ""))
        actions = cron_plan.compute_cronjob_actions(
            rec.body,
            [_child(j) for j in mine],
            uid=rec.uid,
            created_at=rec.created_at,
            now=now,
            zone=zone,
        )
        by_name = {j.name: j for j in mine}
        for name in actions.delete:
            gone = by_name.get(name)
            if gone is not None:
                touched += jobs_mod.delete_job(self.host, gone, now=now)
        status = actions.status
        if actions.create is not None:
            new = job_record(actions.create.body, owner_uid=rec.uid, origin=rec.origin, now=now)
            try:
                store.put_records([new])
            except AlreadyExistsError:  # made by an earlier sync whose status write was lost
                _log.info("cronjob_job_exists", job=new.name)
            else:
                _log.info(
                    "cronjob_job_created", cronjob=f"{rec.namespace}/{rec.name}", job=new.name
                )
                touched.append(jobs_mod.job_key(new.namespace, new.name))
                status = _with_uid(status, new)
        for event in actions.events:
            self._event(rec, event.type, event.reason, event.message, now=now)
        self.host.store.set_record_status(rec.uid, status)
        return SyncResult(
            requeue_after=actions.requeue_after,
            needs_supervisor=not spec.get("suspend"),
            also=tuple(touched),
        )

    def _event(
        self, rec: ObjectRecord, type_: str, reason: str, message: str, *, now: float
    ) -> None:
        events.record_about(self.host, rec, reason=reason, message=message, type=type_, at=now)


def _controller(rec: ObjectRecord) -> dict[str, Any]:
    for ref in (rec.body.get("metadata") or {}).get("ownerReferences") or ():
        if isinstance(ref, dict) and ref.get("controller"):
            return ref
    return {}


def _with_uid(status: dict[str, Any], job: ObjectRecord) -> dict[str, Any]:
    active = [
        {**ref, "uid": job.uid} if ref.get("name") == job.name else ref
        for ref in status.get("active") or ()
    ]
    return {**status, "active": active} if active else status
