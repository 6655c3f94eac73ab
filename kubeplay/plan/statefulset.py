"""StatefulSet: what its controller does next, from the set, its pods and its revisions.

Follows `pkg/controller/statefulset/` (stateful_set_control.go `updateStatefulSet`,
`processReplica`, `processCondemned`; stateful_set_utils.go `newVersionedStatefulSetPod`,
`getPersistentVolumeClaims`, `initIdentity`):

- pods are `<set>-<ordinal>` for ordinals `start .. start+replicas-1` (`spec.ordinals.start`),
  hostname the pod's name, subdomain `serviceName`, labelled `statefulset.kubernetes.io/
  pod-name`, `apps.kubernetes.io/pod-index` and `controller-revision-hash`; each has a claim
  `<template>-<set>-<ordinal>` per volumeClaimTemplate, made before the pod and kept unless
  `persistentVolumeClaimRetentionPolicy` says Delete;
- OrderedReady (monotonic): one pod created at a time, each only once every lower ordinal is
  Running and Ready (and available after `minReadySeconds`); any unhealthy pod halts
  progress; scale-down removes the highest ordinal first, one at a time, each after the
  previous has terminated. Parallel: every missing pod at once, every condemned pod at once;
- a Failed or Succeeded pod is deleted (and made again on a later sync);
- RollingUpdate: once every replica is healthy, the highest ordinal not at the update
  revision (down to `partition`) is deleted, one at a time; a pod created below the partition
  gets the current revision; OnDelete updates a pod only when it is deleted by hand;
- revisions (ControllerRevisions) are named `<set>-<hash of the defaulted template>`; a
  template equal to an older revision's takes that revision back with a new number; history
  beyond `revisionHistoryLimit` that no pod uses is pruned, oldest first.

The known trap is kept, with a hint: a pod of a broken revision that never gets Ready blocks
the rollout even after the template is fixed (k8s #67250, "Forced rollback"); `waiting` names
the pod to delete. No I/O, no clock: `now` is passed in.
"""

from __future__ import annotations

import copy
import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubeplay.kube import workloads
from kubeplay.plan.revisions import Revision, RevisionPlan

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
REVISION_LABEL = "controller-revision-hash"
ORDERED_READY = "OrderedReady"
PARALLEL = "Parallel"
ROLLING_UPDATE = "RollingUpdate"
ON_DELETE = "OnDelete"
RETAIN = "Retain"
DELETE = "Delete"
_ORDINAL = re.compile(r"^(.*)-([0-9]+)$")


class DeleteReason(enum.StrEnum):
    ENDED = "Ended"  # Failed or Succeeded: deleted, made again on a later sync
    SCALE_DOWN = "ScaleDown"
    UPDATE = "Update"


@dataclass(frozen=True, slots=True)
class MemberPod:
    """A pod of the set as observed: its phase, readiness and revision label."""

    name: str
    revision: str = ""
    phase: str = "Pending"
    ready: bool = False
    ready_since: float | None = None  # when it last became Ready (minReadySeconds)
    terminating: bool = False

    @property
    def running_and_ready(self) -> bool:
        return self.phase == "Running" and self.ready

    @property
    def ended(self) -> bool:
        return self.phase in ("Failed", "Succeeded")

    def available(self, min_ready: int, now: float) -> bool:
        """podutil.IsPodAvailable: Ready for at least minReadySeconds."""
        if not self.running_and_ready:
            return False
        if min_ready <= 0:
            return True
        return self.ready_since is not None and self.ready_since + min_ready <= now

    def unavailable(self, min_ready: int, now: float) -> bool:
        """isUnavailable: not healthy (Running, Ready, not terminating) or not yet available."""
        return self.terminating or not self.available(min_ready, now)


