"""workloads.set_rules: what the API server rejects in StatefulSets and DaemonSets
(pkg/apis/apps/validation ValidateStatefulSetSpec, ValidateDaemonSetSpec), one rule a case,
each with the field path it names."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from kubeplay.kube import workloads
from kubeplay.kube.objects import KubeObject

TEMPLATE = {
    "metadata": {"labels": {"app": "db"}},
    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
}


def body(kind: str, mutate: Callable[[dict[str, Any]], None]) -> KubeObject:
    doc: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": "db"},
        "spec": {"selector": {"matchLabels": {"app": "db"}}, "template": copy.deepcopy(TEMPLATE)},
    }
    if kind == "StatefulSet":
        doc["spec"]["serviceName"] = "db"
    mutate(doc["spec"])
    return KubeObject(doc, source="db.yaml", doc_index=0)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(spec: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        at = spec
        for name in parents:
            at = at.setdefault(name, {})
        at[last] = value

    return mutate


@pytest.mark.parametrize("kind", ["StatefulSet", "DaemonSet"])
def test_valid_sets_pass(kind: str) -> None:
    assert workloads.check_rules(body(kind, lambda s: None)) == []


@pytest.mark.parametrize(
    ("kind", "mutate", "path"),
    [
        pytest.param(
            "StatefulSet",
            _set("selector", {"matchLabels": {"app": "web"}}),
            "spec.template.metadata.labels",
            id="sts-selector-does-not-match-template",
        ),
        pytest.param(
            "DaemonSet",
            _set("selector", {"matchLabels": {"app": "web"}}),
            "spec.template.metadata.labels",
            id="ds-selector-does-not-match-template",
        ),
        pytest.param("DaemonSet", _set("selector", {}), "spec.selector", id="ds-empty-selector"),
        pytest.param("StatefulSet", _set("replicas", -1), "spec.replicas", id="negative-replicas"),
        pytest.param(
            "StatefulSet",
            _set("podManagementPolicy", "Burst"),
            "spec.podManagementPolicy",
            id="unknown-pod-management-policy",
        ),
        pytest.param(
            "StatefulSet",
            _set("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": -1}}),
            "spec.updateStrategy.rollingUpdate.partition",
            id="negative-partition",
        ),
        pytest.param(
            "StatefulSet",
            _set("updateStrategy", {"type": "OnDelete", "rollingUpdate": {"partition": 1}}),
            "spec.updateStrategy.rollingUpdate",
            id="rolling-update-with-on-delete",
        ),
        pytest.param(
            "StatefulSet",
            _set("persistentVolumeClaimRetentionPolicy", {"whenScaled": "Keep"}),
            "spec.persistentVolumeClaimRetentionPolicy.whenScaled",
            id="unknown-retention-policy",
        ),
        pytest.param(
            "StatefulSet",
            _set("volumeClaimTemplates", [{"metadata": {}, "spec": {}}]),
            "spec.volumeClaimTemplates[0].metadata.name",
            id="claim-template-without-name",
        ),
        pytest.param(
            "StatefulSet",
            _set("template.spec.restartPolicy", "Never"),
            "spec.template.spec.restartPolicy",
            id="sts-restart-policy-never",
        ),
        pytest.param(
            "DaemonSet",
            _set("updateStrategy", {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": "0%"}}),
            "spec.updateStrategy.rollingUpdate.maxUnavailable",
            id="ds-neither-surge-nor-unavailable",
        ),
        pytest.param(
            "DaemonSet",
            _set("updateStrategy", {"type": "Recreate"}),
            "spec.updateStrategy.type",
            id="ds-unknown-strategy",
        ),
    ],
)
def test_rejected(kind: str, mutate: Callable[[dict[str, Any]], None], path: str) -> None:
    assert [p for p, _ in workloads.check_rules(body(kind, mutate))] == [path]


def test_containers_may_mount_claim_templates() -> None:
    def claims(spec: dict[str, Any]) -> None:
        spec["volumeClaimTemplates"] = [{"metadata": {"name": "data"}, "spec": {}}]
        spec["template"]["spec"]["containers"][0]["volumeMounts"] = [
            {"name": "data", "mountPath": "/data"}
        ]

    from kubeplay.kube import validate

    assert validate.check_rules(body("StatefulSet", claims)) == []
    undeclared = body("StatefulSet", claims)
    undeclared.body["spec"]["volumeClaimTemplates"] = []
    assert [p.path for p in validate.check_rules(undeclared)] == [
        "spec.template.spec.containers[0].volumeMounts[0].name"
    ]
