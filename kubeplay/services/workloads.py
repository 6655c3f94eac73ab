"""Workloads: the random names of a Deployment's replica pods, and a stored workload as
`kube.workloads` reads it. `services.apply` makes the replica pods (`kube.workloads.
replica_pods`, names drawn at random, as the apiserver's generateName does); `generate kube`
finds a workload's pods again. Nothing here creates a container.
"""

from __future__ import annotations

from kubeplay.kube import workloads
from kubeplay.state.store import WorkloadRecord


def random_suffix() -> str:
    """RANDOM_LENGTH characters of the apiserver's alphabet (utilrand.String)."""
    import secrets

    return "".join(secrets.choice(workloads.ALPHANUMS) for _ in range(workloads.RANDOM_LENGTH))


def as_workload(rec: WorkloadRecord) -> workloads.Workload:
    return workloads.Workload(
        kind=rec.kind, namespace=rec.namespace, name=rec.name, uid=rec.uid, manifest=rec.manifest
    )
