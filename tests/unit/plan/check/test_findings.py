"""compute_findings over object sets: how the rule groups combine."""

from __future__ import annotations

import pytest

from kubeplay.kube import loader
from kubeplay.plan.check import findings

POD = """\
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: %(ns)s, labels: {app: p}}
spec:
  containers:
  - name: c
    image: registry.example/p:1
    %(extra)s
"""


def _rules(text: str, **options: object) -> list[tuple[str, str, str]]:
    objects = loader.load_text(text, source="t.yaml")
    opts = findings.Options(
        schema_version=str(options.get("schema_version", "1.30.0")),
        pod_security=str(options.get("pod_security", "baseline")),
        resource_checks=False,
    )
    return [
        (f.rule, str(f.level), f.path)
        for f in findings.compute_findings(objects, options=opts)
        if not f.rule.startswith("pss-") or f.level == "error"  # Pod Security: errors only
    ]


def _pod(ns: str = "default", extra: str = "") -> str:
    return POD % {"ns": ns, "extra": extra}


def _owner(kind: str, *, ns: str = "default", name: str = "web", spec: str = "") -> str:
    """A workload of `kind` selecting app=p, the labels of `_pod`'s pod."""
    return f"""\
---
apiVersion: {"batch/v1" if kind == "Job" else "apps/v1"}
kind: {kind}
metadata: {{name: {name}, namespace: {ns}}}
spec:
  selector: {{matchLabels: {{app: p}}}}
  {spec}
  template:
    metadata: {{labels: {{app: p}}}}
    spec:
      restartPolicy: {"Never" if kind == "Job" else "Always"}
      containers: [{{name: c, image: "registry.example/p:1"}}]
"""


ADOPTED = [("pod-adopted-by-controller", "warning", "metadata.labels")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(_pod() + _owner("ReplicaSet"), ADOPTED, id="replicaset-adopts-a-bare-pod"),
        pytest.param(_pod() + _owner("DaemonSet"), ADOPTED, id="daemonset-adopts-a-bare-pod"),
        pytest.param(_pod("a") + _owner("ReplicaSet", ns="b"), [], id="only-in-its-namespace"),
        pytest.param(
            _pod() + _owner("Deployment"), [], id="deployment-replicasets-select-their-hash-too"
        ),
        pytest.param(
            _pod() + _owner("Job", spec="manualSelector: true"),
            ADOPTED,
            id="job-with-manual-selector-adopts",
        ),
        pytest.param(_pod() + _owner("Job"), [], id="job-selector-is-its-own-uid"),
        pytest.param(
            _pod() + _owner("StatefulSet", spec="serviceName: web"),
            [],
            id="statefulset-adopts-only-its-ordinal-names",
        ),
        pytest.param(
            _pod().replace("name: p,", "name: web-1,")
            + _owner("StatefulSet", spec="serviceName: web"),
            ADOPTED,
            id="statefulset-adopts-its-ordinal-name",
        ),
        pytest.param(
            _pod().replace(
                "labels:", "ownerReferences: [{apiVersion: v1, kind: X, name: x, uid: u}], labels:"
            )
            + _owner("ReplicaSet"),
            [],
            id="a-pod-with-an-owner-is-not-adopted",
        ),
    ],
)
def test_a_bare_pod_a_controller_selects_is_adopted_in_a_cluster(
    text: str, expected: list[tuple[str, str, str]]
) -> None:
    assert [r for r in _rules(text) if r[0] == "pod-adopted-by-controller"] == expected


HPA_V2BETA2 = """\
apiVersion: autoscaling/v2beta2
kind: HorizontalPodAutoscaler
metadata: {name: h}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 3
"""


