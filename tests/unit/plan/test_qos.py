from __future__ import annotations

import pytest

from kubeplay.plan import qos
from kubeplay.plan.qos import QOSClass
from kubeplay.plan.resources import ResourcePlan, resources_from

GI = 1024**3
NONE = ResourcePlan()
FULL = resources_from({"limits": {"cpu": "500m", "memory": "1Gi"}})  # requests default to limits


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        pytest.param([NONE], QOSClass.BEST_EFFORT, id="no-requests-no-limits-is-BestEffort"),
        pytest.param([NONE, NONE], QOSClass.BEST_EFFORT, id="two-containers-without-resources"),
        pytest.param([FULL], QOSClass.GUARANTEED, id="limits-only-requests-defaulted-Guaranteed"),
        pytest.param(
            [
                resources_from(
                    {
                        "limits": {"cpu": "1", "memory": "1Gi"},
                        "requests": {"cpu": "1000m", "memory": "1Gi"},
                    }
                )
            ],
            QOSClass.GUARANTEED,
            id="requests-equal-limits-Guaranteed",
        ),
        pytest.param(
            [FULL, NONE], QOSClass.BURSTABLE, id="one-container-without-limits-is-Burstable"
        ),
        pytest.param(
            [resources_from({"limits": {"memory": "1Gi"}})],
            QOSClass.BURSTABLE,
            id="memory-limit-without-cpu-limit-is-Burstable",
        ),
        pytest.param(
            [
                resources_from(
                    {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"memory": "512Mi"}}
                )
            ],
            QOSClass.BURSTABLE,
            id="request-below-limit-is-Burstable",
        ),
        pytest.param(
            [resources_from({"requests": {"cpu": "100m"}})],
            QOSClass.BURSTABLE,
            id="cpu-request-only-is-Burstable",
        ),
        pytest.param([FULL, FULL], QOSClass.GUARANTEED, id="every-container-guaranteed"),
    ],
)
def test_qos_class(resources: list[ResourcePlan], expected: QOSClass) -> None:
    assert qos.qos_class(resources) is expected


@pytest.mark.parametrize(
    ("klass", "memory_request", "expected"),
    [
        pytest.param(QOSClass.GUARANTEED, GI, -997, id="Guaranteed-is-minus-997"),
        pytest.param(QOSClass.BEST_EFFORT, None, 1000, id="BestEffort-is-1000"),
        pytest.param(QOSClass.BURSTABLE, 2 * GI, 750, id="Burstable-quarter-of-node-memory"),
        pytest.param(QOSClass.BURSTABLE, None, 999, id="Burstable-no-memory-request-below-1000"),
        pytest.param(QOSClass.BURSTABLE, 8 * GI, 3, id="Burstable-all-node-memory-floor-3"),
        pytest.param(QOSClass.BURSTABLE, 16 * GI, 3, id="Burstable-over-node-memory-floor-3"),
        pytest.param(QOSClass.BURSTABLE, 3 * GI, 625, id="Burstable-integer-division"),
    ],
)
def test_container_oom_score_adj(
    klass: QOSClass, memory_request: int | None, expected: int
) -> None:
    assert qos.container_oom_score_adj(klass, memory_request, capacity=8 * GI) == expected


@pytest.mark.parametrize(
    ("value", "floor", "expected"),
    [
        pytest.param(-997, None, -997, id="with-CAP_SYS_RESOURCE-any-value"),
        pytest.param(-997, 0, 0, id="without-CAP_SYS_RESOURCE-not-below-own"),
        pytest.param(1000, 0, 1000, id="without-CAP_SYS_RESOURCE-raising-is-fine"),
    ],
)
def test_clamp_oom_score_adj(value: int, floor: int | None, expected: int) -> None:
    assert qos.clamp_oom_score_adj(value, floor=floor) == expected
