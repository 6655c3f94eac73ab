"""`delete --cascade=orphan`: an owner deleted alone, its dependents kept without their
ownerReference to it, as the garbage collector's orphan finalizer does
(`orphanDependents`: it removes the owner's entry from each dependent's ownerReferences
before the owner goes).

Dependents are what names the owner's uid: a Deployment's ReplicaSets, a CronJob's Jobs, a
StatefulSet's or DaemonSet's ControllerRevisions and claims (records), and the pods of a
ReplicaSet, StatefulSet, DaemonSet or Job. An orphaned ReplicaSet keeps its pods (its
controller runs it alone); a Deployment created again adopts the ReplicaSets its selector
matches (`engine.controllers.deployments`), as the controller's ClaimReplicaSets does:
`with_owner` and `adopt_records` are the way back (pods: `engine.ownedpods.claim`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from kubeplay.engine.host import Host
from kubeplay.kube import workloads
from kubeplay.state.objects import controller_uid
from kubeplay.state.pods import pod_row
from kubeplay.state.store import ObjectRecord, PodRecord, Store


def without_owner(body: dict[str, Any], owner_uid: str) -> dict[str, Any]:
    """The body with the ownerReferences to `owner_uid` removed (the list dropped when
    empty)."""
    out = copy.deepcopy(body)
    meta = out.setdefault("metadata", {})
    refs = [r for r in meta.get("ownerReferences") or () if r.get("uid") != owner_uid]
    if refs:
        meta["ownerReferences"] = refs
    else:
        meta.pop("ownerReferences", None)
    return out


def with_owner(body: Mapping[str, Any], ref: Mapping[str, Any]) -> dict[str, Any]:
    """The body with `ref` added to its ownerReferences (a deep copy): an adoption."""
    out = copy.deepcopy(dict(body))
    meta = out.setdefault("metadata", {})
    meta["ownerReferences"] = [*(meta.get("ownerReferences") or ()), dict(ref)]
    return out


def adopt_records(
    store: Store, owner: ObjectRecord, kind: str, *, ref: Mapping[str, Any], now: float
) -> list[ObjectRecord]:
    """The Claim* adoption of records: the `kind` objects of the owner's namespace that no
    controller owns and whose labels its selector matches get `ref` (stored); those."""
    selector = (owner.body.get("spec") or {}).get("selector") or {}
    if not (selector.get("matchLabels") or selector.get("matchExpressions")):
        return []  # an empty selector adopts nothing (the API server refuses it anyway)
    adopted = [
        replace(
            r, body=with_owner(r.body, ref), owner_uid=owner.uid, content_hash="", updated_at=now
        )
        for r in store.list_records([kind], owner.namespace)
        if not controller_uid(r.body)
        and workloads.selector_matches(selector, (r.body.get("metadata") or {}).get("labels") or {})
    ]
    if adopted:
        store.put_records(adopted)
    return adopted


def dependents(host: Host, rec: ObjectRecord) -> tuple[list[ObjectRecord], list[PodRecord]]:
    """The records (not pods) and the pods whose ownerReference is `rec`."""
    records = [
        r
        for r in host.store.list_records(namespace=rec.namespace, owner_uid=rec.uid)
        if r.kind != "Pod"
    ]
    pods = [p for p in host.store.list_pods(rec.namespace) if controller_uid(p.manifest) == rec.uid]
    return records, pods


def orphan(host: Host, rec: ObjectRecord, *, now: float) -> list[str]:
    """Delete `rec` alone, its dependents kept without their ownerReference to it (in one
    transaction); the dependents' names (`kind/name`)."""
    records, pods = dependents(host, rec)
    freed = [
        replace(
            r,
            body=without_owner(r.body, rec.uid),
            owner_uid="",
            content_hash="",
            updated_at=now,
        )
        for r in records
    ]
    with host.store.batch():
        for pod in pods:
            manifest = without_owner(pod.manifest, rec.uid)
            host.store.set_pod_spec(pod.uid, manifest=manifest, plan_json=pod.plan_json)
            host.store.put_records([pod_row(replace(pod, manifest=manifest), source="")])
        if freed:
            host.store.put_records(freed)
        host.store.delete_records([rec.uid])
    return [f"{r.kind.lower()}/{r.name}" for r in records] + [f"pod/{p.name}" for p in pods]