@pytest.mark.parametrize(
    ("text", "options", "expected"),
    [
        pytest.param(
            _pod(extra="bogus: 1"),
            {},
            [("schema-invalid", "error", "spec.containers[0].bogus")],
            id="unknown-field-is-a-schema-error",
        ),
        pytest.param(
            _pod().replace("spec:\n", "spec:\n  os: {name: windows}\n"),
            {},
            [("field-not-played", "warning", "spec.os.name")],
            id="windows-pod-is-refused-by-kubeplay-only",
        ),
        pytest.param(
            HPA_V2BETA2,
            {"schema_version": "1.25.0"},
            [
                ("api-deprecated", "warning", "apiVersion"),
                ("kind-not-played", "warning", "kind"),
            ],
            id="deprecated-api-version-is-still-validated-and-served",
        ),
        pytest.param(
            HPA_V2BETA2,
            {"schema_version": "1.26.0"},
            [("api-removed", "error", "apiVersion")],
            id="removed-api-version-is-not-validated-further",
        ),
        pytest.param(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: locked\n  labels:\n"
            "    pod-security.kubernetes.io/enforce: restricted\n---\n" + _pod("locked"),
            {},
            [
                (
                    "pss-allowPrivilegeEscalation",
                    "error",
                    "spec.containers[0].securityContext.allowPrivilegeEscalation",
                ),
                ("pss-runAsNonRoot", "error", "spec.containers[0].securityContext.runAsNonRoot"),
                (
                    "pss-seccompProfile_restricted",
                    "error",
                    "spec.containers[0].securityContext.seccompProfile",
                ),
                (
                    "pss-capabilities_restricted",
                    "error",
                    "spec.containers[0].securityContext.capabilities.drop",
                ),
            ],
            id="namespace-enforce-label-decides-the-pod-security-level",
        ),
        pytest.param(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: pinned\n  labels:\n"
            "    pod-security.kubernetes.io/enforce-version: v1.31\n---\n"
            + _pod("pinned").replace(
                "spec:\n",
                "spec:\n  securityContext:\n    sysctls:\n"
                "    - {name: net.ipv4.tcp_rmem, value: '4096 87380 6291456'}\n",
            ),
            {"schema_version": "1.37.0"},
            [("pss-sysctls", "error", "spec.securityContext.sysctls[0].name")],
            id="namespace-enforce-version-pins-the-checks-version",
        ),
        pytest.param(
            _pod().replace(
                "spec:\n",
                "spec:\n  securityContext:\n    sysctls:\n"
                "    - {name: net.ipv4.tcp_rmem, value: '4096 87380 6291456'}\n",
            ),
            {"schema_version": "1.37.0"},
            [],
            id="tcp-rmem-sysctl-is-baseline-at-the-clusters-version",
        ),
        pytest.param(
            _pod(),
            {"pod_security": "baseline"},
            [],
            id="baseline-pod-in-a-baseline-namespace-has-no-error",
        ),
        pytest.param(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n---\n"
            + _pod(extra="envFrom: [{configMapRef: {name: cfg}}, {secretRef: {name: s}}]"),
            {},
            [("ref-secret-missing", "warning", "spec.containers[0].envFrom[1].secretRef.name")],
            id="a-reference-defined-in-the-files-is-fine",
        ),
        pytest.param(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: other}\n---\n"
            + _pod(extra="envFrom: [{configMapRef: {name: cfg}}]"),
            {},
            [
                (
                    "ref-configmap-missing",
                    "warning",
                    "spec.containers[0].envFrom[0].configMapRef.name",
                )
            ],
            id="a-reference-is-looked-up-in-the-pods-namespace",
        ),
        pytest.param(
            _pod() + "---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n"
            "spec: {selector: {app: p}, ports: [{port: 80}]}\n",
            {},
            [],
            id="service-selecting-a-pod-of-the-files",
        ),
        pytest.param(
            _pod("a") + "---\napiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: b}\n"
            "spec: {selector: {app: p}, ports: [{port: 80}]}\n",
            {},
            [("service-selector-no-match", "warning", "spec.selector")],
            id="service-selects-only-in-its-own-namespace",
        ),
    ],
)
def test_findings(
    text: str, options: dict[str, object], expected: list[tuple[str, str, str]]
) -> None:
    assert _rules(text, **options) == expected


def test_resource_checks_can_be_turned_off() -> None:
    objects = loader.load_text(_pod(), source="t.yaml")
    on = findings.compute_findings(objects, options=findings.Options(schema_version="1.30.0"))
    off = findings.compute_findings(
        objects, options=findings.Options(schema_version="1.30.0", resource_checks=False)
    )
    rules_on, rules_off = {f.rule for f in on}, {f.rule for f in off}
    resource_rules = {
        "resources-requests-unset",
        "resources-limits-unset",
        "probe-readiness-missing",
        "probe-liveness-missing",
    }
    assert resource_rules <= rules_on
    assert not resource_rules & rules_off


def test_findings_point_at_the_line_of_the_field() -> None:
    objects = loader.load_text(_pod(extra="imagePullPolicy: Never"), source="t.yaml")
    (never,) = [
        f
        for f in findings.compute_findings(
            objects, options=findings.Options(schema_version="1.30.0")
        )
        if f.rule == "image-pull-never"
    ]
    assert (never.source, never.line, never.doc_index, never.kind, never.name) == (
        "t.yaml",
        8,
        1,
        "Pod",
        "p",
    )
