"""The kind registry: kubectl api-resources' names, scopes and `get KIND` resolution.

Source: `kubectl api-resources` (Kubernetes 1.31), kubectl's RESTMapper (plural, singular,
short names, `resource.group`), the `all` category.
"""

from __future__ import annotations

import pytest

from kubeplay.errors import UsageError
from kubeplay.kube import kinds
from kubeplay.kube.kinds import ObjectKey


@pytest.mark.parametrize(
    ("text", "kind", "group", "name"),
    [
        pytest.param("pods", "Pod", "", "", id="plural"),
        pytest.param("pod", "Pod", "", "", id="singular"),
        pytest.param("po", "Pod", "", "", id="short-name"),
        pytest.param("Pod", "Pod", "", "", id="kind-case-insensitive"),
        pytest.param("cm", "ConfigMap", "", "", id="configmap-short"),
        pytest.param("pvc", "PersistentVolumeClaim", "", "", id="pvc-short"),
        pytest.param("deploy", "Deployment", "apps", "", id="deployment-short"),
        pytest.param("deployment.apps", "Deployment", "apps", "", id="singular-dot-group"),
        pytest.param("deployments.apps", "Deployment", "apps", "", id="plural-dot-group"),
        pytest.param("deploy/web", "Deployment", "apps", "web", id="kind-slash-name"),
        pytest.param("deployments.v1.apps", "Deployment", "apps", "", id="resource-version-group"),
        pytest.param(
            "hpa.v1.autoscaling",
            "HorizontalPodAutoscaler",
            "autoscaling",
            "",
            id="short-name-older-version",
        ),
        pytest.param("rs", "ReplicaSet", "apps", "", id="replicaset-short"),
        pytest.param("svc", "Service", "", "", id="service-short"),
        pytest.param("ep", "Endpoints", "", "", id="endpoints-short"),
        pytest.param("sts", "StatefulSet", "apps", "", id="statefulset-short"),
        pytest.param("ds", "DaemonSet", "apps", "", id="daemonset-short"),
        pytest.param("cj", "CronJob", "batch", "", id="cronjob-short"),
        pytest.param("jobs.batch", "Job", "batch", "", id="job-qualified"),
        pytest.param("sa", "ServiceAccount", "", "", id="serviceaccount-short"),
        pytest.param("ns", "Namespace", "", "", id="namespace-short"),
        pytest.param("ing", "Ingress", "networking.k8s.io", "", id="ingress-short"),
        pytest.param("netpol", "NetworkPolicy", "networking.k8s.io", "", id="netpol-short"),
        pytest.param("pdb", "PodDisruptionBudget", "policy", "", id="pdb-short"),
        pytest.param("hpa", "HorizontalPodAutoscaler", "autoscaling", "", id="hpa-short"),
        pytest.param("pc", "PriorityClass", "scheduling.k8s.io", "", id="priorityclass-short"),
        pytest.param("sc", "StorageClass", "storage.k8s.io", "", id="storageclass-short"),
        pytest.param("pv", "PersistentVolume", "", "", id="pv-short"),
        pytest.param("crd", "CustomResourceDefinition", "apiextensions.k8s.io", "", id="crd"),
        pytest.param("crds", "CustomResourceDefinition", "apiextensions.k8s.io", "", id="crds"),
        pytest.param(
            "clusterrolebindings",
            "ClusterRoleBinding",
            "rbac.authorization.k8s.io",
            "",
            id="clusterrolebinding-plural",
        ),
        pytest.param(
            "clusterrole/system:kube-scheduler",
            "ClusterRole",
            "rbac.authorization.k8s.io",
            "system:kube-scheduler",
            id="path-segment-name",
        ),
    ],
)
def test_resolve(text: str, kind: str, group: str, name: str) -> None:
    resolved = kinds.resolve(text)
    assert (resolved.info.kind, resolved.info.group, resolved.name) == (kind, group, name)


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {
            "kind": "Widget",
            "plural": "widgets",
            "singular": "widget",
            "shortNames": ["wg"],
        },
        "versions": [
            {"name": "v1beta1", "served": True, "storage": False},
            {"name": "v1", "served": True, "storage": True},
        ],
    },
}


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("widgets", id="custom-plural"),
        pytest.param("wg", id="custom-short-name"),
        pytest.param("widget.example.com", id="custom-qualified"),
    ],
)
def test_resolve_custom_resource(text: str) -> None:
    info = kinds.from_crd(CRD)
    assert kinds.resolve(text, extra=[info]).info == info
    assert info.api_version == "example.com/v1"
    assert info.versions == ("v1", "v1beta1")


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("widgets", id="custom-kind-without-its-crd"),
        pytest.param("deploy.batch", id="wrong-group"),
        pytest.param("deployments.v2.apps", id="unserved-version"),
        pytest.param("", id="empty"),
    ],
)
def test_unknown_resource(text: str) -> None:
    with pytest.raises(UsageError, match="the server doesn't have a resource type"):
        kinds.resolve(text)


