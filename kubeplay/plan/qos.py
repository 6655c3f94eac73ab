"""Quality of Service: a pod's QoS class and the oom_score_adj the kubelet gives its processes.

`qos_class` follows GetPodQOS (pkg/apis/core/v1/helper/qos): only cpu and memory count; no
request and no limit anywhere is BestEffort; every container limiting both, with requests equal
to limits summed over the pod, is Guaranteed; anything else is Burstable. Requests default to
limits (API defaulting, done by `resources.resources_from`).

`container_oom_score_adj` follows GetContainerOOMScoreAdjust (pkg/kubelet/qos/policy.go):
Guaranteed -997, BestEffort 1000, Burstable 1000 - 1000 * memory request / node memory,
kept within [3, 999] so a burstable container is killed after any Guaranteed one and before any
BestEffort one. The pod's infra (pause) container gets -998 (PodInfraOOMAdj).

`clamp_oom_score_adj`: without CAP_SYS_RESOURCE the kernel refuses to lower a process's
oom_score_adj below its own, and runc would fail the container; kubeplay then keeps its own
value as the floor, as podman does rootless. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from kubeplay.plan.resources import ResourcePlan

GUARANTEED_OOM_SCORE_ADJ = -997
BEST_EFFORT_OOM_SCORE_ADJ = 1000
INFRA_OOM_SCORE_ADJ = -998


class QOSClass(StrEnum):
    GUARANTEED = "Guaranteed"
    BURSTABLE = "Burstable"
    BEST_EFFORT = "BestEffort"


def qos_class(resources: Iterable[ResourcePlan]) -> QOSClass:
    """The QoS class of a pod whose containers (init and app) have `resources`."""
    requests = {"cpu": 0, "memory": 0}
    limits = {"cpu": 0, "memory": 0}
    requested: set[str] = set()
    limited: set[str] = set()
    guaranteed = True
    for res in resources:
        for name, req, lim in (
            ("cpu", res.cpu_request_milli, res.cpu_limit_milli),
            ("memory", res.memory_request, res.memory_limit),
        ):
            if req:
                requested.add(name)
                requests[name] += req
            if lim:
                limited.add(name)
                limits[name] += lim
        if res.cpu_limit_milli is None or res.memory_limit is None:
            guaranteed = False
    if not requested and not limited:
        return QOSClass.BEST_EFFORT
    if guaranteed and requested == limited and all(requests[n] == limits[n] for n in requested):
        return QOSClass.GUARANTEED
    return QOSClass.BURSTABLE


def container_oom_score_adj(qos: QOSClass, memory_request: int | None, *, capacity: int) -> int:
    """The oom_score_adj of a container of a pod of class `qos` on a node of `capacity`
    bytes of memory."""
    if qos is QOSClass.GUARANTEED:
        return GUARANTEED_OOM_SCORE_ADJ
    if qos is QOSClass.BEST_EFFORT:
        return BEST_EFFORT_OOM_SCORE_ADJ
    adj = 1000 - (1000 * (memory_request or 0)) // capacity if capacity > 0 else 1000
    if adj < 1000 + GUARANTEED_OOM_SCORE_ADJ:
        return 1000 + GUARANTEED_OOM_SCORE_ADJ
    if adj == BEST_EFFORT_OOM_SCORE_ADJ:
        return adj - 1
    return adj


def clamp_oom_score_adj(value: int, *, floor: int | None) -> int:
    """`value`, raised to `floor` (kubeplay's own oom_score_adj when it may not go lower;
    None when it may)."""
    return value if floor is None else max(value, floor)
