"""The StatefulSet controller: one sync per set key, on the supervisor's loop or in a command.

A sync (under the set's key lock) reads the set, its ControllerRevisions and its pods
(`engine.ownedpods.owned`), observes each pod (phase, Ready, terminating), asks
`plan.revisions` which revisions are current and update and `plan.statefulset` what to do,
then acts: it stores a new revision, deletes pods (`ownedpods.delete`: the pod controller
stops them within their grace period), makes each new pod's claims (a PersistentVolumeClaim
row and its named volume, kept when the pod goes unless the retention policy says Delete)
and then the pod (`ownedpods.create`; the pod controller starts it), prunes old revisions and
writes the status when it changed. Events are the controller's (SuccessfulCreate,
SuccessfulDelete, RecreatingFailedPod). The pods it touched are returned in
`SyncResult.also`, so the pod controller starts or stops them at once; a pod's change brings
the set back (the supervisor's pod watcher), so OrderedReady moves one pod per change.

A set whose row is gone (deleted) has its pods deleted, its revisions removed, and the
claims its `whenDeleted: Delete` policy gave it removed once its pods are gone (the garbage
collector's part in a cluster).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kubeplay import log
from kubeplay.engine import cascade, events, ownedpods
from kubeplay.engine.controllers import keylock
from kubeplay.engine.controllers import revisions as revision_store
from kubeplay.engine.host import Host
from kubeplay.engine.loop import ObjectKey, SyncResult
from kubeplay.errors import KubeplayError, PermanentError
from kubeplay.kube import workloads
from kubeplay.plan import revisions as revisions_mod
from kubeplay.plan import statefulset as sts
from kubeplay.state.store import ObjectRecord, PodRecord

KIND = "StatefulSet"
GROUP = "apps"
CLAIM_KIND = "PersistentVolumeClaim"

_log = log.get_logger(__name__)


def set_key(namespace: str, name: str) -> ObjectKey:
    return ObjectKey(KIND, namespace, name)


def observe_pod(host: Host, rec: PodRecord) -> tuple[str, bool, float | None]:
    """(phase, Ready, since when Ready) of a pod, as its status shows them. kubeplay keeps
    no Ready transition time: the latest container start stands in for it."""
    from kubeplay.engine import pods
    from kubeplay.plan import pods as plans
    from kubeplay.plan import status as status_mod

    plan = plans.from_json(rec.plan_json)
    observed = pods.observe(host, rec)
    status = status_mod.derive_pod_status(plan, observed)
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions", ())
    )
    starts = [c.started_at for c in observed.containers.values() if c.started_at is not None]
    return str(status.get("phase", "Pending")), ready, (max(starts) if ready and starts else None)


def member(host: Host, rec: PodRecord) -> sts.MemberPod:
    phase, ready, since = observe_pod(host, rec)
    labels = (rec.manifest.get("metadata") or {}).get("labels") or {}
    return sts.MemberPod(
        name=rec.name,
        revision=str(labels.get(sts.REVISION_LABEL, "")),
        phase=phase,
        ready=ready,
        ready_since=since,
        terminating=rec.lifecycle == "terminating",
    )


def settled(rec: ObjectRecord) -> bool:
    """Whether the set's last written status shows nothing left to do: every replica Ready
    at the update revision, for this generation."""
    spec = sts.spec_of(rec.body, uid=rec.uid, generation=rec.generation)
    status = rec.body.get("status") or {}
    return (
        status.get("observedGeneration") == rec.generation
        and status.get("replicas", 0) == spec.replicas
        and status.get("readyReplicas", 0) == spec.replicas
        and status.get("availableReplicas", 0) == spec.replicas
        and (
            spec.update_type != sts.ROLLING_UPDATE
            or status.get("currentRevision") == status.get("updateRevision")
        )
    )


def remove_claim(host: Host, namespace: str, name: str) -> None:
    """A claim and its data: the PersistentVolumeClaim row and the named volume."""
    from kubeplay.engine import volumes

    row = host.store.get_record("", CLAIM_KIND, namespace, name)
    if row is not None:
        host.store.delete_records([row.uid])
    if host.store.get_volume(name) is not None:
        volumes.remove_named_volume(host, name)
    _log.info("claim_removed", claim=f"{namespace}/{name}")


def claim_names(host: Host, rec: ObjectRecord) -> list[str]:
    """The claims stored for a set's ordinals (`<template>-<set>-<n>`)."""
    spec = sts.spec_of(rec.body, uid=rec.uid)
    prefixes = tuple(f"{t}-{spec.name}-" for t in spec.claim_templates)
    return [
        row.name
        for row in host.store.list_records([CLAIM_KIND], rec.namespace)
        if any(row.name.startswith(p) and row.name[len(p) :].isdigit() for p in prefixes)
    ]