@dataclass(frozen=True, slots=True)
class StatefulSetSpec:
    """The fields of a (defaulted) StatefulSet the controller reads."""

    name: str
    namespace: str
    uid: str
    replicas: int = 1
    start: int = 0
    pod_management: str = ORDERED_READY
    update_type: str = ROLLING_UPDATE
    partition: int = 0
    min_ready: int = 0
    service_name: str = ""
    claim_templates: tuple[str, ...] = ()
    when_scaled: str = RETAIN
    when_deleted: str = RETAIN
    history_limit: int = 10
    generation: int = 1

    @property
    def monotonic(self) -> bool:
        """Not allowsBurst: OrderedReady."""
        return self.pod_management != PARALLEL

    @property
    def ordinals(self) -> range:
        return range(self.start, self.start + self.replicas)

    def pod_name(self, ordinal: int) -> str:
        return f"{self.name}-{ordinal}"

    def claim_names(self, ordinal: int) -> tuple[str, ...]:
        return tuple(claim_name(t, self.name, ordinal) for t in self.claim_templates)


def claim_name(template: str, set_name: str, ordinal: int) -> str:
    """getPersistentVolumeClaimName: `<template>-<set>-<ordinal>`."""
    return f"{template}-{set_name}-{ordinal}"


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def spec_of(body: Mapping[str, Any], *, uid: str = "", generation: int = 1) -> StatefulSetSpec:
    """The controller's view of a StatefulSet body (defaults applied where absent)."""
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    strategy = spec.get("updateStrategy") or {}
    rolling = strategy.get("rollingUpdate") or {}
    retention = spec.get("persistentVolumeClaimRetentionPolicy") or {}
    templates = tuple(
        str((t.get("metadata") or {}).get("name", ""))
        for t in spec.get("volumeClaimTemplates") or ()
        if isinstance(t, Mapping)
    )
    return StatefulSetSpec(
        name=str(meta.get("name", "")),
        namespace=str(meta.get("namespace") or "default"),
        uid=uid or str(meta.get("uid") or ""),
        replicas=_int(spec.get("replicas"), 1),
        start=_int((spec.get("ordinals") or {}).get("start"), 0),
        pod_management=str(spec.get("podManagementPolicy") or ORDERED_READY),
        update_type=str(strategy.get("type") or ROLLING_UPDATE),
        partition=_int(rolling.get("partition"), 0),
        min_ready=_int(spec.get("minReadySeconds"), 0),
        service_name=str(spec.get("serviceName") or ""),
        claim_templates=templates,
        when_scaled=str(retention.get("whenScaled") or RETAIN),
        when_deleted=str(retention.get("whenDeleted") or RETAIN),
        history_limit=_int(spec.get("revisionHistoryLimit"), 10),
        generation=_int(meta.get("generation"), generation),
    )


def ordinal_of(set_name: str, pod_name: str) -> int:
    """getParentNameAndOrdinal: the pod's ordinal, or -1 when it is not `<set>-<n>`."""
    match = _ORDINAL.match(pod_name)
    if match is None or match.group(1) != set_name:
        return -1
    return int(match.group(2))


# --- objects the controller makes --------------------------------------------------------


def owner_reference(spec: StatefulSetSpec) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "name": spec.name,
        "uid": spec.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def pod_manifest(
    body: Mapping[str, Any], spec: StatefulSetSpec, ordinal: int, revision: Revision
) -> dict[str, Any]:
    """newStatefulSetPod at `revision`: the revision's template with the pod's identity
    (name, labels, hostname, subdomain), its claims as volumes and the set as controller."""
    template = revision.template
    tmeta = template.get("metadata") or {}
    name = spec.pod_name(ordinal)
    labels = {
        **(tmeta.get("labels") or {}),
        POD_NAME_LABEL: name,
        POD_INDEX_LABEL: str(ordinal),
        REVISION_LABEL: revision.name,
    }
    meta: dict[str, Any] = {"name": name, "namespace": spec.namespace, "labels": labels}
    if tmeta.get("annotations"):
        meta["annotations"] = dict(tmeta["annotations"])
    meta["ownerReferences"] = [owner_reference(spec)]
    pod_spec = copy.deepcopy(dict(template.get("spec") or {}))
    pod_spec["hostname"] = name
    if spec.service_name:
        pod_spec["subdomain"] = spec.service_name
    claims = {t: claim_name(t, spec.name, ordinal) for t in spec.claim_templates}
    pod_spec = workloads.with_claim_volumes(pod_spec, claims)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": pod_spec}


