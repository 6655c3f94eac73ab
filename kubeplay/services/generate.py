"""`kubeplay generate kube`: the store's pods, workloads and objects back as clean YAML.

Reads the store only (no runtime, no network, no image store), so it starts and answers fast;
what the output holds is `plan.generate`'s decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kubeplay.engine import host as host_mod
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
    namespace: str,
    options: generate.Options,
) -> GenerateReport:
    from kubeplay.services import workloads

    host = host_mod.open_host(settings)
    try:
        store = host.store
        pods = [
            generate.PlayedPod(namespace=r.namespace, name=r.name, manifest=r.manifest)
            for r in store.list_pods(namespace)
        ]
        played = [workloads.as_workload(w) for w in store.list_workloads(namespace)]
        stored = _stored_objects(host, namespace)
    finally:
        host.close()
    result = generate.generate_kube(
        names,
        namespace=namespace,
        pods=pods,
        workloads=played,
        stored=stored,
        options=options,
    )
    return GenerateReport(
        yaml=generate.dump_kube(result.objects),
        objects=result.objects,
        warnings=result.warnings,
    )


def _stored_objects(
    host: host_mod.Host, namespace: str
) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The namespace's stored objects (ConfigMaps, Secrets; PVCs once the store keeps them
    there) as played, by (kind, namespace, name)."""
    return {
        (o.kind, o.namespace, o.name): o.body
        for o in host.store.list_objects(namespace=namespace)
        if o.kind in generate.REFERENCED_KINDS
    }