class StatefulSetController:
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
        self.wait = wait  # a command waits for the set's lock; the supervisor looks later

    # --- Controller ----------------------------------------------------------------------

    def keys(self) -> list[ObjectKey]:
        return sorted(set_key(r.namespace, r.name) for r in self.host.store.list_records([KIND]))

    def needed(self) -> bool:
        return not all(settled(r) for r in self.host.store.list_records([KIND]))

    def failed(self, key: ObjectKey, err: PermanentError, *, now: float) -> None:
        rec = self.host.store.get_record(GROUP, KIND, key.namespace, key.name)
        if rec is not None:
            self._event(rec, "FailedSync", str(err), type=events.WARNING)

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
        rec = self.host.store.get_record(GROUP, KIND, key.namespace, key.name)
        if rec is None:
            return self._collect(key)
        return self._sync(rec, now=now)

    # --- one set -------------------------------------------------------------------------

    def _event(self, rec: ObjectRecord, reason: str, message: str, *, type: str = "") -> None:
        events.record_about(self.host, rec, reason=reason, message=message, type=type or "Normal")

    def _revisions(self, rec: ObjectRecord) -> list[ObjectRecord]:
        store = self.host.store
        return store.list_records([revisions_mod.KIND], rec.namespace, owner_uid=rec.uid)

    def _sync(self, rec: ObjectRecord, *, now: float) -> SyncResult:
        store = self.host.store
        spec = sts.spec_of(rec.body, uid=rec.uid, generation=rec.generation)
        template = (rec.body.get("spec") or {}).get("template") or {}
        # ClaimControllerRevisions: those a `delete --cascade=orphan` released (the same
        # template finds its revision again instead of clashing with its name)
        cascade.adopt_records(
            store, rec, revisions_mod.KIND, ref=sts.owner_reference(spec), now=now
        )
        stored = self._revisions(rec)
        status = rec.body.get("status") or {}
        chosen = revisions_mod.compute_revisions(
            spec.name,
            template,
            [revisions_mod.revision_of(r.body) for r in stored],
            current_name=str(status.get("currentRevision") or ""),
        )
        revision_store.store_revision(
            self.host.store, rec, chosen, stored, owner=sts.owner_reference(spec), now=now
        )
        owned = ownedpods.claim(
            self.host,
            rec,
            api_version="apps/v1",
            member=lambda p: workloads.statefulset_member(rec.name, p.name),
        )
        by_name = {p.name: p for p in owned}
        members = [member(self.host, p) for p in owned]
        todo = sts.compute_statefulset_actions(spec, members, chosen, now=now)
        touched: list[ObjectKey] = []
        for gone in todo.delete:
            pod = by_name.get(gone.name)
            if pod is None:
                continue
            ownedpods.delete(self.host, pod, now=now)
            touched.append(ObjectKey("Pod", pod.namespace, pod.name))
            if gone.reason is sts.DeleteReason.ENDED:
                self._event(
                    rec,
                    "RecreatingFailedPod",
                    f"StatefulSet {rec.namespace}/{rec.name} is recreating failed Pod {pod.name}",
                    type=events.WARNING,
                )
            self._event(
                rec,
                "SuccessfulDelete",
                f"delete Pod {pod.name} in StatefulSet {rec.name} successful",
            )
        if todo.create:
            touched += self._create(rec, spec, todo.create, [chosen.current, chosen.update])
        self._collect_scaled_claims(rec, spec, by_name)
        live = [chosen.current.name, chosen.update.name, *(m.revision for m in members)]
        revision_store.prune_revisions(
            store, self._revisions(rec), live=live, limit=spec.history_limit
        )
        if todo.stuck:
            self._event(rec, "RolloutBlocked", todo.waiting, type=events.WARNING)
        if todo.waiting:
            _log.info(
                "statefulset_waiting", statefulset=f"{rec.namespace}/{rec.name}", why=todo.waiting
            )
        store.set_record_status(rec.uid, {**todo.status, "collisionCount": 0})
        fresh = store.get_record_by_uid(rec.uid) or rec
        return SyncResult(
            requeue_after=todo.requeue_after,
            needs_supervisor=not settled(fresh),
            also=tuple(touched),
        )

    def _create(
        self,
        rec: ObjectRecord,
        spec: sts.StatefulSetSpec,
        creates: Sequence[sts.PodCreate],
        known: Sequence[revisions_mod.Revision],
    ) -> list[ObjectKey]:
        by_name = {r.name: r for r in known}
        bodies: list[dict[str, Any]] = []
        for item in creates:
            self._ensure_claims(rec, spec, item)
            bodies.append(sts.pod_manifest(rec.body, spec, item.ordinal, by_name[item.revision]))
        try:
            created = ownedpods.create(self.host, bodies, origin=rec.origin)
        except KubeplayError as err:  # the loop retries the set with back-off
            names = ", ".join(item.name for item in creates)
            message = f"create Pod {names} in StatefulSet {rec.name} failed error: {err}"
            self._event(rec, "FailedCreate", message, type=events.WARNING)
            raise
        for note in created.notes:  # the pod waits ErrImagePull: its own events say so
            _log.info("statefulset_pod_image", statefulset=rec.name, note=note)
        for pod in created.pods:
            self._event(
                rec,
                "SuccessfulCreate",
                f"create Pod {pod.name} in StatefulSet {rec.name} successful",
            )
        return [ObjectKey("Pod", p.namespace, p.name) for p in created.pods]

    def _ensure_claims(
        self, rec: ObjectRecord, spec: sts.StatefulSetSpec, item: sts.PodCreate
    ) -> None:
        """The pod's claims, made before it: a PersistentVolumeClaim row (owned by the set
        when `whenDeleted: Delete`) and the named volume holding its data. A claim that
        exists (the pod was deleted and comes back) is used as it is, data and all."""
        import uuid

        from kubeplay.engine import volumes

        store = self.host.store
        for claim in sts.claim_manifests(rec.body, spec, item.ordinal):
            name = str(claim["metadata"]["name"])
            if store.get_record("", CLAIM_KIND, rec.namespace, name) is None:
                at = self.clock()
                store.put_records(
                    [
                        ObjectRecord(
                            uid=str(uuid.uuid4()),
                            api_group="",
                            kind=CLAIM_KIND,
                            namespace=rec.namespace,
                            name=name,
                            body=claim,
                            origin=rec.origin,
                            owner_uid=rec.uid if spec.when_deleted == sts.DELETE else "",
                            created_at=at,
                            updated_at=at,
                        )
                    ]
                )
                self._event(
                    rec,
                    "SuccessfulCreate",
                    f"create Claim {name} Pod {item.name} in StatefulSet {rec.name} success",
                )
            volumes.ensure_named_volume(
                self.host, name, namespace=rec.namespace, source=rec.origin, claim=claim
            )

    def _remove_claim(self, namespace: str, name: str) -> None:
        remove_claim(self.host, namespace, name)

    def _collect_scaled_claims(
        self, rec: ObjectRecord, spec: sts.StatefulSetSpec, pods: Mapping[str, PodRecord]
    ) -> None:
        """whenScaled: Delete: the claims of ordinals beyond the set go once their pod has."""
        if spec.when_scaled != sts.DELETE or not spec.claim_templates:
            return
        prefixes = tuple(f"{t}-{spec.name}-" for t in spec.claim_templates)
        for row in self.host.store.list_records([CLAIM_KIND], rec.namespace):
            prefix = next((p for p in prefixes if row.name.startswith(p)), None)
            suffix = row.name[len(prefix) :] if prefix is not None else ""
            if not suffix.isdigit():
                continue
            ordinal = int(suffix)
            if ordinal in spec.ordinals or spec.pod_name(ordinal) in pods:
                continue
            self._remove_claim(rec.namespace, row.name)

    def _collect(self, key: ObjectKey) -> SyncResult:
        """The set is gone: delete its pods, then its revisions and the claims it owned."""
        store = self.host.store
        pods = [
            p
            for p in store.list_pods(key.namespace)
            if ownedpods.controller_ref(p.manifest).get("kind") == KIND
            and ownedpods.controller_ref(p.manifest).get("name") == key.name
        ]
        uids = {str(ownedpods.controller_ref(p.manifest).get("uid", "")) for p in pods}
        revisions = [
            r
            for r in store.list_records([revisions_mod.KIND], key.namespace)
            if ownedpods.controller_ref(r.body).get("kind") == KIND
            and ownedpods.controller_ref(r.body).get("name") == key.name
        ]
        uids |= {r.owner_uid for r in revisions}
        for pod in pods:
            if pod.lifecycle != "terminating":
                ownedpods.delete(self.host, pod)
        if pods:
            return SyncResult(
                needs_supervisor=True,
                also=tuple(ObjectKey("Pod", p.namespace, p.name) for p in pods),
            )
        store.delete_records([r.uid for r in revisions])
        for row in store.list_records([CLAIM_KIND], key.namespace):
            if row.owner_uid and row.owner_uid in uids:
                self._remove_claim(key.namespace, row.name)
        return SyncResult()
