"""`kubeplay generate kube`: the store's pods, workloads and objects back as clean YAML.

Reads the store only (no runtime, no network, no image store), so it starts and answers fast;
what the output holds is `plan.generate`'s decision, and the output is checked against the
strict schema of the Kubernetes version asked for (the settings' by default) before it is
returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kubeplay.engine import host as host_mod
from kubeplay.kube import kinds
from kubeplay.plan import generate
from kubeplay.settings import Settings


@dataclass(frozen=True, slots=True)
class GenerateReport:
    yaml: str
    objects: tuple[dict[str, Any], ...]
    warnings: tuple[str, ...]


def generate_kube(
    settings: Settings,
    names: Sequence[str],
    *,
    namespace: str | None,
    options: generate.Options,
    kube_version: str = "",
) -> GenerateReport:
    """`namespace` None: every namespace. With a Kubernetes version asked for (`kube_version`,
    else the settings'), the output is checked against that version's strict schema first;
    with none, it is not: what was played passed the newest schema when it was played, and
    loading the schema would triple generate's time (the round-trip tests check the output
    at two versions)."""
    from kubeplay.services import workloads

    host = host_mod.open_host(settings)
    try:
        store = host.store
        pods = [
            generate.PlayedPod(namespace=r.namespace, name=r.name, manifest=r.manifest)
            for r in store.list_pods(namespace)
            if not _made_by_job(r.manifest)  # a Job's pods come back as the Job
        ]
        played = [workloads.as_workload(w) for w in store.list_workloads(namespace)]
        stored = _stored_objects(host, namespace)
        crds = [kinds.from_crd(r.body) for r in store.list_records(["CustomResourceDefinition"])]
    finally:
        host.close()
    result = generate.generate_kube(
        names,
        namespace=namespace,
        pods=pods,
        workloads=played,
        stored=stored,
        options=options,
        kinds=crds,
    )
    version = kube_version or settings.kube_version
    if version:
        generate.check_schema(result.objects, kube_version=version)
    return GenerateReport(
        yaml=generate.dump_kube(result.objects),
        objects=result.objects,
        warnings=result.warnings,
    )


def _stored_objects(
    host: host_mod.Host, namespace: str | None
) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The namespace's (None: every namespace's) stored objects as played, by (kind,
    namespace, name): every kind but pods and workloads from the objects table, the
    cluster-scoped ones (namespace "") too, but not what a controller made (its owner gives
    it back); StatefulSets, DaemonSets, Jobs and CronJobs as last applied (their live bodies
    hold what their controllers added: a Job's controller-uid selector); and the
    PersistentVolumeClaims kept with their named volumes (a volume made on first use has no
    claim object)."""
    spaces = [namespace] if namespace is None else [namespace, ""]
    owned = {r.uid for ns in spaces for r in host.store.list_records(None, ns) if r.owner_uid}
    found = {
        (o.kind, o.namespace, o.name): o.body
        for ns in spaces
        for o in host.store.list_objects(namespace=ns)
        if o.uid not in owned
    }
    for rec in host.store.list_records([*generate.SET_KINDS, "Job", "CronJob"], namespace):
        if not rec.owner_uid:  # a CronJob's Jobs come back as the CronJob
            found[rec.kind, rec.namespace, rec.name] = rec.last_applied or rec.body
    for rec in host.store.list_records(["Service"], namespace):
        if not rec.api_group:  # as applied: the cluster allocates clusterIP and nodePorts;
            # its namespace as written, as every other kind's (none for the default one)
            found["Service", rec.namespace, rec.name] = rec.last_applied or rec.body
    for vol in host.store.list_volumes():
        claim_ns = vol.namespace or "default"
        if vol.claim is not None and namespace in (None, claim_ns):
            found["PersistentVolumeClaim", claim_ns, vol.name] = vol.claim
    return found


def _made_by_job(manifest: dict[str, Any]) -> bool:
    for ref in (manifest.get("metadata") or {}).get("ownerReferences") or ():
        if isinstance(ref, dict) and ref.get("controller") and ref.get("kind") == "Job":
            return True
    return False