@pytest.mark.parametrize(
    ("kind", "namespaced"),
    [
        pytest.param("Namespace", False, id="namespace-cluster-scoped"),
        pytest.param("PersistentVolume", False, id="pv-cluster-scoped"),
        pytest.param("StorageClass", False, id="storageclass-cluster-scoped"),
        pytest.param("ClusterRole", False, id="clusterrole-cluster-scoped"),
        pytest.param("PriorityClass", False, id="priorityclass-cluster-scoped"),
        pytest.param("CustomResourceDefinition", False, id="crd-cluster-scoped"),
        pytest.param("Role", True, id="role-namespaced"),
        pytest.param("Pod", True, id="pod-namespaced"),
    ],
)
def test_scope(kind: str, namespaced: bool) -> None:
    (info,) = [k for k in kinds.BUILTIN if k.kind == kind]
    assert info.namespaced is namespaced


def test_get_all_is_kubectls_all_category() -> None:
    assert kinds.GET_ALL == (
        "Pod",
        "ReplicationController",
        "Service",
        "DaemonSet",
        "Deployment",
        "ReplicaSet",
        "StatefulSet",
        "HorizontalPodAutoscaler",
        "CronJob",
        "Job",
    )
    assert all(kinds.lookup(k.group, k.kind) is k for k in kinds.BUILTIN)
    assert {k for k in kinds.GET_ALL} <= {k.kind for k in kinds.BUILTIN}


@pytest.mark.parametrize(
    ("body", "key", "ref"),
    [
        pytest.param(
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}},
            ObjectKey("", "Pod", "default", "web"),
            "pod/web",
            id="pod-default-namespace",
        ),
        pytest.param(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "api", "namespace": "prod"},
            },
            ObjectKey("apps", "Deployment", "prod", "api"),
            "deployment.apps/api",
            id="deployment-group-in-ref",
        ),
        pytest.param(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}},
            ObjectKey("", "Namespace", "", "prod"),
            "namespace/prod",
            id="cluster-scoped-no-ns",
        ),
    ],
)
def test_key_and_ref(body: dict[str, object], key: ObjectKey, ref: str) -> None:
    assert kinds.key_of(body) == key
    assert kinds.ref(key) == ref


@pytest.mark.parametrize(
    ("api_version", "kind", "known"),
    [
        pytest.param("v1", "Pod", True, id="core"),
        pytest.param("apps/v1", "Deployment", True, id="apps"),
        pytest.param("autoscaling/v1", "HorizontalPodAutoscaler", True, id="older-served-version"),
        pytest.param("extensions/v1beta1", "Deployment", False, id="removed-group-version"),
        pytest.param("v2", "Pod", False, id="unknown-version"),
        pytest.param("v1", "Gadget", False, id="unknown-kind"),
    ],
)
def test_info_of(api_version: str, kind: str, known: bool) -> None:
    assert (kinds.info_of({"apiVersion": api_version, "kind": kind}) is not None) is known


def test_resolve_all_splits_commas_and_expands_all() -> None:
    kinds_of = [r.info.kind for r in kinds.resolve_all("po,svc")]
    assert kinds_of == ["Pod", "Service"]
    assert [r.info.kind for r in kinds.resolve_all("all")] == list(kinds.GET_ALL)
    assert [r.info.kind for r in kinds.resolve_all("cm,all")][:2] == ["ConfigMap", "Pod"]