def claim_manifests(
    body: Mapping[str, Any], spec: StatefulSetSpec, ordinal: int
) -> list[dict[str, Any]]:
    """getPersistentVolumeClaims: one claim per volumeClaimTemplate, labelled with the
    template's labels and the set's matchLabels."""
    selector = ((body.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    out: list[dict[str, Any]] = []
    for tmpl in (body.get("spec") or {}).get("volumeClaimTemplates") or ():
        tmeta = tmpl.get("metadata") or {}
        meta: dict[str, Any] = {
            "name": claim_name(str(tmeta.get("name", "")), spec.name, ordinal),
            "namespace": spec.namespace,
            "labels": {**(tmeta.get("labels") or {}), **selector},
        }
        if tmeta.get("annotations"):
            meta["annotations"] = dict(tmeta["annotations"])
        out.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": meta,
                "spec": copy.deepcopy(dict(tmpl.get("spec") or {})),
            }
        )
    return out


# --- the sync ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PodCreate:
    ordinal: int
    name: str
    revision: str  # the revision's name: its template makes the pod
    claims: tuple[str, ...] = ()  # made (if missing) before the pod


@dataclass(frozen=True, slots=True)
class PodDelete:
    name: str
    reason: DeleteReason
    claims: tuple[str, ...] = ()  # deleted with it (whenScaled: Delete)


@dataclass(frozen=True, slots=True)
class StatefulSetActions:
    create: tuple[PodCreate, ...] = ()
    delete: tuple[PodDelete, ...] = ()
    status: Mapping[str, Any] = field(default_factory=dict)
    waiting: str = ""  # why the sync could not go further (for events and describe)
    requeue_after: float | None = None  # minReadySeconds: look again then
    stuck: str = ""  # a pod of neither revision that blocks the set (delete it by hand)


def _status(
    spec: StatefulSetSpec,
    pods: Sequence[MemberPod],
    revisions: RevisionPlan,
    *,
    now: float,
) -> dict[str, Any]:
    """updateStatus + completeRollingUpdate."""
    ready = sum(p.running_and_ready for p in pods)
    available = sum(p.running_and_ready and p.available(spec.min_ready, now) for p in pods)
    live = [p for p in pods if not p.terminating]
    current = sum(p.revision == revisions.current.name for p in live)
    updated = sum(p.revision == revisions.update.name for p in live)
    current_name = revisions.current.name
    if spec.update_type == ROLLING_UPDATE and updated == len(pods) and ready == len(pods):
        current, current_name = updated, revisions.update.name
    status: dict[str, Any] = {
        "observedGeneration": spec.generation,
        "replicas": len(pods),
        "readyReplicas": ready,
        "currentReplicas": current,
        "updatedReplicas": updated,
        "availableReplicas": available,
        "currentRevision": current_name,
        "updateRevision": revisions.update.name,
        "collisionCount": 0,
    }
    return {k: v for k, v in status.items() if v != 0 or k in ("replicas", "availableReplicas")}


class _Step:
    """What one sync decided so far."""

    def __init__(self, spec: StatefulSetSpec, now: float) -> None:
        self.spec = spec
        self.now = now
        self.create: list[PodCreate] = []
        self.delete: list[PodDelete] = []
        self.waiting = ""
        self.stuck = ""
        self.requeue: float | None = None

    def wait(self, pod: MemberPod, what: str) -> None:
        self.waiting = self.waiting or f"waiting for pod {pod.name} {what}"
        if pod.running_and_ready and pod.ready_since is not None and not pod.terminating:
            left = pod.ready_since + self.spec.min_ready - self.now
            if left > 0:
                self.requeue = left if self.requeue is None else min(self.requeue, left)


