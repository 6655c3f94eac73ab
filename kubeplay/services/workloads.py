"""Workloads in play and down: a Deployment's records, its replica pods, and finding them again.

`services.play` calls these: `expand` turns the Deployments of a play into workload records
and replica Pod objects (names drawn at random, as the apiserver's generateName does);
`pods_of` finds the pods a stored workload made (by their controlling ownerReference,
`kube.workloads.owns`). Naming and hashing are `kube.workloads`'; nothing here creates a
container (the engine does, through `services.play`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kubeplay.kube import workloads
from kubeplay.state.store import PodRecord, WorkloadRecord

if TYPE_CHECKING:
    from kubeplay.engine.host import Host
    from kubeplay.kube.objects import KubeObject


def random_suffix() -> str:
    """RANDOM_LENGTH characters of the apiserver's alphabet (utilrand.String)."""
    import secrets

    return "".join(secrets.choice(workloads.ALPHANUMS) for _ in range(workloads.RANDOM_LENGTH))


def expand(
    host: Host, objects: Sequence[KubeObject], *, pods: Sequence[KubeObject], now: float
) -> tuple[list[WorkloadRecord], list[KubeObject]]:
    """Records for the workloads among `objects` and the replica pods they make. Replica
    names avoid the pods already stored and the `pods` of the same play."""
    records: list[WorkloadRecord] = []
    replicas: list[KubeObject] = []
    taken: dict[str, set[str]] = {}
    for obj in objects:
        if obj.kind not in workloads.KINDS:
            continue
        if obj.namespace not in taken:
            stored = {r.name for r in host.store.list_pods(obj.namespace)}
            played = {p.name for p in pods if p.namespace == obj.namespace}
            taken[obj.namespace] = stored | played
        uid = str(uuid.uuid4())
        made = workloads.replica_pods(
            obj, uid=uid, taken=taken[obj.namespace], random_suffix=random_suffix
        )
        taken[obj.namespace].update(p.name for p in made)
        replicas.extend(made)
        records.append(
            WorkloadRecord(
                uid=uid,
                namespace=obj.namespace,
                kind=obj.kind,
                name=obj.name,
                source=obj.source,
                manifest=obj.body,
                created_at=now,
            )
        )
    return records, replicas


def lock_ref(namespace: str, kind: str, name: str) -> tuple[str, str]:
    """A lock name for a workload next to the pods' (`_` is never in a pod's name)."""
    return namespace, f"_{kind.lower()}_{name}"


def as_workload(rec: WorkloadRecord) -> workloads.Workload:
    return workloads.Workload(
        kind=rec.kind, namespace=rec.namespace, name=rec.name, uid=rec.uid, manifest=rec.manifest
    )


def pods_of(host: Host, rec: WorkloadRecord) -> list[PodRecord]:
    """The stored pods `rec` made."""
    workload = as_workload(rec)
    return [p for p in host.store.list_pods(rec.namespace) if workloads.owns(workload, p.manifest)]


def describe(rec: WorkloadRecord) -> str:
    """How kubectl names it in messages: `deployment.apps/web`."""
    group = workloads.KINDS[rec.kind].split("/")[0] if "/" in workloads.KINDS[rec.kind] else ""
    kind = rec.kind.lower() + (f".{group}" if group else "")
    return f"{kind}/{rec.name}"
