"""API versions at a Kubernetes version: the Deprecated API Migration Guide's table."""

from __future__ import annotations

import pytest

from kubeplay.plan.check import apis


@pytest.mark.parametrize(
    ("api_version", "kind", "version", "expected"),
    [
        pytest.param(
            "policy/v1beta1",
            "PodDisruptionBudget",
            (1, 25),
            (
                True,
                "PodDisruptionBudget policy/v1beta1 is not served since Kubernetes 1.25 "
                "(asked for 1.25): use policy/v1 PodDisruptionBudget",
            ),
            id="pod-disruption-budget-v1beta1-removed-in-1-25",
        ),
        pytest.param(
            "batch/v1beta1",
            "CronJob",
            (1, 30),
            (
                True,
                "CronJob batch/v1beta1 is not served since Kubernetes 1.25 "
                "(asked for 1.30): use batch/v1 CronJob",
            ),
            id="cronjob-v1beta1-removed-in-1-25",
        ),
        pytest.param(
            "extensions/v1beta1",
            "Ingress",
            (1, 25),
            (
                True,
                "Ingress extensions/v1beta1 is not served since Kubernetes 1.22 "
                "(asked for 1.25): use networking.k8s.io/v1 Ingress",
            ),
            id="ingress-extensions-removed-in-1-22",
        ),
        pytest.param(
            "autoscaling/v2beta2",
            "HorizontalPodAutoscaler",
            (1, 25),
            (
                False,
                "HorizontalPodAutoscaler autoscaling/v2beta2 is deprecated since "
                "Kubernetes 1.23, removed in 1.26: use autoscaling/v2 HorizontalPodAutoscaler",
            ),
            id="hpa-v2beta2-deprecated-but-served-at-1-25",
        ),
        pytest.param(
            "flowcontrol.apiserver.k8s.io/v1beta3",
            "FlowSchema",
            (1, 30),
            (
                False,
                "FlowSchema flowcontrol.apiserver.k8s.io/v1beta3 is deprecated since "
                "Kubernetes 1.29, removed in 1.32: use flowcontrol.apiserver.k8s.io/v1 FlowSchema",
            ),
            id="flowschema-v1beta3-deprecated-at-1-30",
        ),
        pytest.param(
            "flowcontrol.apiserver.k8s.io/v1beta3",
            "FlowSchema",
            (1, 28),
            None,
            id="flowschema-v1beta3-served-without-warning-before-1-29",
        ),
        pytest.param(
            "policy/v1beta1",
            "PodSecurityPolicy",
            (1, 25),
            (
                True,
                "PodSecurityPolicy policy/v1beta1 is not served since Kubernetes 1.25 "
                "(asked for 1.25): no replacement: use Pod Security admission (namespace labels "
                "pod-security.kubernetes.io/enforce)",
            ),
            id="pod-security-policy-has-no-replacement",
        ),
        pytest.param(
            "v1",
            "Endpoints",
            (1, 33),
            (
                False,
                "Endpoints v1 is deprecated since Kubernetes 1.33, no removal planned "
                "yet: use discovery.k8s.io/v1 EndpointSlice",
            ),
            id="endpoints-deprecated-for-endpointslices",
        ),
        pytest.param("apps/v1", "Deployment", (1, 37), None, id="apps-v1-deployment-is-served"),
        pytest.param("policy/v1", "PodDisruptionBudget", (1, 25), None, id="pdb-v1-is-served"),
    ],
)
def test_api_status(
    api_version: str, kind: str, version: tuple[int, int], expected: tuple[bool, str] | None
) -> None:
    status = apis.compute_api_status(api_version, kind, version=version)
    assert (None if status is None else (status.removed, status.message)) == expected


def test_every_change_is_deprecated_before_it_is_removed() -> None:
    for change in apis.CHANGES:
        assert change.removed is None or change.deprecated < change.removed, change
