"""The ReplicaSet controller: keeps `spec.replicas` pods of each ReplicaSet, one sync per key.

A sync (under the ReplicaSet's key lock, so a command's in-process sync and the supervisor's
never overlap) observes the pods it owns (`engine.ownedpods.owned`), asks
`plan.replicaset` how many to create and which to delete, creates them from its template
(names `<rs>-<5 random characters>`, labels, ownerReference) in slow-start batches 1, 2,
4, ... stopping at the first error, marks the victims terminating (the pod controller stops
them within their grace period), and writes its status. It returns the pod keys it touched
and, when what it sees of its pods changed since the last time it told its Deployment (or on
its first sync in this process), its Deployment's key, so both are looked at next.

A ReplicaSet that is gone (deleted, pruned) takes its pods with it (background cascading):
its pods are marked terminating.
"""

from __future__ import annotations

import copy
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from kubeplay import log
from kubeplay.engine import events, ownedpods
from kubeplay.engine.controllers import keylock
from kubeplay.engine.host import Host
from kubeplay.engine.loop import ObjectKey, SyncResult
from kubeplay.errors import KubeplayError, PermanentError
from kubeplay.kube import workloads
from kubeplay.plan import replicaset as plan_rs
from kubeplay.plan.replicaset import OwnedPod
from kubeplay.state.store import ObjectRecord, PodRecord

KIND = "ReplicaSet"
GROUP = "apps"
RESYNC_SECONDS = 30.0

_log = log.get_logger(__name__)


# Events about a ReplicaSet or a Deployment (the deployment controller uses it too).
record_event = events.record_about


def rs_key(namespace: str, name: str) -> ObjectKey:
    return ObjectKey(KIND, namespace, name)


def random_suffix() -> str:
    """RANDOM_LENGTH characters of the apiserver's alphabet (utilrand.String)."""
    return "".join(secrets.choice(workloads.ALPHANUMS) for _ in range(workloads.RANDOM_LENGTH))


def observe_pod(host: Host, rec: PodRecord) -> OwnedPod:
    """What the ReplicaSet and Deployment controllers see of a pod: phase, scheduled,
    Ready and since when (the readiness result's time, else the last container start)."""
    from kubeplay.engine import pods
    from kubeplay.plan import pods as plans
    from kubeplay.plan import status as status_mod

    plan = plans.from_json(rec.plan_json)
    observed = pods.observe(host, rec)
    status = status_mod.derive_pod_status(plan, observed)
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status["conditions"]
    )
    since: float | None = None
    if ready:
        probed = host.store.get_probe_states(rec.uid)
        times = [
            probed[c.name].updated_at
            if c.name in probed and c.readiness is not None
            else observed.get(c.name).started_at
            for c in plan.containers
        ]
        known = [t for t in times if t is not None]
        since = max(known) if known else rec.started_at
    meta = rec.manifest.get("metadata") or {}
    return OwnedPod(
        name=rec.name,
        created_at=rec.created_at,
        phase=str(status["phase"]),
        scheduled=rec.lifecycle != ownedpods.PENDING,
        ready=ready,
        ready_since=since,
        restarts=sum(c.restart_count for c in observed.containers.values()),
        deletion_cost=plan_rs.deletion_cost(meta.get("annotations")),
        terminating=rec.lifecycle == "terminating",
    )


def pod_bodies(
    rs: ObjectRecord, count: int, *, taken: set[str], suffix: Callable[[], str] = random_suffix
) -> list[dict[str, Any]]:
    """`count` new pods from the ReplicaSet's template, as its controller makes them."""
    spec = rs.body.get("spec") or {}
    template = spec.get("template") or {}
    tmeta = template.get("metadata") or {}
    base = f"{rs.name}-"
    out: list[dict[str, Any]] = []
    for _ in range(count):
        name = workloads.generated_name(base, suffix())
        while name in taken:
            name = workloads.generated_name(base, suffix())
        taken.add(name)
        meta: dict[str, Any] = {
            "name": name,
            "generateName": base,
            "namespace": rs.namespace,
            "labels": dict(tmeta.get("labels") or {}),
        }
        if tmeta.get("annotations"):
            meta["annotations"] = dict(tmeta["annotations"])
        meta["ownerReferences"] = [
            ownedpods.owner_reference(api_version="apps/v1", kind=KIND, name=rs.name, uid=rs.uid)
        ]
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": meta,
                "spec": copy.deepcopy(dict(template.get("spec") or {})),
            }
        )
    return out


