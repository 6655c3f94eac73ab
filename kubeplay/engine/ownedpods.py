"""Owned pods: how a workload controller makes, finds and removes the pods it controls.

A ReplicaSet, Job, StatefulSet or DaemonSet controller (on the supervisor's loop, or run once
in a command's process by `engine.reconcile`) calls:

- `create(host, bodies)`: each body is a whole Pod (name, labels, ownerReferences set by the
  caller, e.g. with `owner_reference`). Images are ensured per pull policy, plans compiled,
  and every pod's rows (runtime row and Pod object, owner uid from its controlling
  ownerReference) are written in ONE store transaction, in which hostPorts are claimed: a
  pod whose hostPort another pod holds (or a Service as its nodePort) is stored `pending`
  (unscheduled: phase Pending, PodScheduled False with the scheduler's message), as a
  one-node cluster leaves it, and is scheduled by the pod controller once the port is free
  (`schedule`). The others are stored
  `active` without a sandbox; the pod controller makes the sandbox and starts them, as it
  does for a pod whose volumes waited. A command that must see them start (play) syncs them
  itself under their locks (`engine.reconcile`).
- `owned(store, owner_uid)`: the pods whose controlling ownerReference is that uid.
- `claim(host, owner)`: its owned pods, after adopting the orphans its selector matches
  (ClaimPods: what a `delete --cascade=orphan` released).
- `delete(host, pod)`: mark the pod terminating (deletionTimestamp); the pod controller tears
  it down honouring its grace period. The pod's row stays until its containers are gone, so
  a terminating pod keeps its hostPort, as in Kubernetes.

Decides nothing about how many pods or which: that is the caller's pure plan.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from kubeplay import log
from kubeplay.engine.host import Host
from kubeplay.engine.loop import ObjectKey
from kubeplay.state.objects import controller_uid
from kubeplay.state.store import ObjectRecord, PodRecord, Store

if TYPE_CHECKING:
    from kubeplay.plan.pods import PodPlan
    from kubeplay.plan.services import ServiceSpec

# The pod is stored but not bound to the node: it waits for a hostPort another pod holds.
PENDING = "pending"

_log = log.get_logger(__name__)


def owner_reference(*, api_version: str, kind: str, name: str, uid: str) -> dict[str, Any]:
    """The controlling ownerReference a controller puts on what it makes."""
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_ref(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """The controlling ownerReference of an object's body ({} when none)."""
    for ref in (body.get("metadata") or {}).get("ownerReferences") or ():
        if isinstance(ref, Mapping) and ref.get("controller"):
            return ref
    return {}


def claim(
    host: Host,
    owner: ObjectRecord,
    *,
    api_version: str,
    member: Callable[[PodRecord], bool] | None = None,
) -> list[PodRecord]:
    """ClaimPods: the pods `owner` controls (terminating ones included), after adopting those
    of its namespace that no controller owns and no manifest made (a `delete
    --cascade=orphan` released them), not being deleted, whose labels its selector matches
    and `member` accepts (a StatefulSet's names): its controlling ownerReference is added to
    each, pod and object row in one transaction. Pods that `play`, `apply` or a watched
    source made stay their file's (a cluster's controller would adopt those too: docs)."""
    from kubeplay.engine import cascade
    from kubeplay.kube import workloads
    from kubeplay.state.pods import pod_row

    pods = host.store.list_pods(owner.namespace)
    mine = [p for p in pods if controller_uid(p.manifest) == owner.uid]
    selector = (owner.body.get("spec") or {}).get("selector") or {}
    if owner.deleting_at is not None or not (
        selector.get("matchLabels") or selector.get("matchExpressions")
    ):
        return mine  # an owner being deleted, or an empty selector, adopts nothing
    orphans = [
        p
        for p in pods
        if p.lifecycle != "terminating"
        and p.deleting_at is None
        and not controller_ref(p.manifest)
        and workloads.selector_matches(
            selector, (p.manifest.get("metadata") or {}).get("labels") or {}
        )
        and (member is None or member(p))
    ]
    if not orphans:
        return mine
    ref = owner_reference(api_version=api_version, kind=owner.kind, name=owner.name, uid=owner.uid)
    with host.store.batch():
        for pod in orphans:
            fresh = host.store.get_pod_by_uid(pod.uid)
            row = host.store.get_record("", "Pod", pod.namespace, pod.name)
            if fresh is None or controller_ref(fresh.manifest) or row is None or row.source:
                continue  # gone, claimed meanwhile, or a manifest's pod
            manifest = cascade.with_owner(fresh.manifest, ref)
            host.store.set_pod_spec(fresh.uid, manifest=manifest, plan_json=fresh.plan_json)
            host.store.put_records([pod_row(replace(fresh, manifest=manifest), source="")])
            mine.append(replace(fresh, manifest=manifest))
            _log.info(
                "pod_adopted", owner=f"{owner.kind}/{owner.namespace}/{owner.name}", pod=pod.name
            )
    return mine


