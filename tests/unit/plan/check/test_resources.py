"""Resources and probes, as kube-score and kube-linter report them."""

from __future__ import annotations

from typing import Any

import pytest

from kubeplay.plan.check import resources

FULL = {
    "name": "c",
    "image": "x:1",
    "resources": {
        "requests": {"cpu": "100m", "memory": "64Mi"},
        "limits": {"cpu": "1", "memory": "128Mi"},
    },
    "readinessProbe": {"tcpSocket": {"port": 80}},
    "livenessProbe": {"tcpSocket": {"port": 80}},
}


def _without(*fields: str) -> dict[str, Any]:
    return {k: v for k, v in FULL.items() if k not in fields}


@pytest.mark.parametrize(
    ("kind", "spec", "expected"),
    [
        pytest.param(
            "Pod", {"containers": [FULL]}, [], id="container-with-requests-limits-and-probes"
        ),
        pytest.param(
            "Pod",
            {"containers": [_without("resources")]},
            ["resources-requests-unset", "resources-limits-unset"],
            id="container-without-resources",
        ),
        pytest.param(
            "Deployment",
            {
                "containers": [
                    {
                        **FULL,
                        "resources": {
                            "requests": {"cpu": "1"},
                            "limits": {"cpu": "1", "memory": "128Mi"},
                        },
                    }
                ]
            },
            ["resources-requests-unset"],
            id="memory-request-missing",
        ),
        pytest.param(
            "Deployment",
            {"containers": [_without("readinessProbe", "livenessProbe")]},
            ["probe-readiness-missing", "probe-liveness-missing"],
            id="long-running-container-without-probes",
        ),
        pytest.param(
            "Job",
            {"containers": [_without("readinessProbe", "livenessProbe")]},
            [],
            id="job-pods-run-to-completion-need-no-probes",
        ),
        pytest.param(
            "Pod",
            {"restartPolicy": "Never", "containers": [_without("readinessProbe", "livenessProbe")]},
            [],
            id="run-to-completion-pod-needs-no-probes",
        ),
        pytest.param(
            "Pod",
            {"initContainers": [_without("readinessProbe", "livenessProbe")], "containers": [FULL]},
            [],
            id="init-container-needs-no-probes",
        ),
    ],
)
def test_resources_and_probes(kind: str, spec: dict[str, Any], expected: list[str]) -> None:
    assert [p.rule for p in resources.check_resources(kind, spec, "spec")] == expected
