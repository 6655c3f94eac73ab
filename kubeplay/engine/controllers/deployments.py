"""The Deployment controller: owns ReplicaSets `<deployment>-<pod-template-hash>` and rolls
between them, one sync per key.

A sync (under the Deployment's key lock) reads the Deployment and the ReplicaSets it owns,
counts their pods (ready, available after minReadySeconds, terminating ones), asks
`plan.deployment` what one step of the rollout is (create the new ReplicaSet, scale them,
delete those beyond revisionHistoryLimit) and writes it, with the Deployment's status and
conditions and its revision annotation. The ReplicaSets it created or scaled are returned as
keys to sync next (they make or delete the pods); a pod that changes queues its ReplicaSet,
whose status change queues this Deployment again, so each Ready-gated step follows at once.

A ReplicaSet's uid follows from its Deployment's uid and template hash (`kube.workloads`),
so `generate kube` and `get deployment` find a Deployment's pods as before. A Deployment that
is gone takes its ReplicaSets (and so their pods) with it.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from kubeplay import log
from kubeplay.engine import cascade, events, ownedpods
from kubeplay.engine.controllers import keylock
from kubeplay.engine.controllers.replicasets import observe_pod, record_event
from kubeplay.engine.host import Host
from kubeplay.engine.loop import ObjectKey, SyncResult
from kubeplay.errors import PermanentError
from kubeplay.kube import workloads
from kubeplay.plan import deployment as plan_dep
from kubeplay.plan import replicaset as plan_rs
from kubeplay.plan.deployment import ReplicaSetView
from kubeplay.state.store import ObjectRecord

KIND = "Deployment"
GROUP = "apps"
RS_KIND = "ReplicaSet"
RESYNC_SECONDS = 30.0

_log = log.get_logger(__name__)


def deployment_key(namespace: str, name: str) -> ObjectKey:
    return ObjectKey(KIND, namespace, name)


def _stamp(now: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))


def new_replicaset(
    deployment: ObjectRecord,
    create: plan_dep.NewReplicaSet,
    *,
    replicas: int,
    surge: int,
    now: float,
) -> ObjectRecord:
    """The ReplicaSet record of the Deployment's current template."""
    body = deployment.body
    spec = body.get("spec") or {}
    template = copy.deepcopy(dict(spec.get("template") or {}))
    tmeta = dict(template.get("metadata") or {})
    labels = {**(tmeta.get("labels") or {}), workloads.TEMPLATE_HASH_LABEL: create.template_hash}
    tmeta["labels"] = labels
    template["metadata"] = tmeta
    selector = copy.deepcopy(dict(spec.get("selector") or {}))
    selector["matchLabels"] = {
        **(selector.get("matchLabels") or {}),
        workloads.TEMPLATE_HASH_LABEL: create.template_hash,
    }
    owner = workloads.Workload(
        kind=KIND,
        namespace=deployment.namespace,
        name=deployment.name,
        uid=deployment.uid,
        manifest=body,
    )
    uid = owner.controller_uid if owner.template_hash == create.template_hash else ""
    if not uid:
        import uuid

        uid = str(uuid.uuid4())
    rs_spec: dict[str, Any] = {
        "replicas": create.replicas,
        "selector": selector,
        "template": template,
    }
    if spec.get("minReadySeconds"):
        rs_spec["minReadySeconds"] = spec["minReadySeconds"]
    meta: dict[str, Any] = {
        "name": create.name,
        "namespace": deployment.namespace,
        "labels": labels,
        "annotations": plan_dep.replicaset_annotations(
            body,
            replicas=replicas,
            max_replicas=replicas + surge,
            revision=create.revision,
        ),
        "ownerReferences": [
            ownedpods.owner_reference(
                api_version="apps/v1", kind=KIND, name=deployment.name, uid=deployment.uid
            )
        ],
        "uid": uid,
        "creationTimestamp": _stamp(now),
        "generation": 1,
    }
    return ObjectRecord(
        uid=uid,
        api_group=GROUP,
        kind=RS_KIND,
        namespace=deployment.namespace,
        name=create.name,
        body={"apiVersion": "apps/v1", "kind": RS_KIND, "metadata": meta, "spec": rs_spec},
        origin=deployment.origin,
        owner_uid=deployment.uid,
        created_at=now,
        updated_at=now,
    )


def _hash_of(rs: ObjectRecord) -> str:
    labels = (rs.body.get("metadata") or {}).get("labels") or {}
    return str(labels.get(workloads.TEMPLATE_HASH_LABEL) or "")