def owned(store: Store, owner_uid: str, namespace: str | None = None) -> list[PodRecord]:
    """The pods (terminating ones included) whose controlling ownerReference is `owner_uid`."""
    return [p for p in store.list_pods(namespace) if controller_uid(p.manifest) == owner_uid]


@dataclass(frozen=True, slots=True)
class Created:
    pods: tuple[PodRecord, ...]  # as stored (lifecycle active, or pending when unscheduled)
    plans: Mapping[str, PodPlan]  # uid -> plan
    notes: tuple[str, ...] = ()  # image pulls that failed (the containers wait ErrImagePull)


def _pull(host: Host, plans: Sequence[PodPlan]) -> list[str]:
    """Every image of the pods ensured per its container's pull policy (by image as
    written and policy, as play pulls); notes naming the containers whose pull failed (they
    wait in ErrImagePull, as the kubelet's)."""
    from kubeplay.engine import images as images_mod

    users: dict[tuple[str, str], list[str]] = {}
    for plan in plans:
        for ctr in plan.all_containers():
            users.setdefault((ctr.image, ctr.pull_policy), []).append(
                f"pod {plan.ref}: container {ctr.name}"
            )
    results = images_mod.ensure_images(host, users, parallelism=host.settings.parallelism)
    return [
        f"{who}: image {result.image}: {result.reason}: {result.message}"
        for key, result in results.items()
        if result.ref is None
        for who in users[key]
    ]


def _services(host: Host) -> list[ServiceSpec]:
    """The stored Services, for the variables pods made now get (`enableServiceLinks`)."""
    from kubeplay.plan import services as service_plan

    out = []
    for rec in host.store.list_records(["Service"]):
        if not rec.api_group:
            body = dict(rec.body)
            body["metadata"] = {**(body.get("metadata") or {}), "namespace": rec.namespace}
            out.append(service_plan.service_spec(body))
    return out


def create(
    host: Host,
    bodies: Sequence[Mapping[str, Any]],
    *,
    origin: str = "",
    now: float | None = None,
) -> Created:
    """Store new pods from whole Pod bodies (see the module's docstring). `origin` is the
    file and document of the object that made them, for messages."""
    from kubeplay.plan import pods as plans
    from kubeplay.plan import services as service_plan

    if not bodies:
        return Created(pods=(), plans={})
    now = time.time() if now is None else now
    records: list[PodRecord] = []
    compiled: dict[str, PodPlan] = {}
    services = _services(host)
    for body in bodies:
        uid = str(uuid.uuid4())
        namespace = str((body.get("metadata") or {}).get("namespace") or "default")
        links = service_plan.service_link_env(services, namespace)
        plan = plans.compile_pod(body, uid=uid, service_env=links)
        compiled[uid] = plan
        records.append(
            PodRecord(
                uid=uid,
                namespace=plan.namespace,
                name=plan.name,
                source=origin,
                manifest=dict(body),
                plan_json=plans.to_json(plan),
                created_at=now,
                lifecycle="active",
            )
        )
    notes = _pull(host, list(compiled.values()))  # the images present before they are stored
    with host.store.batch():  # the hostPort claims and the insert: one transaction
        stored = host.store.list_pods()
        placed = _place(records, compiled, stored, services=_services(host))
        host.store.add_pods(placed)
    for rec in placed:
        if rec.lifecycle == PENDING:
            _log.info("pod_unschedulable", pod=f"{rec.namespace}/{rec.name}")
    return Created(pods=tuple(placed), plans=compiled, notes=tuple(notes))


