"""Requests and limits into cgroup settings, as the kubelet computes them.

Sources: pkg/kubelet/cm/helpers_linux.go (MilliCPUToShares, MilliCPUToQuota,
CpuSharesToCPUWeight), pkg/kubelet/kuberuntime/kuberuntime_container_linux.go
calculateLinuxResources (requests default to limits; 100 ms CFS period),
https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/.
"""

from __future__ import annotations

from typing import Any

import pytest

from kubeplay.plan import resources
from kubeplay.plan.resources import ResourcePlan


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(None, ResourcePlan(), id="best-effort"),
        pytest.param(
            {"limits": {"cpu": "500m", "memory": "64Mi"}},
            ResourcePlan(500, 500, 64 * 2**20, 64 * 2**20),
            id="requests-default-to-limits",
        ),
        pytest.param(
            {"requests": {"cpu": "0.25", "memory": "1G"}, "limits": {"cpu": 2}},
            ResourcePlan(250, 2000, 10**9, None),
            id="requests-and-limits",
        ),
        pytest.param(
            {"limits": {"cpu": "1.0001", "memory": "1.5Ki"}},
            ResourcePlan(1001, 1001, 1536, 1536),
            id="quantities-round-up",
        ),
    ],
)
def test_resources_from(spec: dict[str, Any] | None, expected: ResourcePlan) -> None:
    assert resources.resources_from(spec) == expected


@pytest.mark.parametrize(
    ("milli", "shares"),
    [
        pytest.param(0, 2, id="nothing-requested-min-shares"),
        pytest.param(1, 2, id="tiny-request-min-shares"),
        pytest.param(100, 102, id="100m"),
        pytest.param(1000, 1024, id="one-cpu"),
        pytest.param(1_000_000, 262144, id="capped"),
    ],
)
def test_milli_cpu_to_shares(milli: int, shares: int) -> None:
    assert resources.milli_cpu_to_shares(milli) == shares


@pytest.mark.parametrize(
    ("milli", "quota"),
    [
        pytest.param(0, 0, id="no-limit"),
        pytest.param(5, 1000, id="at-least-1ms"),
        pytest.param(250, 25000, id="250m"),
        pytest.param(2000, 200000, id="two-cpus"),
    ],
)
def test_milli_cpu_to_quota(milli: int, quota: int) -> None:
    assert resources.milli_cpu_to_quota(milli) == quota


@pytest.mark.parametrize(
    ("shares", "weight"),
    [
        pytest.param(2, 1, id="min"),
        pytest.param(1024, 39, id="one-cpu"),
        pytest.param(262144, 10000, id="max"),
    ],
)
def test_cgroup_v2_cpu_weight(shares: int, weight: int) -> None:
    assert resources.shares_to_weight(shares) == weight


@pytest.mark.parametrize(
    ("plan", "v2", "swap", "expected"),
    [
        pytest.param(
            ResourcePlan(),
            False,
            True,
            {},
            id="v1-best-effort-kernel-defaults",
        ),
        pytest.param(
            ResourcePlan(250, 500, 2**20, 2**21),
            False,
            True,
            {
                "cpu": {"shares": 256, "period": 100000, "quota": 50000},
                "memory": {"limit": 2**21, "swap": 2**21},
            },
            id="v1-limits-no-swap",
        ),
        pytest.param(
            ResourcePlan(None, None, None, 2**21),
            False,
            False,
            {"memory": {"limit": 2**21}},
            id="v1-without-swap-controller",
        ),
        pytest.param(
            ResourcePlan(),
            True,
            True,
            {},
            id="v2-best-effort-kernel-defaults",
        ),
        pytest.param(
            ResourcePlan(1000, 1500, None, 2**21),
            True,
            True,
            {
                "unified": {
                    "cpu.weight": "39",
                    "cpu.max": "150000 100000",
                    "memory.max": str(2**21),
                    "memory.swap.max": "0",
                }
            },
            id="v2-limits",
        ),
    ],
)
def test_linux_resources(
    plan: ResourcePlan, v2: bool, swap: bool, expected: dict[str, Any]
) -> None:
    assert resources.linux_resources(plan, cgroup_v2=v2, swap_controller=swap) == expected