def _annotated(rs: ObjectRecord, name: str) -> int | None:
    annotations = (rs.body.get("metadata") or {}).get("annotations") or {}
    try:
        return int(str(annotations[name]))
    except (KeyError, ValueError):
        return None


def _revision(rs: ObjectRecord) -> int:
    return _annotated(rs, plan_dep.REVISION) or 0


class DeploymentController:
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
        self.held = held

    def keys(self) -> list[ObjectKey]:
        return [deployment_key(r.namespace, r.name) for r in self.host.store.list_records([KIND])]

    def needed(self) -> bool:
        """A Deployment whose rollout is under way (not complete, not timed out, not paused)
        needs the supervisor."""
        for rec in self.host.store.list_records([KIND]):
            spec = plan_dep.spec_of(rec.body)
            if spec.paused:
                continue
            status = rec.body.get("status") or {}
            conditions = status.get("conditions") or ()
            if any(
                c.get("type") == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded"
                for c in conditions
            ):
                continue
            done = (
                status.get("observedGeneration", 0) >= rec.generation
                and status.get("updatedReplicas") == spec.replicas
                and status.get("replicas") == spec.replicas
                and status.get("availableReplicas") == spec.replicas
            )
            if not done:
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
            return self._orphans(key)
        spec = plan_dep.spec_of(
            {
                **rec.body,
                "metadata": {**(rec.body.get("metadata") or {}), "generation": rec.generation},
            }
        )
        template = (rec.body.get("spec") or {}).get("template") or {}
        collisions = (rec.body.get("status") or {}).get("collisionCount")
        new_hash = workloads.template_hash(
            template, None if collisions is None else int(collisions)
        )
        owned = store.list_records([RS_KIND], rec.namespace, owner_uid=rec.uid)
        owned += self._adopt(rec, now=now)
        views: list[ReplicaSetView] = []
        for rs in owned:
            # the new ReplicaSet is the one with this template (FindNewReplicaSet compares
            # templates, not names: one named at a lower collisionCount is still it; without
            # a collision every name is the plain hash, so the label says it)
            rs_hash = _hash_of(rs)
            if (
                collisions is not None
                and rs_hash != new_hash
                and workloads.same_template(
                    (rs.body.get("spec") or {}).get("template") or {}, template
                )
            ):
                rs_hash = new_hash
            pods = ownedpods.owned(store, rs.uid, rs.namespace)
            seen = [observe_pod(self.host, p) for p in pods]
            rs_spec = rs.body.get("spec") or {}
            counts = plan_rs.compute_replicaset_status(
                seen,
                min_ready_seconds=spec.min_ready_seconds,
                observed_generation=rs.generation,
                now=now,
            )
            views.append(
                ReplicaSetView(
                    name=rs.name,
                    template_hash=rs_hash,
                    replicas=int(rs_spec.get("replicas") or 0),
                    created_at=rs.created_at,
                    revision=_revision(rs),
                    pods=counts["replicas"],
                    ready=counts["readyReplicas"],
                    available=counts["availableReplicas"],
                    all_pods=len(pods),
                    desired=_annotated(rs, plan_dep.DESIRED_REPLICAS),
                    max_replicas=_annotated(rs, plan_dep.MAX_REPLICAS),
                )
            )
        actions = plan_dep.compute_deployment_actions(
            spec, views, new_hash=new_hash, status=rec.body.get("status"), now=now
        )
        surge = plan_dep.max_surge(spec)
        also: list[ObjectKey] = []
        by_name = {r.name: r for r in owned}
        writes: list[ObjectRecord] = []
        revision = max((_revision(r) for r in owned), default=0)
        if actions.create is not None:
            taken = store.get_record(GROUP, RS_KIND, rec.namespace, actions.create.name)
            if taken is not None:  # another template holds the name: a hash collision
                return self._collided(rec, taken, now=now)
            writes.append(
                new_replicaset(rec, actions.create, replicas=spec.replicas, surge=surge, now=now)
            )
            revision = actions.create.revision
            record_event(
                self.host,
                rec,
                reason="ScalingReplicaSet",
                message=f"Scaled up replica set {actions.create.name} from 0 to "
                f"{actions.create.replicas}",
            )
        for name in set(actions.scale) | set(actions.revision):
            rs = by_name[name]
            body = copy.deepcopy(rs.body)
            meta = body.setdefault("metadata", {})
            notes = dict(meta.get("annotations") or {})
            generation = rs.generation
            if name in actions.scale:  # a size, or only the annotations, to write
                old = int((body.get("spec") or {}).get("replicas") or 0)
                new = actions.scale[name]
                notes[plan_dep.DESIRED_REPLICAS] = str(spec.replicas)
                notes[plan_dep.MAX_REPLICAS] = str(spec.replicas + surge)
                if new != old:
                    body.setdefault("spec", {})["replicas"] = new
                    generation += 1
                    verb = "up" if new > old else "down"
                    record_event(
                        self.host,
                        rec,
                        reason="ScalingReplicaSet",
                        message=f"Scaled {verb} replica set {name} from {old} to {new}",
                    )
            if name in actions.revision:
                number, history = actions.revision[name]
                notes[plan_dep.REVISION] = str(number)
                if history:
                    previous = notes.get(plan_dep.REVISION_HISTORY)
                    notes[plan_dep.REVISION_HISTORY] = (
                        f"{previous},{history}" if previous else history
                    )
                revision = max(revision, number)
            meta["annotations"] = notes
            meta["generation"] = generation
            if body == rs.body:
                continue
            writes.append(
                replace(rs, body=body, generation=generation, content_hash="", updated_at=now)
            )
        new_rs = next((r for r in owned if _hash_of(r) == new_hash), None)
        if new_rs is not None and new_rs.name not in actions.revision:
            revision = max(revision, _revision(new_rs))
        with store.batch():
            if writes:
                store.put_records(writes)
            if actions.delete:
                store.delete_records([by_name[n].uid for n in actions.delete])
            self._write_status(rec, actions.status, revision=revision, now=now)
        also.extend(ObjectKey(RS_KIND, rec.namespace, w.name) for w in writes)
        if actions.create is not None or actions.scale:
            _log.info(
                "deployment_step",
                deployment=f"{rec.namespace}/{rec.name}",
                create=actions.create.name if actions.create else "",
                scale=dict(actions.scale),
            )
        return SyncResult(
            requeue_after=actions.requeue_after,
            needs_supervisor=actions.rolling,
            also=tuple(also),
        )

    def _adopt(self, rec: ObjectRecord, *, now: float) -> list[ObjectRecord]:
        """ClaimReplicaSets: ReplicaSets of its namespace with no controller whose labels its
        selector matches become its own (left by `delete --cascade=orphan`); they are then
        its new or old ReplicaSets like any other."""
        ref = ownedpods.owner_reference(
            api_version="apps/v1", kind=KIND, name=rec.name, uid=rec.uid
        )
        adopted = cascade.adopt_records(self.host.store, rec, RS_KIND, ref=ref, now=now)
        for rs in adopted:
            _log.info("replicaset_adopted", deployment=f"{rec.namespace}/{rec.name}", rs=rs.name)
        return adopted

    def _collided(self, rec: ObjectRecord, taken: ObjectRecord, *, now: float) -> SyncResult:
        """getNewReplicaSet on AlreadyExists: bump status.collisionCount (the template then
        hashes to another name) and sync again."""
        status = dict(rec.body.get("status") or {})
        count = int(status.get("collisionCount") or 0) + 1
        status["collisionCount"] = count
        _log.info(
            "deployment_hash_collision",
            deployment=f"{rec.namespace}/{rec.name}",
            replicaset=taken.name,
            collision_count=count,
        )
        body = {**rec.body, "status": status}
        self.host.store.put_records([replace(rec, body=body, content_hash="", updated_at=now)])
        return SyncResult(requeue_after=0.0, needs_supervisor=True)

    def _write_status(
        self, rec: ObjectRecord, status: Mapping[str, Any], *, revision: int, now: float
    ) -> None:
        body = copy.deepcopy(rec.body)
        meta = body.setdefault("metadata", {})
        notes = dict(meta.get("annotations") or {})
        if revision and notes.get(plan_dep.REVISION) != str(revision):
            notes[plan_dep.REVISION] = str(revision)
            meta["annotations"] = notes
        body["status"] = dict(status)
        if body == rec.body:
            return
        self.host.store.put_records([replace(rec, body=body, content_hash="", updated_at=now)])

    def _orphans(self, key: ObjectKey) -> SyncResult:
        """The Deployment is gone: its ReplicaSets go (their controller then removes the
        pods)."""
        gone: list[ObjectRecord] = []
        for rs in self.host.store.list_records([RS_KIND], key.namespace):
            ref = ownedpods.controller_ref(rs.body)
            if ref.get("kind") != KIND or ref.get("name") != key.name:
                continue
            if self.host.store.get_record_by_uid(str(ref.get("uid") or "")) is None:
                gone.append(rs)
        if gone:
            self.host.store.delete_records([r.uid for r in gone])
        return SyncResult(
            needs_supervisor=bool(gone),
            also=tuple(ObjectKey(RS_KIND, r.namespace, r.name) for r in gone),
        )
