"""Container resources: requests and limits into the OCI spec's cgroup settings, as the kubelet
and containerd set them.

kubelet calculateLinuxResources (pkg/kubelet/kuberuntime/kuberuntime_container_linux.go):
CPU shares from requests.cpu (requests default to limits) by MilliCPUToShares (2 when
nothing is requested), CFS quota over a 100 ms period from limits.cpu, memory limit from
limits.memory; containerd also sets swap equal to the limit (no swap) where the swap
controller exists. On cgroup v2 kubeplay writes the v2 files itself (`unified`): cpu.weight by
the kubelet's CpuSharesToCPUWeight, cpu.max, memory.max and memory.swap.max 0. Quantities
follow resource.Quantity (MilliValue and Value round up). Pure: no I/O.

One deliberate difference: a container that requests no CPU keeps the kernel's default share
(as under Podman). The kubelet gives it 2 shares, but inside the kubepods cgroup, which holds
the node's allocatable share; kubeplay's containers sit beside every host process, where
2 shares would starve them whenever the host is busy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # decimal is imported where a quantity is computed: `get pods` needs none
    from decimal import Decimal

MIN_SHARES = 2
MAX_SHARES = 262144
SHARES_PER_CPU = 1024
QUOTA_PERIOD = 100_000  # microseconds
MIN_QUOTA = 1_000


@dataclass(frozen=True, slots=True)
class ResourcePlan:
    cpu_request_milli: int | None = None
    cpu_limit_milli: int | None = None
    memory_request: int | None = None
    memory_limit: int | None = None


def quantity(value: Any) -> Decimal:
    """A Kubernetes quantity ("100m", "1.5Gi", 2) as a Decimal (kubernetes.utils)."""
    from decimal import Decimal

    from kubernetes.utils.quantity import parse_quantity  # heavy: only when resources are set

    return Decimal(parse_quantity(value))  # type: ignore[no-untyped-call]


def milli_value(value: Any) -> int:
    return math.ceil(quantity(value) * 1000)


def byte_value(value: Any) -> int:
    return math.ceil(quantity(value))


def resources_from(spec: Mapping[str, Any] | None) -> ResourcePlan:
    """A container's manifest `resources`; an unset request takes the limit (API defaulting)."""
    limits = (spec or {}).get("limits") or {}
    requests = (spec or {}).get("requests") or {}
    if not limits and not requests:
        return ResourcePlan()

    def pick(table: Mapping[str, Any], name: str, conv: Any) -> int | None:
        return conv(table[name]) if table.get(name) is not None else None

    cpu_limit = pick(limits, "cpu", milli_value)
    mem_limit = pick(limits, "memory", byte_value)
    cpu_request = pick(requests, "cpu", milli_value)
    mem_request = pick(requests, "memory", byte_value)
    return ResourcePlan(
        cpu_request_milli=cpu_limit if cpu_request is None else cpu_request,
        cpu_limit_milli=cpu_limit,
        memory_request=mem_limit if mem_request is None else mem_request,
        memory_limit=mem_limit,
    )


def resources_from_dict(raw: Mapping[str, Any] | None) -> ResourcePlan:
    return ResourcePlan(**raw) if raw else ResourcePlan()


def milli_cpu_to_shares(milli: int) -> int:
    """kubelet cm.MilliCPUToShares."""
    if milli == 0:
        return MIN_SHARES
    return max(MIN_SHARES, min(MAX_SHARES, milli * SHARES_PER_CPU // 1000))


def milli_cpu_to_quota(milli: int, period: int = QUOTA_PERIOD) -> int:
    """kubelet milliCPUToQuota: 0 (no limit) or at least 1 ms per period."""
    if milli == 0:
        return 0
    return max(MIN_QUOTA, milli * period // 1000)


def shares_to_weight(shares: int) -> int:
    """kubelet CpuSharesToCPUWeight (cgroup v2 cpu.weight, 1..10000)."""
    return 1 + ((shares - 2) * 9999) // 262142


def linux_resources(
    plan: ResourcePlan, *, cgroup_v2: bool, swap_controller: bool = True
) -> dict[str, Any]:
    """The OCI `linux.resources` entries (other than devices) for a container."""
    requested = plan.cpu_request_milli is not None
    limited = plan.cpu_limit_milli is not None
    shares = milli_cpu_to_shares(plan.cpu_request_milli or 0)
    quota = milli_cpu_to_quota(plan.cpu_limit_milli or 0)
    if cgroup_v2:
        unified: dict[str, str] = {}
        if limited:
            unified["cpu.max"] = f"{quota if quota else 'max'} {QUOTA_PERIOD}"
        if requested:
            unified["cpu.weight"] = str(shares_to_weight(shares))
        if plan.memory_limit:
            unified["memory.max"] = str(plan.memory_limit)
            if swap_controller:
                unified["memory.swap.max"] = "0"
        return {"unified": unified} if unified else {}
    out: dict[str, Any] = {}
    if requested or limited:
        cpu: dict[str, Any] = {}
        if requested:
            cpu["shares"] = shares
        if limited:
            cpu["quota"] = quota
            cpu["period"] = QUOTA_PERIOD
        out["cpu"] = cpu
    if plan.memory_limit:
        memory: dict[str, Any] = {"limit": plan.memory_limit}
        if swap_controller:
            memory["swap"] = plan.memory_limit
        out["memory"] = memory
    return out
