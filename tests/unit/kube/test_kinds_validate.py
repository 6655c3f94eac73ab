"""Every valid kind is accepted and stored, with one warning naming what a cluster would do
with it that kubeplay does not; custom resources are checked against their CRD; names follow
each kind's own rule.

Sources: the Kubernetes documentation's examples (RBAC objects named `system:kube-scheduler`),
rbac/validation ValidateRBACName (path.IsValidPathSegmentName), core/validation
ValidateNamespaceName (DNS-1123 label) and ValidateServiceName (DNS-1035 label),
batch/validation (a CronJob name of at most 52 characters), apiextensions/validation (a CRD is
named `<plural>.<group>`), and the API server's strict field validation of custom resources
against the CRD's openAPIV3Schema.
"""

from __future__ import annotations

import textwrap

import pytest

from kubeplay.errors import ManifestError
from kubeplay.kube import loader, validate
from kubeplay.kube.objects import KubeObject


def _objects(text: str) -> list[KubeObject]:
    return loader.load_text(textwrap.dedent(text), source="all.yaml")


def _warnings(text: str) -> list[str]:
    return [w.render() for w in validate.validate(_objects(text))]


def _errors(text: str) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        validate.validate(_objects(text))
    assert caught.value.exit_code == 2
    return str(caught.value).splitlines()


def _doc(api_version: str, kind: str, name: str, rest: str = "") -> str:
    return f"apiVersion: {api_version}\nkind: {kind}\nmetadata: {{name: {name!r}}}\n{rest}"


@pytest.mark.parametrize(
    ("text", "warning"),
    [
        pytest.param(
            _doc("v1", "ServiceAccount", "builder"),
            "ServiceAccount is stored only: no token is minted or mounted into pods",
            id="serviceaccount",
        ),
        pytest.param(
            _doc(
                "rbac.authorization.k8s.io/v1",
                "Role",
                "reader",
                "rules: [{apiGroups: [''], resources: [pods], verbs: [get]}]\n",
            ),
            "Role is stored only: there is no API server whose requests it would authorize",
            id="role",
        ),
        pytest.param(
            _doc("rbac.authorization.k8s.io/v1", "ClusterRole", "system:kube-scheduler"),
            "ClusterRole is stored only: there is no API server whose requests it would authorize",
            id="clusterrole-path-segment-name",
        ),
        pytest.param(
            _doc(
                "rbac.authorization.k8s.io/v1",
                "RoleBinding",
                "read-pods",
                "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}\n"
                "subjects: [{kind: User, name: jane, apiGroup: rbac.authorization.k8s.io}]\n",
            ),
            "RoleBinding is stored only: there is no API server whose requests it would authorize",
            id="rolebinding",
        ),
        pytest.param(
            _doc(
                "rbac.authorization.k8s.io/v1",
                "ClusterRoleBinding",
                "system:kube-scheduler",
                "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, "
                "name: 'system:kube-scheduler'}\n",
            ),
            "ClusterRoleBinding is stored only: there is no API server whose requests it "
            "would authorize",
            id="clusterrolebinding-path-segment-name",
        ),
        pytest.param(
            _doc(
                "networking.k8s.io/v1",
                "NetworkPolicy",
                "deny",
                "spec: {podSelector: {}, policyTypes: [Ingress]}\n",
            ),
            "NetworkPolicy is stored only: pod traffic is not filtered by network policies",
            id="networkpolicy",
        ),
        pytest.param(
            _doc(
                "networking.k8s.io/v1",
                "Ingress",
                "web",
                "spec: {defaultBackend: {service: {name: web, port: {number: 80}}}}\n",
            ),
            "Ingress is stored only: no ingress controller routes HTTP to its Services",
            id="ingress",
        ),
        pytest.param(
            _doc("v1", "ResourceQuota", "q", "spec: {hard: {pods: '10'}}\n"),
            "ResourceQuota is stored only: quotas are not enforced on pods",
            id="resourcequota",
        ),
        pytest.param(
            _doc("v1", "LimitRange", "l", "spec: {limits: [{type: Container}]}\n"),
            "LimitRange is stored only: default requests and limits are not applied to pods",
            id="limitrange",
        ),
        pytest.param(
            _doc("policy/v1", "PodDisruptionBudget", "p", "spec: {minAvailable: 1}\n"),
            "PodDisruptionBudget is stored only: there are no evictions or drains for it to limit",
            id="poddisruptionbudget",
        ),
        pytest.param(
            _doc(
                "autoscaling/v2",
                "HorizontalPodAutoscaler",
                "web",
                "spec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}, "
                "maxReplicas: 3}\n",
            ),
            "HorizontalPodAutoscaler is stored only: replicas are not scaled on metrics",
            id="horizontalpodautoscaler",
        ),
        pytest.param(
            _doc("scheduling.k8s.io/v1", "PriorityClass", "high", "value: 1000\n"),
            "PriorityClass is stored only: pods are not scheduled or preempted by priority",
            id="priorityclass",
        ),
        pytest.param(
            _doc("storage.k8s.io/v1", "StorageClass", "fast", "provisioner: example.com/x\n"),
            "StorageClass is stored only: claims are provisioned as local directories, "
            "whatever the class",
            id="storageclass",
        ),
        pytest.param(
            _doc(
                "v1",
                "PersistentVolume",
                "pv1",
                "spec: {capacity: {storage: 1Gi}, accessModes: [ReadWriteOnce], "
                "hostPath: {path: /tmp/pv1}}\n",
            ),
            "PersistentVolume is stored only: claims are bound to local volumes, not to "
            "PersistentVolumes",
            id="persistentvolume",
        ),
    ],
)
def test_stored_kind_warns_once(text: str, warning: str) -> None:
    assert _warnings(text) == [
        f"all.yaml: document 1 ({text.split()[3]} {_name(text)}): kind: {warning}"
    ]


