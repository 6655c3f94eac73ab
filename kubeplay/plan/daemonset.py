"""DaemonSet: what its controller does next on kubeplay's one node.

Follows `pkg/controller/daemon/` (daemon_controller.go `podsShouldBeOnNode`, `manage`,
`updateDaemonSetStatus`; update.go `rollingUpdate`, `findUpdatedPodsOnNode`;
util `NodeShouldRunDaemonPod` reduced to nodeSelector and required node affinity):

- the node should run the pod when the template's nodeSelector and required node affinity
  match it: then exactly one pod `<ds>-<random>` runs there; a Failed or Succeeded pod is
  deleted (and made again on the next sync), extra running pods are deleted, oldest kept;
  a pod on a node that should not run it is deleted;
- while a pod of the set is terminating no new one is made (its ports and claims are still
  held);
- RollingUpdate, once nothing else changed: with `maxSurge` 0 (the default) the old pod is
  deleted when `maxUnavailable` (1, rounded up from a percentage) allows it, the new one made
  after it is gone; with `maxSurge` 1 the new pod is made first and the old one deleted once
  the new one is available; an old pod that is not available is replaced at once. OnDelete
  updates only a pod deleted by hand.

No I/O, no clock (`now` is passed in), no random names (the caller draws them).
"""

from __future__ import annotations

import copy
import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubeplay.plan.revisions import Revision

REVISION_LABEL = "controller-revision-hash"
TEMPLATE_GENERATION_LABEL = "pod-template-generation"
ROLLING_UPDATE = "RollingUpdate"
ON_DELETE = "OnDelete"


class DeleteReason(enum.StrEnum):
    ENDED = "Ended"  # Failed or Succeeded: deleted, made again on a later sync
    EXTRA = "Extra"  # more than one pod on the node
    NOT_ELIGIBLE = "NotEligible"  # the node no longer matches the template
    UPDATE = "Update"


@dataclass(frozen=True, slots=True)
class DaemonPod:
    """A pod of the set as observed."""

    name: str
    revision: str = ""
    phase: str = "Pending"
    ready: bool = False
    ready_since: float | None = None
    terminating: bool = False
    created_at: float = 0.0

    def available(self, min_ready: int, now: float) -> bool:
        if self.phase != "Running" or not self.ready:
            return False
        if min_ready <= 0:
            return True
        return self.ready_since is not None and self.ready_since + min_ready <= now


@dataclass(frozen=True, slots=True)
class DaemonSetSpec:
    name: str
    namespace: str
    uid: str
    update_type: str = ROLLING_UPDATE
    max_unavailable: int | str = 1
    max_surge: int | str = 0
    min_ready: int = 0
    history_limit: int = 10
    generation: int = 1


def spec_of(body: Mapping[str, Any], *, uid: str = "", generation: int = 1) -> DaemonSetSpec:
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    strategy = spec.get("updateStrategy") or {}
    rolling = strategy.get("rollingUpdate") or {}
    gen = meta.get("generation")
    return DaemonSetSpec(
        name=str(meta.get("name", "")),
        namespace=str(meta.get("namespace") or "default"),
        uid=uid or str(meta.get("uid") or ""),
        update_type=str(strategy.get("type") or ROLLING_UPDATE),
        max_unavailable=rolling.get("maxUnavailable", 1),
        max_surge=rolling.get("maxSurge", 0),
        min_ready=int(spec.get("minReadySeconds") or 0),
        history_limit=int(spec.get("revisionHistoryLimit", 10)),
        generation=gen if isinstance(gen, int) else generation,
    )


def scaled(value: int | str, total: int) -> int:
    """intstr.GetScaledValueFromIntOrPercent(value, total, roundUp=true)."""
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(int(value[:-1]) * total / 100)
    return int(value)


def budgets(spec: DaemonSetSpec, desired: int) -> tuple[int, int]:
    """updatedDesiredNodeCounts: (maxSurge, maxUnavailable); both 0 means unavailable 1."""
    surge = scaled(spec.max_surge, desired)
    unavailable = scaled(spec.max_unavailable, desired)
    if desired > 0 and surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


# --- node eligibility ----------------------------------------------------------------------


def _requirement(expr: Mapping[str, Any], values: Mapping[str, str]) -> bool:
    """A NodeSelectorRequirement against labels (or fields)."""
    key, op = str(expr.get("key", "")), str(expr.get("operator", ""))
    wanted = [str(v) for v in expr.get("values") or ()]
    present = key in values
    if op == "In":
        return present and values[key] in wanted
    if op == "NotIn":
        return not present or values[key] not in wanted
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and len(wanted) == 1:
        try:
            have, limit = int(values[key]), int(wanted[0])
        except ValueError:
            return False
        return have > limit if op == "Gt" else have < limit
    return False


