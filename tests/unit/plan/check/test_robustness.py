"""check never crashes on what the schema did not validate: a removed apiVersion (not
validated further) or an unknown kind can carry any shape, and every rule still runs."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeplay.kube.objects import KubeObject
from kubeplay.plan.check import findings

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-2, 70000), st.sampled_from(["", "x", "ALL", "0"])
)
_keys = st.sampled_from(
    [
        "spec",
        "template",
        "metadata",
        "labels",
        "selector",
        "matchLabels",
        "matchExpressions",
        "containers",
        "initContainers",
        "ephemeralContainers",
        "volumes",
        "securityContext",
        "capabilities",
        "add",
        "drop",
        "ports",
        "hostPort",
        "image",
        "name",
        "env",
        "envFrom",
        "valueFrom",
        "configMapKeyRef",
        "hostPath",
        "sysctls",
        "seccompProfile",
        "type",
        "readinessProbe",
        "httpGet",
        "host",
        "resources",
        "requests",
        "serviceAccountName",
        "imagePullSecrets",
        "projected",
        "sources",
        "jobTemplate",
        "hostNetwork",
        "os",
    ]
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_keys, inner, max_size=5)),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(["Deployment", "DaemonSet", "StatefulSet", "CronJob", "Pod", "Service"]),
    spec=_values,
)
def test_compute_findings_survives_any_shape_of_an_unvalidated_object(kind: str, spec: Any) -> None:
    # extensions/v1beta1 (removed in 1.16: never validated) and an unknown kind's group
    for api in ("extensions/v1beta1", "apps/v1beta2", "v1"):
        body = {"apiVersion": api, "kind": kind, "metadata": {"name": "x"}, "spec": spec}
        obj = KubeObject(body, source="f.yaml")
        found = findings.compute_findings([obj], options=findings.Options(schema_version="1.30.0"))
        assert all(f.source == "f.yaml" for f in found)
