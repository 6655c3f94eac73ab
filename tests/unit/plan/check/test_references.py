"""References across the file set, Service selectors, workload selectors."""

from __future__ import annotations

from typing import Any

import pytest

from kubeplay.plan.check import references


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            {"volumes": [{"name": "v", "configMap": {"name": "cfg"}}]},
            [("ConfigMap", "cfg", "spec.volumes[0].configMap.name")],
            id="configmap-volume",
        ),
        pytest.param(
            {"volumes": [{"name": "v", "configMap": {"name": "cfg", "optional": True}}]},
            [],
            id="optional-configmap-volume-is-not-required",
        ),
        pytest.param(
            {"volumes": [{"name": "v", "secret": {"secretName": "tls"}}]},
            [("Secret", "tls", "spec.volumes[0].secret.secretName")],
            id="secret-volume",
        ),
        pytest.param(
            {"volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "data"}}]},
            [("PersistentVolumeClaim", "data", "spec.volumes[0].persistentVolumeClaim.claimName")],
            id="persistent-volume-claim",
        ),
        pytest.param(
            {"volumes": [{"name": "v", "projected": {"sources": [{"secret": {"name": "s"}}]}}]},
            [("Secret", "s", "spec.volumes[0].projected.sources[0].secret.name")],
            id="projected-secret",
        ),
        pytest.param(
            {
                "containers": [
                    {
                        "name": "c",
                        "env": [
                            {
                                "name": "A",
                                "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "a"}},
                            },
                            {
                                "name": "B",
                                "valueFrom": {
                                    "secretKeyRef": {"name": "s", "key": "b", "optional": True}
                                },
                            },
                        ],
                        "envFrom": [{"secretRef": {"name": "creds"}}],
                    }
                ]
            },
            [
                ("ConfigMap", "cfg", "spec.containers[0].env[0].valueFrom.configMapKeyRef.name"),
                ("Secret", "creds", "spec.containers[0].envFrom[0].secretRef.name"),
            ],
            id="env-and-env-from-references",
        ),
        pytest.param(
            {"serviceAccountName": "builder"},
            [("ServiceAccount", "builder", "spec.serviceAccountName")],
            id="service-account",
        ),
        pytest.param(
            {"serviceAccountName": "default"}, [], id="default-service-account-always-exists"
        ),
        pytest.param(
            {"imagePullSecrets": [{"name": "regcred"}]},
            [("Secret", "regcred", "spec.imagePullSecrets[0].name")],
            id="image-pull-secret",
        ),
    ],
)
def test_references(spec: dict[str, Any], expected: list[tuple[str, str, str]]) -> None:
    found = [(r.kind, r.name, r.path) for r in references.compute_references(spec, "spec")]
    assert found == expected


def _workload(kind: str, selector: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    return {
        "kind": kind,
        "spec": {"selector": selector, "template": {"metadata": {"labels": labels}}},
    }


@pytest.mark.parametrize(
    ("kind", "selector", "labels", "expected"),
    [
        pytest.param(
            "Deployment",
            {"matchLabels": {"app": "web"}},
            {"app": "web", "tier": "f"},
            None,
            id="deployment-selector-matches-template",
        ),
        pytest.param(
            "Deployment",
            {"matchLabels": {"app": "web"}},
            {"app": "api"},
            "spec.template.metadata.labels",
            id="deployment-selector-does-not-match-template",
        ),
        pytest.param(
            "StatefulSet",
            {"matchExpressions": [{"key": "app", "operator": "In", "values": ["db"]}]},
            {"app": "cache"},
            "spec.template.metadata.labels",
            id="statefulset-match-expressions-do-not-match",
        ),
        pytest.param("DaemonSet", {}, {"app": "x"}, "spec.selector", id="empty-selector"),
        pytest.param("Job", {}, {"app": "x"}, None, id="job-selector-is-generated"),
    ],
)
def test_workload_selector(
    kind: str, selector: dict[str, Any], labels: dict[str, str], expected: str | None
) -> None:
    found = references.selector_mismatch(kind, _workload(kind, selector, labels))
    assert (None if found is None else found[0]) == expected


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        pytest.param(
            {"app": "web"},
            {"app": "web", "tier": "front"},
            True,
            id="service-selects-superset-labels",
        ),
        pytest.param(
            {"app": "web", "tier": "back"},
            {"app": "web"},
            False,
            id="service-selector-needs-every-label",
        ),
    ],
)
def test_service_selects(selector: dict[str, str], labels: dict[str, str], expected: bool) -> None:
    assert references.service_selects(selector, labels) is expected