def _name(text: str) -> str:
    return text.split("name: ", 1)[1].split("}", 1)[0].strip("'")


def test_two_objects_of_one_stored_kind_warn_once() -> None:
    text = _doc("v1", "ServiceAccount", "a") + "---\n" + _doc("v1", "ServiceAccount", "b")
    assert _warnings(text) == [
        "all.yaml: document 1 (ServiceAccount a): kind: ServiceAccount is stored only: no "
        "token is minted or mounted into pods (also in ServiceAccount b)"
    ]


CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer, minimum: 1}
              color: {type: string, enum: [red, blue], nullable: true}
              port: {x-kubernetes-int-or-string: true}
              extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
"""


def _widget(spec: str) -> str:
    return CRD + "---\n" + _doc("example.com/v1", "Widget", "w", f"spec: {spec}\n")


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param("{size: 1}", id="custom-resource-valid"),
        pytest.param("{size: 2, color: null, port: http}", id="nullable-and-int-or-string"),
        pytest.param("{size: 2, port: 8080, extra: {any: {thing: 1}}}", id="preserve-unknown"),
    ],
)
def test_custom_resource_valid_against_its_crd(spec: str) -> None:
    assert _warnings(_widget(spec)) == [
        "all.yaml: document 1 (CustomResourceDefinition widgets.example.com): kind: "
        "CustomResourceDefinition is stored only: its custom resources are validated and "
        "stored; no controller acts on them",
        "all.yaml: document 2 (Widget w): kind: Widget is stored only: no controller acts on it",
    ]


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        pytest.param("{}", "spec.size: required", id="required-field"),
        pytest.param("{size: 0}", "spec.size: 0 is less than the minimum of 1", id="minimum"),
        pytest.param(
            "{size: 1, color: green}",
            "spec.color: must be one of red, blue, got string 'green'",
            id="enum",
        ),
        pytest.param("{size: 1, shape: round}", "spec.shape: unknown field", id="unknown-field"),
        pytest.param("{size: one}", "spec.size: must be integer, got string 'one'", id="type"),
    ],
)
def test_custom_resource_invalid_against_its_crd(spec: str, error: str) -> None:
    assert _errors(_widget(spec)) == [f"all.yaml:{_line()}: document 2 (Widget w): {error}"]


def _line() -> int:
    return CRD.count("\n") + 5  # `---`, apiVersion, kind, metadata, then `spec:`


def test_custom_resource_crd_stored_earlier() -> None:
    crds = _objects(CRD)
    widget = _objects(_doc("example.com/v1", "Widget", "w", "spec: {size: 3}\n"))
    assert validate.validate(widget, stored_crds=crds)


def test_custom_resource_of_an_unserved_version() -> None:
    text = CRD + "---\n" + _doc("example.com/v2", "Widget", "w", "spec: {size: 1}\n")
    (line,) = _errors(text)
    assert line.endswith("apiVersion: no matches for kind 'Widget' in version 'v2'")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        pytest.param(
            _doc("example.com/v1", "Widget", "w"),
            "unsupported kind Widget for apiVersion example.com/v1",
            id="custom-resource-without-crd-is-refused",
        ),
        pytest.param(
            _doc("v1", "Gadget", "g"),
            "unsupported kind Gadget for apiVersion v1",
            id="unknown-core-kind-refused",
        ),
    ],
)
def test_unknown_kind_is_an_error(text: str, error: str) -> None:
    (line,) = _errors(text)
    assert line.endswith(error)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        pytest.param(
            _doc("v1", "ServiceAccount", "system:sa"),
            False,
            id="serviceaccount-subdomain-refuses-colon",
        ),
        pytest.param(
            _doc("rbac.authorization.k8s.io/v1", "Role", "system:leader-locking"),
            True,
            id="role-path-segment-colon",
        ),
        pytest.param(
            _doc("rbac.authorization.k8s.io/v1", "Role", "Has Caps"),
            True,
            id="role-path-segment-anything-but-slash-percent",
        ),
        pytest.param(
            _doc("rbac.authorization.k8s.io/v1", "Role", "a/b"), False, id="role-no-slash"
        ),
        pytest.param(
            _doc("rbac.authorization.k8s.io/v1", "ClusterRole", ".."),
            False,
            id="clusterrole-not-dot-dot",
        ),
        pytest.param(
            _doc("rbac.authorization.k8s.io/v1", "ClusterRole", "50%"),
            False,
            id="clusterrole-no-percent",
        ),
        pytest.param(_doc("v1", "Namespace", "a.b"), False, id="namespace-dns-label-no-dot"),
        pytest.param(
            _doc("v1", "Service", "1web", "spec: {ports: [{port: 80}]}\n"),
            False,
            id="service-dns-1035-starts-with-letter",
        ),
        pytest.param(_doc("v1", "ConfigMap", "a.b"), True, id="configmap-subdomain-dot"),
        pytest.param(
            _doc(
                "batch/v1",
                "CronJob",
                "c" * 53,
                "spec:\n  schedule: '* * * * *'\n"
                "  jobTemplate: {spec: {template: {spec: {restartPolicy: Never, "
                "containers: [{name: a, image: busybox}]}}}}\n",
            ),
            False,
            id="cronjob-name-over-52",
        ),
        pytest.param(
            CRD.replace("name: widgets.example.com", "name: gadgets.example.com"),
            False,
            id="crd-name-is-plural-dot-group",
        ),
    ],
)
def test_name_rule_per_kind(text: str, ok: bool) -> None:
    if ok:
        validate.validate(_objects(text))
    else:
        assert any("metadata.name" in line for line in _errors(text))


def test_cluster_scoped_kind_ignores_a_namespace() -> None:
    text = _doc("rbac.authorization.k8s.io/v1", "ClusterRole", "x").replace(
        "metadata: {", "metadata: {namespace: dev, "
    )
    assert len(_warnings(text)) == 1


def test_cluster_scoped_duplicate_whatever_the_namespace() -> None:
    first = _doc("rbac.authorization.k8s.io/v1", "ClusterRole", "x")
    second = first.replace("metadata: {", "metadata: {namespace: dev, ")
    (line,) = _errors(first + "---\n" + second)
    assert "duplicate ClusterRole x" in line


def test_crd_with_a_broken_schema_is_an_error() -> None:
    text = _widget("{size: 1}").replace("size: {type: integer, minimum: 1}", "size: {type: gadget}")
    lines = _errors(text)
    assert lines[0].startswith(
        "all.yaml:20: document 1 (CustomResourceDefinition widgets.example.com): "
        "spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.size.type: "
        "not a valid schema: "
    ), lines