def compute_statefulset_actions(
    spec: StatefulSetSpec,
    pods: Sequence[MemberPod],
    revisions: RevisionPlan,
    *,
    now: float,
) -> StatefulSetActions:
    """One sync of `updateStatefulSet`: which pods to create or delete now, and the status.

    `pods` are the set's pods (any order; names not `<set>-<n>` are ignored); a pod being
    deleted has `terminating`. Pods are created one per sync in OrderedReady mode (the next
    sync, triggered by the pod's change, creates the next)."""
    members = [p for p in pods if ordinal_of(spec.name, p.name) >= 0]
    by_ordinal = {ordinal_of(spec.name, p.name): p for p in members}
    wanted = spec.ordinals
    replicas: list[MemberPod | None] = [by_ordinal.get(o) for o in wanted]
    condemned = sorted(
        (p for o, p in by_ordinal.items() if o not in wanted),
        key=lambda p: ordinal_of(spec.name, p.name),
        reverse=True,
    )
    status = _status(spec, members, revisions, now=now)
    step = _Step(spec, now)
    monotonic = spec.monotonic
    first_unhealthy = next(
        (p for p in replicas if p is not None and p.unavailable(spec.min_ready, now)), None
    ) or next((p for p in reversed(condemned) if p.unavailable(spec.min_ready, now)), None)

    def finish() -> StatefulSetActions:
        return StatefulSetActions(
            create=tuple(step.create),
            delete=tuple(step.delete),
            status=status,
            waiting=step.waiting,
            requeue_after=step.requeue,
            stuck=step.stuck,
        )

    # 1. every replica, in ordinal order
    for ordinal, pod in zip(wanted, replicas, strict=True):
        if pod is None:
            use_current = (
                spec.update_type == ROLLING_UPDATE and ordinal < spec.start + spec.partition
            )
            revision = revisions.current if use_current else revisions.update
            step.create.append(
                PodCreate(ordinal, spec.pod_name(ordinal), revision.name, spec.claim_names(ordinal))
            )
            if monotonic:
                return finish()
            continue
        if pod.ended:
            if not pod.terminating:
                step.delete.append(PodDelete(pod.name, DeleteReason.ENDED))
            if monotonic:
                return finish()
            continue
        if not monotonic:
            continue
        if pod.terminating:
            step.wait(pod, "to terminate")
            return finish()
        if not pod.running_and_ready:
            step.wait(pod, "to be Running and Ready")
            if pod.revision not in (revisions.current.name, revisions.update.name):
                step.stuck = pod.name
                step.waiting += (
                    f"; it is of revision {pod.revision or '?'}, neither the current nor the "
                    f"update revision ({revisions.update.name}): if that revision is broken, "
                    f"`kubeplay delete pod {pod.name}` makes it again from the template "
                    "(forced rollback, kubernetes/kubernetes#67250)"
                )
            return finish()
        if not pod.available(spec.min_ready, now):
            step.wait(pod, "to be Available")
            return finish()
    # 2. condemned pods (ordinals beyond the range), highest first
    for pod in condemned:
        if pod.terminating:
            if monotonic:
                step.wait(pod, "to terminate before scaling down")
                return finish()
            continue
        if monotonic and pod is not first_unhealthy and pod.unavailable(spec.min_ready, now):
            step.wait(pod, "to be Running and Ready before scaling down")
            return finish()
        claims = (
            spec.claim_names(ordinal_of(spec.name, pod.name)) if spec.when_scaled == DELETE else ()
        )
        step.delete.append(PodDelete(pod.name, DeleteReason.SCALE_DOWN, claims))
        if monotonic:
            return finish()
    if spec.update_type != ROLLING_UPDATE:
        return finish()  # OnDelete: a pod is updated when it is deleted by hand
    # 3. RollingUpdate: the highest ordinal not at the update revision, down to partition
    for index in range(len(replicas) - 1, spec.partition - 1, -1):
        pod = replicas[index]
        if pod is None:  # made by this sync (Parallel): not available yet
            return finish()
        if pod.revision != revisions.update.name and not pod.terminating:
            step.delete.append(PodDelete(pod.name, DeleteReason.UPDATE))
            return finish()
        if pod.unavailable(spec.min_ready, now):
            step.wait(pod, "to update")
            return finish()
    return finish()