def node_matches(pod_spec: Mapping[str, Any], *, node: str, labels: Mapping[str, str]) -> bool:
    """NodeShouldRunDaemonPod, for what kubeplay models of a node: the pod's nodeSelector,
    nodeName, and required node affinity (terms ORed, expressions ANDed)."""
    if pod_spec.get("nodeName") and pod_spec.get("nodeName") != node:
        return False
    for key, value in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = [t for t in required.get("nodeSelectorTerms") or () if isinstance(t, Mapping)]
    if not terms:
        return True
    fields = {"metadata.name": node}
    return any(
        (t.get("matchExpressions") or t.get("matchFields"))
        and all(_requirement(e, labels) for e in t.get("matchExpressions") or ())
        and all(_requirement(e, fields) for e in t.get("matchFields") or ())
        for t in terms
    )


# --- objects the controller makes --------------------------------------------------------


def owner_reference(spec: DaemonSetSpec) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "name": spec.name,
        "uid": spec.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


# AddOrUpdateDaemonPodTolerations: a daemon pod stays on a node with problems.
DAEMON_TOLERATIONS: tuple[dict[str, str], ...] = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
)
NETWORK_UNAVAILABLE = {
    "key": "node.kubernetes.io/network-unavailable",
    "operator": "Exists",
    "effect": "NoSchedule",
}