def _held(stored: Iterable[PodRecord]) -> list[PodPlan]:
    """The plans of the pods bound to the node (pending ones hold no port)."""
    from kubeplay.plan import pods as plans

    return [plans.from_json(r.plan_json) for r in stored if r.lifecycle != PENDING]


def _place(
    records: Sequence[PodRecord],
    compiled: Mapping[str, PodPlan],
    stored: Sequence[PodRecord],
    *,
    services: Iterable[ServiceSpec],
) -> list[PodRecord]:
    """Each new pod bound (active) unless one of its hostPorts is held, by a pod or as a
    Service's nodePort: then pending."""
    from kubeplay.plan import hostports

    if not any(compiled[r.uid].host_ports() for r in records):
        return list(records)
    held = _held(stored)
    node_ports = hostports.node_ports(services)
    out: list[PodRecord] = []
    for rec in records:
        plan = compiled[rec.uid]
        if (
            hostports.find_conflict(held, [plan]) is None
            and hostports.node_port_conflict(plan, node_ports) is None
        ):
            held.append(plan)
            out.append(rec)
        else:
            out.append(replace(rec, lifecycle=PENDING))
    return out


def schedule(host: Host, rec: PodRecord) -> bool:
    """Bind a pending pod once its hostPorts are free, of pods and of Services' nodePorts (in
    one transaction with the check, so two pods waiting for one port never both get it).
    True when it is bound now."""
    from kubeplay.plan import hostports
    from kubeplay.plan import pods as plans

    with host.store.batch():
        fresh = host.store.get_pod_by_uid(rec.uid)
        if fresh is None or fresh.lifecycle != PENDING:
            return fresh is not None and fresh.lifecycle == "active"
        plan = plans.from_json(fresh.plan_json)
        others = [p for p in host.store.list_pods() if p.uid != rec.uid]
        if hostports.find_conflict(_held(others), [plan]) is not None:
            return False
        if hostports.node_port_conflict(plan, hostports.node_ports(_services(host))):
            return False
        host.store.update_pod(rec.uid, lifecycle="active")
    _log.info("pod_scheduled", pod=f"{rec.namespace}/{rec.name}")
    return True


def delete(host: Host, pod: PodRecord, *, now: float | None = None) -> None:
    """Begin the pod's deletion: the pod controller stops it within its grace period and
    removes it. A pending pod never ran: its rows go at once."""
    if pod.lifecycle == PENDING:
        with host.store.batch():
            fresh = host.store.get_pod_by_uid(pod.uid)
            if fresh is not None and fresh.lifecycle == PENDING:
                host.store.delete_pod(pod.uid)
                return
    host.store.mark_terminating(pod.uid, at=time.time() if now is None else now)


def owner_keys(pod: PodRecord) -> list[ObjectKey]:
    """The pod watcher every supervisor has: a pod that changed queues its controlling
    owner's key (any kind: ReplicaSet, Job, StatefulSet...), so healing and rollouts react
    at once rather than at the owner's resync."""
    ref = controller_ref(pod.manifest)
    kind, name = ref.get("kind"), ref.get("name")
    if not isinstance(kind, str) or not isinstance(name, str) or not kind or not name:
        return []
    return [ObjectKey(kind, pod.namespace, name)]
