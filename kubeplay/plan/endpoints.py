"""The v1 Endpoints view of a Service, and why a Service port has no endpoints.

Kubernetes keeps two copies of a selector Service's endpoints: the EndpointSlice controller's
slices and the endpoints controller's v1 Endpoints object (deprecated since 1.33, still
written). kubeplay stores only the slices (`plan.services.compute_endpoint_slices`) and derives
the Endpoints object from them when it is read (`derive_endpoints`), so the two never
disagree and a readiness flip writes one object, not two. A selector-less Service's Endpoints
are the user's, stored as applied. `explain_no_endpoints` says, for `describe svc`, why a port
has none. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubeplay.plan.services import (
    HEADLESS,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    PodInfo,
    ServicePort,
    ServiceSpec,
    selected_pods,
)

SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"
HEADLESS_LABEL = "service.kubernetes.io/headless"


def derive_endpoints(
    service: Mapping[str, Any], slices: Sequence[Mapping[str, Any]]
) -> dict[str, Any] | None:
    """The Endpoints object the endpoints controller keeps for `service` (as `get -o yaml`
    shows it), from the EndpointSlices kubeplay keeps for it; None for a Service it keeps
    none for (selector-less: the user's own, if any; ExternalName). One subset per port
    group, as `RepackSubsets` groups them: Ready endpoints are `addresses`, the others
    `notReadyAddresses`, terminating ones that are not Ready left out."""
    meta = service.get("metadata") or {}
    spec = service.get("spec") or {}
    if not spec.get("selector") or spec.get("type") == "ExternalName":
        return None
    labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
    labels[SKIP_MIRROR_LABEL] = "true"
    if spec.get("clusterIP") == HEADLESS:
        labels[HEADLESS_LABEL] = ""
    subsets: list[dict[str, Any]] = []
    for sl in sorted(slices, key=lambda s: str((s.get("metadata") or {}).get("name"))):
        slice_labels = (sl.get("metadata") or {}).get("labels") or {}
        if slice_labels.get(MANAGED_BY_LABEL) != MANAGED_BY:
            continue
        ready: list[dict[str, Any]] = []
        not_ready: list[dict[str, Any]] = []
        for ep in sl.get("endpoints") or ():
            cond = ep.get("conditions") or {}
            if cond.get("ready") is False and cond.get("terminating"):
                continue
            for ip in ep.get("addresses") or ():
                address: dict[str, Any] = {"ip": str(ip)}
                for key in ("hostname", "nodeName", "targetRef"):
                    if ep.get(key):
                        address[key] = ep[key]
                (not_ready if cond.get("ready") is False else ready).append(address)
        if not ready and not not_ready:
            continue
        subset: dict[str, Any] = {}
        if ready:
            subset["addresses"] = sorted(ready, key=lambda a: _ip_key(a["ip"]))
        if not_ready:
            subset["notReadyAddresses"] = sorted(not_ready, key=lambda a: _ip_key(a["ip"]))
        ports = [
            {
                **({"name": p["name"]} if p.get("name") else {}),
                "port": p.get("port"),
                "protocol": p.get("protocol") or "TCP",
            }
            for p in sl.get("ports") or ()
        ]
        if ports:
            subset["ports"] = ports
        subsets.append(subset)
    out_meta: dict[str, Any] = {"name": meta.get("name"), "namespace": meta.get("namespace")}
    if meta.get("creationTimestamp"):
        out_meta["creationTimestamp"] = meta["creationTimestamp"]
    out_meta["labels"] = labels
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "Endpoints", "metadata": out_meta}
    if subsets:
        body["subsets"] = subsets
    return body


def _ip_key(ip: str) -> tuple[int, ...]:
    parts = ip.split(".")
    return tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else (1 << 16,)


def explain_no_endpoints(svc: ServiceSpec, pods: Sequence[PodInfo]) -> dict[tuple[str, str], str]:
    """Why each port of `svc` that has no ready endpoint has none, by (port name, protocol):
    no pod matches the selector, the pods matched have no container port of the named
    targetPort, or none of them is Ready. Empty for a selector-less or ExternalName Service
    (its endpoints are the user's) and for ports that have endpoints."""
    if svc.selector is None or svc.type == "ExternalName":
        return {}
    chosen = selected_pods(svc, pods)
    out: dict[tuple[str, str], str] = {}
    for port in svc.ports:
        reason = _reason(svc, port, chosen)
        if reason:
            out[port.name, port.protocol] = reason
    return out


def _reason(svc: ServiceSpec, port: ServicePort, chosen: Sequence[PodInfo]) -> str:
    if not chosen:
        return "no running pod in the namespace matches the selector"
    target = port.target_port
    if isinstance(target, str):
        named = [p for p in chosen if target in p.named_ports]
        if not named:
            return f'{_of(chosen)}, none has a container port named "{target}"'
        same = [p for p in named if p.named_ports[target][1] == port.protocol]
        if not same:
            other = named[0].named_ports[target][1]
            return f'{_of(named)}, container port "{target}" is {other}, not {port.protocol}'
        chosen = same
    if svc.publish_not_ready or any(p.ready and not p.terminating for p in chosen):
        return ""
    return f"{_of(chosen)}, none is Ready"


def _of(pods: Sequence[PodInfo]) -> str:
    return f"of the {len(pods)} pod{'' if len(pods) == 1 else 's'} the selector matches"