def _replicas(body: Mapping[str, Any]) -> int:
    value = (body.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


class ReplicaSetController:
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
        self.wait = wait  # a command waits for the object's lock; the supervisor looks later
        self.held = held  # keys whose lock the calling command holds already
        # what each ReplicaSet's owner was last told of it: uid, generation, its pods as seen
        # and its status (availability after minReadySeconds changes with time alone)
        self._told: dict[ObjectKey, tuple[str, int, tuple[OwnedPod, ...], dict[str, Any]]] = {}

    def keys(self) -> list[ObjectKey]:
        return [rs_key(r.namespace, r.name) for r in self.host.store.list_records([KIND])]

    def needed(self) -> bool:
        """A ReplicaSet with fewer or more pods than it wants needs the supervisor."""
        for rec in self.host.store.list_records([KIND]):
            active = [
                p
                for p in ownedpods.owned(self.host.store, rec.uid, rec.namespace)
                if p.lifecycle != "terminating"
            ]
            if len(active) != _replicas(rec.body):
                return True
        return False

    def failed(self, key: ObjectKey, err: PermanentError, *, now: float) -> None:
        rec = self.host.store.get_record(GROUP, KIND, key.namespace, key.name)
        if rec is not None:
            record_event(self.host, rec, type=events.WARNING, reason="Failed", message=str(err))

    def sync(self, key: ObjectKey, *, now: float) -> SyncResult:
        return keylock.sync_locked(
            self.host,
            key,
            group=GROUP,
            held=self.held,
            wait=self.wait,
            sync=lambda: self._sync(key, now=now),
        )

    def _sync(self, key: ObjectKey, *, now: float) -> SyncResult:
        store = self.host.store
        rec = store.get_record(GROUP, KIND, key.namespace, key.name)
        if rec is None:
            self._told.pop(key, None)
            return self._orphans(key, now=now)
        pods = ownedpods.claim(self.host, rec, api_version="apps/v1")
        seen = [observe_pod(self.host, p) for p in pods]
        spec = rec.body.get("spec") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        actions = plan_rs.compute_replicaset_actions(
            _replicas(rec.body), seen, min_ready_seconds=min_ready, now=now
        )
        touched: list[ObjectKey] = []
        by_name = {p.name: p for p in pods}
        for name in actions.delete:
            ownedpods.delete(self.host, by_name[name], now=now)
            touched.append(ObjectKey("Pod", rec.namespace, name))
        if actions.delete:
            _log.info(
                "replicaset_scaled_down", rs=f"{rec.namespace}/{rec.name}", pods=actions.delete
            )
        made, error = self._create(rec, actions.create, now=now)
        touched.extend(ObjectKey("Pod", p.namespace, p.name) for p in made)
        if actions.delete or made:
            pods = ownedpods.owned(store, rec.uid, rec.namespace)
            seen = [observe_pod(self.host, p) for p in pods]
        status = plan_rs.compute_replicaset_status(
            seen, min_ready_seconds=min_ready, observed_generation=rec.generation, now=now
        )
        also = list(touched)
        if status != rec.body.get("status"):
            self._write_status(rec, status, now=now)
        # its owner looks again when anything it sees of the ReplicaSet changed since it was
        # last told: counts, a pod's readiness, a terminating pod gone (Recreate and the
        # history limit wait for that); a resync of a settled ReplicaSet queues no owner
        told = (rec.uid, rec.generation, tuple(seen), status)
        owner = ownedpods.controller_ref(rec.body)
        if (self._told.get(key) != told or touched) and error is None:
            self._told[key] = told
            if isinstance(owner.get("kind"), str) and isinstance(owner.get("name"), str):
                also.append(ObjectKey(owner["kind"], rec.namespace, owner["name"]))
        if error is not None:
            raise error
        settling = any(p.terminating for p in seen) or len(
            [p for p in seen if p.active]
        ) != _replicas(rec.body)
        return SyncResult(
            requeue_after=actions.requeue_after,
            needs_supervisor=settling or actions.requeue_after is not None,
            also=tuple(also),
        )

    def _create(
        self, rec: ObjectRecord, count: int, *, now: float
    ) -> tuple[list[PodRecord], KubeplayError | None]:
        """slowStartBatch: 1, 2, 4, ... pods, stopping at the first batch that fails."""
        made: list[PodRecord] = []
        if count <= 0:
            return made, None
        taken = {p.name for p in self.host.store.list_pods(rec.namespace)}
        batch = 1
        left = count
        while left > 0:
            size = min(batch, left)
            bodies = pod_bodies(rec, size, taken=taken)
            try:
                created = ownedpods.create(self.host, bodies, origin=rec.origin, now=now)
            except KubeplayError as err:
                record_event(
                    self.host,
                    rec,
                    type=events.WARNING,
                    reason="FailedCreate",
                    message=f"Error creating: {err}",
                )
                return made, err
            for pod in created.pods:
                record_event(
                    self.host,
                    rec,
                    reason="SuccessfulCreate",
                    message=f"Created pod: {pod.name}",
                )
            made.extend(created.pods)
            left -= size
            batch *= 2
        _log.info("replicaset_scaled_up", rs=f"{rec.namespace}/{rec.name}", pods=len(made))
        return made, None

    def _write_status(self, rec: ObjectRecord, status: Mapping[str, Any], *, now: float) -> None:
        fresh = self.host.store.get_record_by_uid(rec.uid) or rec
        body = {**fresh.body, "status": dict(status)}
        self.host.store.put_records([replace(fresh, body=body, content_hash="", updated_at=now)])

    def _orphans(self, key: ObjectKey, *, now: float) -> SyncResult:
        """The ReplicaSet is gone: its pods go too (found by their ownerReference's name,
        as its uid went with the row)."""
        touched: list[ObjectKey] = []
        for pod in self.host.store.list_pods(key.namespace):
            ref = ownedpods.controller_ref(pod.manifest)
            if ref.get("kind") != KIND or ref.get("name") != key.name:
                continue
            if self.host.store.get_record_by_uid(str(ref.get("uid") or "")) is not None:
                continue
            if pod.lifecycle != "terminating":
                ownedpods.delete(self.host, pod, now=now)
            touched.append(ObjectKey("Pod", pod.namespace, pod.name))
        return SyncResult(needs_supervisor=bool(touched), also=tuple(touched))