def _tolerations(pod_spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """AddOrUpdateTolerationInPodSpec for each daemon toleration: one equal in key,
    operator, value and effect is replaced, else it is added."""
    out = [dict(t) for t in pod_spec.get("tolerations") or ()]
    wanted = [*DAEMON_TOLERATIONS, *((NETWORK_UNAVAILABLE,) if pod_spec.get("hostNetwork") else ())]

    def same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
        return all(
            (a.get(k) or "") == (b.get(k) or "") for k in ("key", "operator", "value", "effect")
        )

    for tol in wanted:
        at = next((i for i, t in enumerate(out) if same(t, tol)), None)
        if at is None:
            out.append(dict(tol))
        else:
            out[at] = dict(tol)
    return out


def _node_affinity(affinity: Mapping[str, Any] | None, node: str) -> dict[str, Any]:
    """ReplaceDaemonSetPodNodeNameNodeAffinity: the required node affinity becomes one term
    matching the node's name (preferred terms and pod (anti-)affinity kept)."""
    out = copy.deepcopy(dict(affinity or {}))
    node_affinity = dict(out.get("nodeAffinity") or {})
    required = dict(node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    required["nodeSelectorTerms"] = [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
    ]
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = required
    out["nodeAffinity"] = node_affinity
    return out


def pod_manifest(
    spec: DaemonSetSpec, revision: Revision, *, name: str, node: str
) -> dict[str, Any]:
    """The daemon pod `name` (`<ds>-<random>`) at `revision`, for `node`: with the tolerations
    and the node-name affinity the controller gives its pods (daemonset_util.go)."""
    template = revision.template
    tmeta = template.get("metadata") or {}
    labels = {
        **(tmeta.get("labels") or {}),
        REVISION_LABEL: revision.name.rsplit("-", 1)[-1],
        TEMPLATE_GENERATION_LABEL: str(spec.generation),
    }
    meta: dict[str, Any] = {
        "name": name,
        "generateName": f"{spec.name}-",
        "namespace": spec.namespace,
        "labels": labels,
    }
    if tmeta.get("annotations"):
        meta["annotations"] = dict(tmeta["annotations"])
    meta["ownerReferences"] = [owner_reference(spec)]
    pod_spec = copy.deepcopy(dict(template.get("spec") or {}))
    pod_spec["tolerations"] = _tolerations(pod_spec)
    pod_spec["affinity"] = _node_affinity(pod_spec.get("affinity"), node)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": pod_spec}


def revision_hash(revision: Revision) -> str:
    """The `controller-revision-hash` label value of a revision (its name's last part)."""
    return revision.name.rsplit("-", 1)[-1]


# --- the sync ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PodDelete:
    name: str
    reason: DeleteReason


@dataclass(frozen=True, slots=True)
class DaemonSetActions:
    create: bool = False  # one new pod at the update revision
    delete: tuple[PodDelete, ...] = ()
    status: Mapping[str, Any] = field(default_factory=dict)
    waiting: str = ""
    requeue_after: float | None = None


def _status(
    spec: DaemonSetSpec, pods: Sequence[DaemonPod], *, eligible: bool, hash_: str, now: float
) -> dict[str, Any]:
    live = [p for p in pods if not p.terminating]
    scheduled = 1 if live else 0
    ready = sum(p.phase == "Running" and p.ready for p in live) if eligible else 0
    available = sum(p.available(spec.min_ready, now) for p in live) if eligible else 0
    desired = 1 if eligible else 0
    updated = 1 if eligible and any(p.revision == hash_ for p in live) else 0
    status = {
        "currentNumberScheduled": scheduled if eligible else 0,
        "desiredNumberScheduled": desired,
        "numberMisscheduled": 0 if eligible else scheduled,
        "numberReady": ready,
        "numberAvailable": available,
        "numberUnavailable": max(0, desired - available),
        "updatedNumberScheduled": updated,
        "observedGeneration": spec.generation,
    }
    drop = ("numberAvailable", "numberUnavailable", "updatedNumberScheduled")
    return {k: v for k, v in status.items() if v != 0 or k not in drop}


def compute_daemonset_actions(
    spec: DaemonSetSpec,
    pods: Sequence[DaemonPod],
    update: Revision,
    *,
    eligible: bool,
    now: float,
) -> DaemonSetActions:
    """One sync: `manage` (one pod where the node is eligible, none elsewhere), then, when
    it changed nothing, one step of the rolling update."""
    hash_ = revision_hash(update)
    status = _status(spec, pods, eligible=eligible, hash_=hash_, now=now)
    deletes: list[PodDelete] = []
    live = sorted((p for p in pods if not p.terminating), key=lambda p: (p.created_at, p.name))
    if not eligible:
        deletes = [PodDelete(p.name, DeleteReason.NOT_ELIGIBLE) for p in live]
        return DaemonSetActions(delete=tuple(deletes), status=status)
    running: list[DaemonPod] = []
    for pod in live:
        if pod.phase in ("Failed", "Succeeded"):
            deletes.append(PodDelete(pod.name, DeleteReason.ENDED))
        else:
            running.append(pod)
    surge, unavailable = budgets(spec, 1)
    if surge == 0 or spec.update_type != ROLLING_UPDATE:
        deletes += [PodDelete(p.name, DeleteReason.EXTRA) for p in running[1:]]
    elif len(running) > 1:
        new = [p for p in running if p.revision == hash_]
        old = [p for p in running if p.revision != hash_]
        deletes += [PodDelete(p.name, DeleteReason.EXTRA) for p in (*new[1:], *old[1:])]
        if new and old and (not old[0].ready or new[0].available(spec.min_ready, now)):
            deletes.append(PodDelete(old[0].name, DeleteReason.UPDATE))
    create = not pods  # terminating pods still hold the node
    if create or deletes:
        return DaemonSetActions(create=create, delete=tuple(deletes), status=status)
    if spec.update_type != ROLLING_UPDATE:
        return DaemonSetActions(status=status)
    new = [p for p in running if p.revision == hash_]
    old = [p for p in running if p.revision != hash_]
    if len(new) > 1 or len(old) > 1 or not (new or old):
        return DaemonSetActions(status=status)
    if surge == 0:  # maxUnavailable is at least 1 here: the old pod goes first
        if old and not new and unavailable >= 1:
            return DaemonSetActions(
                delete=(PodDelete(old[0].name, DeleteReason.UPDATE),), status=status
            )
        return DaemonSetActions(status=status, **_waiting(spec, new, now))
    if old and not new:  # surge: the new pod first
        return DaemonSetActions(create=True, status=status)
    if old and new:
        if new[0].available(spec.min_ready, now):
            return DaemonSetActions(
                delete=(PodDelete(old[0].name, DeleteReason.UPDATE),), status=status
            )
        return DaemonSetActions(status=status, **_waiting(spec, new, now))
    return DaemonSetActions(status=status)


def _waiting(spec: DaemonSetSpec, new: Sequence[DaemonPod], now: float) -> dict[str, Any]:
    """Waiting on the new pod to be available: when to look again (minReadySeconds)."""
    if not new or new[0].available(spec.min_ready, now):
        return {}
    pod = new[0]
    out: dict[str, Any] = {"waiting": f"waiting for pod {pod.name} to be available"}
    if pod.phase == "Running" and pod.ready and pod.ready_since is not None:
        out["requeue_after"] = max(0.0, pod.ready_since + spec.min_ready - now)
    return out
