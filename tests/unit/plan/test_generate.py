"""generate kube: stored manifests back as clean objects, per field group, kind and option.

What "clean" means follows what the API server adds to a stored object (ObjectMeta's uid,
resourceVersion, generation, creationTimestamp, managedFields...; status) and what the
ReplicaSet controller adds to a replica (generateName, ownerReferences, pod-template-hash):
none of it belongs in a manifest a user keeps. Everything the user played comes back as
written. Every generated object must pass the strict schema and the API server's rules
(kube.validate), which each case checks.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence
from typing import Any

import pytest
import yaml

from kubeplay.errors import NotFoundError, UsageError
from kubeplay.kube import loader, validate
from kubeplay.kube import workloads as kube_workloads
from kubeplay.kube.objects import KubeObject
from kubeplay.plan import generate
from kubeplay.plan.generate import Options, PlayedPod

IMAGE = "localhost/kubeplay/busybox:latest"


def _pod(name: str = "web", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": IMAGE}], **spec},
    }


def _deployment(name: str = "web", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": IMAGE}]},
            },
            **spec,
        },
    }


def _played(deployment: dict[str, Any], uid: str = "dep-uid") -> tuple[Any, list[PlayedPod]]:
    obj = KubeObject(deployment)
    suffixes = ("".join(c) for c in itertools.product("bcd", repeat=5))
    replicas = kube_workloads.replica_pods(obj, uid=uid, taken=(), random_suffix=suffixes.__next__)
    workload = kube_workloads.workload_of(obj, uid=uid)
    return workload, [PlayedPod(p.namespace, p.name, p.body) for p in replicas]


def _generate(
    *names: str,
    pods: Sequence[dict[str, Any]] = (),
    deployments: Sequence[dict[str, Any]] = (),
    stored: Sequence[dict[str, Any]] = (),
    namespace: str = "default",
    **options: Any,
) -> generate.Generated:
    played = [
        PlayedPod(p["metadata"].get("namespace") or "default", p["metadata"]["name"], p)
        for p in pods
    ]
    workloads = []
    for i, d in enumerate(deployments):
        workload, replicas = _played(d, uid=f"uid-{i}")
        workloads.append(workload)
        played += replicas
    by_key = {
        (o["kind"], o["metadata"].get("namespace") or "default", o["metadata"]["name"]): o
        for o in stored
    }
    result = generate.generate_kube(
        names,
        namespace=namespace,
        pods=played,
        workloads=workloads,
        stored=by_key,
        options=Options(**options),
    )
    _assert_valid(result.objects)
    return result


def _assert_valid(objects: tuple[dict[str, Any], ...]) -> None:
    """The output plays: strict schema and API-server rules, as `play` checks them."""
    text = generate.dump_kube(objects)
    validate.validate(loader.load_text(text, source="generated.yaml"))


# --- clean and lossless ----------------------------------------------------------------------

EVERY_FIELD_GROUP: dict[str, Any] = {
    "restartPolicy": "OnFailure",
    "hostname": "box",
    "subdomain": "sub",
    "terminationGracePeriodSeconds": 5,
    "dnsPolicy": "None",
    "dnsConfig": {
        "nameservers": ["10.0.0.10"],
        "searches": ["x.local"],
        "options": [{"name": "ndots", "value": "2"}],
    },
    "hostAliases": [{"ip": "10.1.2.3", "hostnames": ["db.local"]}],
    "securityContext": {"runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 2000},
    "volumes": [
        {"name": "conf", "configMap": {"name": "settings", "defaultMode": 0o644}},
        {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
        {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
    ],
    "initContainers": [
        {"name": "setup", "image": IMAGE, "command": ["sh", "-c", "true"]},
        {"name": "sidecar", "image": IMAGE, "restartPolicy": "Always", "args": ["sleep", "9"]},
    ],
    "containers": [
        {
            "name": "app",
            "image": IMAGE,
            "imagePullPolicy": "Never",
            "command": ["sh", "-c"],
            "args": ["echo $(GREETING)\nsleep 1"],
            "workingDir": "/tmp",
            "env": [
                {"name": "GREETING", "value": "hi"},
                {
                    "name": "MODE",
                    "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}},
                },
                {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            ],
            "envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "CFG_"}],
            "ports": [
                {"containerPort": 8080, "name": "http", "hostPort": 31080, "protocol": "TCP"}
            ],
            "volumeMounts": [
                {"name": "conf", "mountPath": "/etc/app", "readOnly": True},
                {"name": "data", "mountPath": "/data", "subPath": "app"},
            ],
            "livenessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 5},
            "readinessProbe": {"httpGet": {"path": "/", "port": 8080}},
            "startupProbe": {"tcpSocket": {"port": 8080}, "failureThreshold": 30},
            "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", "sleep 1"]}}},
            "resources": {"limits": {"memory": "64Mi", "cpu": "500m"}, "requests": {"cpu": "100m"}},
            "securityContext": {"runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}},
            "tty": True,
            "stdin": True,
            "terminationMessagePolicy": "FallbackToLogsOnError",
        }
    ],
}


def test_every_field_group_comes_back_as_played() -> None:
    played = _pod(**copy.deepcopy(EVERY_FIELD_GROUP))
    played["metadata"]["labels"] = {"app": "web", "tier": "front"}
    played["metadata"]["annotations"] = {"owner": "me"}
    (pod,) = [o for o in _generate(pods=[played]).objects if o["kind"] == "Pod"]
    assert pod == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web",
            "labels": {"app": "web", "tier": "front"},
            "annotations": {"owner": "me"},
        },
        "spec": {"containers": [{"name": "app", "image": IMAGE}], **EVERY_FIELD_GROUP},
    }


_APP = EVERY_FIELD_GROUP["containers"][0]


def _app(*keys: str) -> dict[str, Any]:
    return {"containers": [{"name": "app", "image": IMAGE, **{k: _APP[k] for k in keys}}]}


def _spec(*keys: str) -> dict[str, Any]:
    return {k: EVERY_FIELD_GROUP[k] for k in keys}


FIELD_GROUPS = [
    pytest.param(_spec("restartPolicy"), id="restart-policy"),
    pytest.param(_spec("hostname", "subdomain"), id="hostname-and-subdomain"),
    pytest.param(_spec("terminationGracePeriodSeconds"), id="termination-grace-period"),
    pytest.param(_spec("dnsPolicy", "dnsConfig"), id="dns-policy-and-config"),
    pytest.param(_spec("hostAliases"), id="host-aliases"),
    pytest.param(_spec("securityContext"), id="pod-security-context"),
    pytest.param(_spec("volumes"), id="volumes-configmap-pvc-emptydir"),
    pytest.param(_spec("initContainers"), id="init-and-sidecar-containers"),
    pytest.param(_app("command", "args", "workingDir"), id="command-args-working-dir"),
    pytest.param(_app("imagePullPolicy"), id="image-pull-policy"),
    pytest.param(_app("env"), id="env-value-and-value-from"),
    pytest.param(_app("envFrom"), id="env-from-with-prefix"),
    pytest.param(_app("ports"), id="container-and-host-ports"),
    pytest.param(
        {**_spec("volumes"), **_app("volumeMounts")}, id="volume-mounts-read-only-sub-path"
    ),
    pytest.param(_app("livenessProbe", "readinessProbe", "startupProbe"), id="probes"),
    pytest.param(_app("lifecycle"), id="lifecycle-hooks"),
    pytest.param(_app("resources"), id="resources-limits-and-requests"),
    pytest.param(_app("securityContext"), id="container-security-context"),
    pytest.param(_app("tty", "stdin", "terminationMessagePolicy"), id="tty-stdin-termination"),
]


@pytest.mark.parametrize("group", FIELD_GROUPS)
def test_a_field_group_comes_back_as_played_in_a_pod(group: dict[str, Any]) -> None:
    played = _pod(**copy.deepcopy(group))
    (pod,) = [o for o in _generate(pods=[played]).objects if o["kind"] == "Pod"]
    assert pod == _pod(**group)


@pytest.mark.parametrize("group", FIELD_GROUPS)
def test_a_field_group_comes_back_as_played_in_a_deployments_template(
    group: dict[str, Any],
) -> None:
    if group.get("restartPolicy", "Always") != "Always":
        group = {**group, "restartPolicy": "Always"}  # the only policy a Deployment allows
    played = _deployment()
    played["spec"]["template"]["spec"].update(copy.deepcopy(group))
    (deployment,) = [
        o for o in _generate(deployments=[played]).objects if o["kind"] == "Deployment"
    ]
    expected = _deployment()
    expected["spec"]["template"]["spec"].update(group)
    assert deployment == expected


RUNTIME_ONLY: dict[str, Any] = {
    "uid": "0b6e5c1c",
    "resourceVersion": "42",
    "generation": 3,
    "creationTimestamp": "2024-01-01T00:00:00Z",
    "managedFields": [{"manager": "kubectl"}],
    "selfLink": "/api/v1/namespaces/default/pods/web",
}


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        pytest.param(
            {"name": "web", **RUNTIME_ONLY}, {"name": "web"}, id="server-set-metadata-dropped"
        ),
        pytest.param(
            {
                "name": "web",
                "labels": {"app": "web", "kubeplay.io/source": "dir/web.yaml"},
                "annotations": {
                    "kubeplay.io/content-hash": "abc",
                    "kubectl.kubernetes.io/last-applied-configuration": "{}",
                    "note": "mine",
                },
            },
            {"name": "web", "labels": {"app": "web"}, "annotations": {"note": "mine"}},
            id="kubeplay-and-kubectl-bookkeeping-dropped-user-annotations-kept",
        ),
        pytest.param(
            {"annotations": {"a": "1"}, "namespace": "team-a", "labels": {"b": "2"}, "name": "web"},
            {"name": "web", "namespace": "team-a", "labels": {"b": "2"}, "annotations": {"a": "1"}},
            id="metadata-in-kubectl-order-namespace-kept-when-played",
        ),
        pytest.param(
            {"name": "web", "finalizers": ["example.com/keep"]},
            {"name": "web", "finalizers": ["example.com/keep"]},
            id="other-user-metadata-kept",
        ),
    ],
)
def test_metadata_is_cleaned(metadata: dict[str, Any], expected: dict[str, Any]) -> None:
    played = _pod()
    played["metadata"] = metadata
    namespace = metadata.get("namespace") or "default"
    (pod,) = _generate(pods=[played], namespace=namespace).objects
    assert pod["metadata"] == expected
    assert list(pod["metadata"]) == list(expected)


def test_status_is_dropped_and_kinds_lead() -> None:
    played = {**_pod(), "status": {"phase": "Running", "podIP": "10.0.0.2"}}
    played = {"spec": played["spec"], **{k: v for k, v in played.items() if k != "spec"}}
    (pod,) = _generate(pods=[played]).objects
    assert list(pod) == ["apiVersion", "kind", "metadata", "spec"]


# --- Deployments ----------------------------------------------------------------------------


def test_replicas_of_a_deployment_are_exported_as_the_deployment_once() -> None:
    deployment = _deployment(strategy={"type": "Recreate"})
    deployment["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": "1"}
    result = _generate(deployments=[deployment])
    expected = copy.deepcopy(deployment)
    del expected["metadata"]["annotations"]
    assert result.objects == (expected,)


def test_a_replica_named_selects_its_deployment() -> None:
    _, replicas = _played(_deployment(), uid="uid-0")
    result = _generate(replicas[1].name, f"pod/{replicas[0].name}", deployments=[_deployment()])
    assert [(o["kind"], o["metadata"]["name"]) for o in result.objects] == [("Deployment", "web")]


def test_replicas_option_sets_a_deployments_replicas_in_place() -> None:
    (obj,) = _generate(deployments=[_deployment()], replicas=5).objects
    assert obj["spec"]["replicas"] == 5
    assert list(obj["spec"]) == ["replicas", "selector", "template"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param(
            {"replicas": 2}, "--replicas: no Deployment", id="replicas-needs-a-deployment"
        ),
        pytest.param({"replicas": 2, "type": "job"}, "--replicas: a job", id="replicas-of-a-job"),
        pytest.param({"type": "cronjob"}, "--type cronjob", id="unknown-type"),
        pytest.param({"service_type": "LoadBalancer"}, "--service-type", id="unknown-service-type"),
    ],
)
def test_bad_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        _generate(pods=[_pod()], **options)


# --- --type ---------------------------------------------------------------------------------


def _labelled_pod() -> dict[str, Any]:
    pod = _pod(hostname="box")
    pod["metadata"]["labels"] = {"app": "web"}
    pod["metadata"]["annotations"] = {"note": "x"}
    return pod


TEMPLATE_SPEC = {"containers": [{"name": "app", "image": IMAGE}], "hostname": "box"}


@pytest.mark.parametrize(
    ("source", "to", "expected"),
    [
        pytest.param(
            "pod",
            "deployment",
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web", "labels": {"app": "web"}},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"labels": {"app": "web"}, "annotations": {"note": "x"}},
                        "spec": TEMPLATE_SPEC,
                    },
                },
            },
            id="pod-to-deployment-selects-the-pods-labels",
        ),
        pytest.param(
            "pod",
            "daemonset",
            {
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "metadata": {"name": "web", "labels": {"app": "web"}},
                "spec": {
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"labels": {"app": "web"}, "annotations": {"note": "x"}},
                        "spec": TEMPLATE_SPEC,
                    },
                },
            },
            id="pod-to-daemonset",
        ),
        pytest.param(
            "pod",
            "job",
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {"name": "web", "labels": {"app": "web"}},
                "spec": {
                    "template": {
                        "metadata": {"labels": {"app": "web"}, "annotations": {"note": "x"}},
                        "spec": {**TEMPLATE_SPEC, "restartPolicy": "OnFailure"},
                    },
                },
            },
            id="pod-to-job-restarts-on-failure",
        ),
        pytest.param(
            "deployment",
            "pod",
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "web", "labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": IMAGE}]},
            },
            id="deployment-to-pod-is-its-template",
        ),
        pytest.param(
            "deployment",
            "daemonset",
            {
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "metadata": {"name": "web", "labels": {"app": "web"}},
                "spec": {
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "app", "image": IMAGE}]},
                    },
                },
            },
            id="deployment-to-daemonset-drops-replicas-and-strategy",
        ),
    ],
)
def test_type_converts_through_the_pod_template(
    source: str, to: str, expected: dict[str, Any]
) -> None:
    if source == "pod":
        result = _generate(pods=[_labelled_pod()], type=to)
    else:
        result = _generate(deployments=[_deployment(strategy={"type": "Recreate"})], type=to)
    assert result.objects == (expected,)


def test_a_pod_without_labels_gets_an_app_label_to_be_selected() -> None:
    (obj,) = _generate(pods=[_pod()], type="deployment").objects
    assert obj["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert obj["spec"]["template"]["metadata"] == {"labels": {"app": "web"}}


def test_to_job_warns_that_restart_always_became_on_failure() -> None:
    result = _generate(pods=[_pod()], type="job")
    assert result.warnings == (
        "pod web: a Job's pods cannot restart Always: restartPolicy set to OnFailure",
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param({"restartPolicy": "Never"}, "restartPolicy Never", id="never-restarting-pod"),
        pytest.param({"activeDeadlineSeconds": 60}, "activeDeadlineSeconds", id="deadline"),
    ],
)
def test_pods_a_deployment_cannot_run_are_refused(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=f"pod web: {message}"):
        _generate(pods=[_pod(**spec)], type="deployment")


# --- --service ------------------------------------------------------------------------------


def _ported_pod(*ports: dict[str, Any]) -> dict[str, Any]:
    pod = _pod()
    pod["spec"]["containers"] = [
        {"name": "app", "image": IMAGE, "ports": list(ports)},
        {"name": "side", "image": IMAGE, "ports": [{"containerPort": 8080}]},
    ]
    return pod


def test_service_selects_the_pod_for_its_container_ports() -> None:
    pod = _ported_pod(
        {"containerPort": 8080, "name": "http"}, {"containerPort": 53, "protocol": "UDP"}
    )
    service, out_pod = _generate(pods=[pod], service=True).objects
    assert service == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {
            "type": "ClusterIP",
            "selector": {"app": "web"},
            "ports": [
                {"name": "http", "protocol": "TCP", "port": 8080, "targetPort": 8080},
                {"name": "udp-53", "protocol": "UDP", "port": 53, "targetPort": 53},
            ],
        },
    }
    assert out_pod["metadata"] == {"name": "web", "labels": {"app": "web"}}


def test_node_port_service_publishes_host_ports_in_the_node_port_range() -> None:
    pod = _ported_pod(
        {"containerPort": 80, "hostPort": 30080}, {"containerPort": 81, "hostPort": 8081}
    )
    result = _generate(pods=[pod], service_type="NodePort", service=True)
    ports = result.objects[0]["spec"]["ports"]
    assert result.objects[0]["spec"]["type"] == "NodePort"
    assert [p.get("nodePort") for p in ports] == [30080, None, None]
    assert result.warnings == (
        "pod web: hostPort 8081/TCP is outside the NodePort range 30000-32767: "
        "nodePort left for the cluster to choose",
    )


def test_deployment_service_uses_its_selector() -> None:
    deployment = _deployment()
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 80}]
    service, _ = _generate(deployments=[deployment], service=True).objects
    assert service["spec"]["selector"] == {"app": "web"}


def test_no_ports_no_service() -> None:
    result = _generate(pods=[_pod()], service=True)
    assert [o["kind"] for o in result.objects] == ["Pod"]
    assert result.warnings == ("pod web: no container ports, no Service made for it",)


# --- referenced objects -----------------------------------------------------------------------


def _configmap(name: str = "settings", **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "uid": "u", "creationTimestamp": "2024-01-01T00:00:00Z"},
        "data": {"mode": "fast"},
        **extra,
    }


def _secret(name: str = "creds") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "resourceVersion": "7"},
        "type": "Opaque",
        "data": {"password": "czNjcmV0"},
    }


def _using(*env: dict[str, Any], **spec: Any) -> dict[str, Any]:
    pod = _pod(**spec)
    pod["spec"]["containers"][0]["env"] = list(env)
    return pod


CM_ENV = {"name": "M", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}}
SECRET_ENV = {"name": "P", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}}


def test_referenced_configmaps_come_first_and_secrets_only_when_asked() -> None:
    pod = _using(CM_ENV, SECRET_ENV)
    result = _generate(pods=[pod], stored=[_configmap(), _secret(), _configmap("unused")])
    assert [o["kind"] for o in result.objects] == ["ConfigMap", "ConfigMap", "Pod"]
    assert result.objects[0]["metadata"] == {"name": "settings"}
    assert result.warnings == (
        "Secrets left out (use --include-secrets to add them): default/creds",
    )
    named = _generate("web", pods=[pod], stored=[_configmap(), _secret(), _configmap("unused")])
    assert [(o["kind"], o["metadata"]["name"]) for o in named.objects] == [
        ("ConfigMap", "settings"),
        ("Pod", "web"),
    ]
    with_secrets = _generate(
        "web", pods=[pod], stored=[_configmap(), _secret()], include_secrets=True
    )
    assert [o["kind"] for o in with_secrets.objects] == ["Secret", "ConfigMap", "Pod"]
    assert with_secrets.objects[0] == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds"},
        "type": "Opaque",
        "data": {"password": "czNjcmV0"},
    }
    assert with_secrets.warnings == ()


def test_a_secret_named_is_still_left_out_without_include_secrets() -> None:
    left_out = _generate("secret/creds", pods=[_pod()], stored=[_secret()])
    assert left_out.objects == ()
    assert left_out.warnings == (
        "Secrets left out (use --include-secrets to add them): default/creds",
    )
    (secret,) = _generate("secret/creds", stored=[_secret()], include_secrets=True).objects
    assert secret["metadata"] == {"name": "creds"}


@pytest.mark.parametrize(
    ("spec", "kind", "name"),
    [
        pytest.param(
            {"volumes": [{"name": "v", "configMap": {"name": "c"}}]},
            "ConfigMap",
            "c",
            id="configmap-volume",
        ),
        pytest.param(
            {"volumes": [{"name": "v", "secret": {"secretName": "s"}}]},
            "Secret",
            "s",
            id="secret-volume",
        ),
        pytest.param(
            {"volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "d"}}]},
            "PersistentVolumeClaim",
            "d",
            id="pvc-volume",
        ),
        pytest.param(
            {"volumes": [{"name": "v", "projected": {"sources": [{"configMap": {"name": "p"}}]}}]},
            "ConfigMap",
            "p",
            id="projected-configmap",
        ),
        pytest.param(
            {"imagePullSecrets": [{"name": "reg"}]}, "Secret", "reg", id="image-pull-secret"
        ),
    ],
)
def test_references(spec: dict[str, Any], kind: str, name: str) -> None:
    assert list(generate.references(spec)) == [(kind, name, False)]


def test_references_from_env_and_env_from() -> None:
    spec = {
        "containers": [
            {
                "name": "a",
                "env": [CM_ENV, SECRET_ENV],
                "envFrom": [
                    {"configMapRef": {"name": "all", "optional": True}},
                    {"secretRef": {"name": "s2"}},
                ],
            }
        ]
    }
    assert list(generate.references(spec)) == [
        ("ConfigMap", "settings", False),
        ("Secret", "creds", False),
        ("ConfigMap", "all", True),
        ("Secret", "s2", False),
    ]


def test_a_referenced_object_not_in_the_store_is_warned_unless_optional() -> None:
    pod = _pod(volumes=[{"name": "c", "configMap": {"name": "gone"}}])
    pod["spec"]["containers"][0]["envFrom"] = [
        {"configMapRef": {"name": "maybe", "optional": True}}
    ]
    result = _generate(pods=[pod])
    assert [o["kind"] for o in result.objects] == ["Pod"]
    assert result.warnings == (
        "ConfigMap default/gone (used by pod web): not in kubeplay's store, left out",
    )


# --- PersistentVolumeClaims ------------------------------------------------------------------


def _claim(name: str = "data", namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "uid": "claim-uid", "creationTimestamp": "2024-01-01"}
    if namespace:
        meta["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": meta,
        "spec": {
            "accessModes": ["ReadWriteMany"],
            "storageClassName": "fast",
            "resources": {"requests": {"storage": "5Gi"}},
        },
        "status": {"phase": "Bound"},
    }


def _claiming(name: str = "web", claim: str = "data", namespace: str = "") -> dict[str, Any]:
    pod = _pod(name, volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": claim}}])
    if namespace:
        pod["metadata"]["namespace"] = namespace
    return pod


MINIMAL = {
    "accessModes": ["ReadWriteOnce"],
    "resources": {"requests": {"storage": "1Gi"}},
}


@pytest.mark.parametrize(
    ("pods", "stored", "names", "expected", "warned"),
    [
        pytest.param(
            [_claiming()],
            [_claim()],
            ("web",),
            [
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {"name": "data"},
                    "spec": _claim()["spec"],
                }
            ],
            (),
            id="played-claim-as-written-without-status-or-uid",
        ),
        pytest.param(
            [_claiming()],
            [],
            ("web",),
            [
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {"name": "data"},
                    "spec": MINIMAL,
                }
            ],
            ("PersistentVolumeClaim default/data (used by pod web): no PersistentVolumeClaim",),
            id="claim-made-on-first-use-becomes-a-minimal-claim",
        ),
        pytest.param(
            [_claiming(namespace="team-a")],
            [],
            ("web",),
            [
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {"name": "data", "namespace": "team-a"},
                    "spec": MINIMAL,
                }
            ],
            ("PersistentVolumeClaim team-a/data (used by pod web): no PersistentVolumeClaim",),
            id="minimal-claim-in-the-pods-namespace",
        ),
        pytest.param(
            [_claiming("a"), _claiming("b")],
            [],
            (),
            [{"metadata": {"name": "data"}}],
            ("PersistentVolumeClaim default/data (used by pod a, pod b): no Persistent",),
            id="claim-shared-by-two-pods-once",
        ),
        pytest.param(
            [_pod()],
            [_claim("kept")],
            (),
            [{"metadata": {"name": "kept"}}],
            (),
            id="no-name-every-played-claim-of-the-namespace",
        ),
        pytest.param(
            [_pod()],
            [_claim("kept")],
            ("pvc/kept",),
            [{"metadata": {"name": "kept"}}],
            (),
            id="claim-named-by-pvc-prefix",
        ),
        pytest.param(
            [_claiming(namespace="team-a")],
            [_claim()],
            ("web",),
            [{"metadata": {"name": "data", "namespace": "team-a"}, "spec": MINIMAL}],
            ("PersistentVolumeClaim team-a/data (used by pod web): no PersistentVolumeClaim",),
            id="a-claim-of-another-namespace-is-not-this-pods",
        ),
    ],
)
def test_claims_come_back_before_the_pods(
    pods: list[dict[str, Any]],
    stored: list[dict[str, Any]],
    names: tuple[str, ...],
    expected: list[dict[str, Any]],
    warned: tuple[str, ...],
) -> None:
    namespace = pods[0]["metadata"].get("namespace") or "default"
    result = _generate(*names, pods=pods, stored=stored, namespace=namespace)
    claims = [o for o in result.objects if o["kind"] == "PersistentVolumeClaim"]
    assert len(claims) == len(expected)
    for claim, want in zip(claims, expected, strict=True):
        assert {k: claim[k] for k in want} == want
    kinds = [o["kind"] for o in result.objects]
    if "Pod" in kinds:
        assert kinds.index("PersistentVolumeClaim") < kinds.index("Pod")
    assert len(result.warnings) == len(warned)
    for line, start in zip(result.warnings, warned, strict=True):
        assert line.startswith(start), line


# --- names ----------------------------------------------------------------------------------


def test_no_name_means_every_object_of_the_namespace_in_apply_order() -> None:
    other = _pod("elsewhere")
    other["metadata"]["namespace"] = "team-b"
    result = _generate(pods=[_pod("b"), _pod("a"), other], deployments=[_deployment("api")])
    assert [(o["kind"], o["metadata"]["name"]) for o in result.objects] == [
        ("Pod", "a"),
        ("Pod", "b"),
        ("Deployment", "api"),
    ]


@pytest.mark.parametrize(
    ("names", "error", "message"),
    [
        pytest.param(("nope",), NotFoundError, 'pod "nope" not found', id="missing-pod"),
        pytest.param(
            ("deployment/nope",), NotFoundError, 'deployment "nope" not found', id="missing-deploy"
        ),
        pytest.param(("bogus/web",), UsageError, 'unknown kind "bogus"', id="unknown-kind"),
        pytest.param(
            ("service/web",), NotFoundError, 'service "web" not found', id="missing-stored-kind"
        ),
        pytest.param((), NotFoundError, 'no pods or workloads in namespace "empty"', id="empty"),
    ],
)
def test_names_that_mean_nothing(
    names: tuple[str, ...], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        _generate(*names, pods=[_pod()], namespace="empty" if not names else "default")


def test_all_namespaces_means_every_object_of_every_namespace() -> None:
    team_b = _pod("web")
    team_b["metadata"]["namespace"] = "team-b"
    cm = _configmap()
    cm["metadata"]["namespace"] = "team-b"
    deployment = _deployment("api")
    deployment["metadata"]["namespace"] = "team-c"
    result = _generate(
        pods=[_pod("web"), team_b], deployments=[deployment], stored=[cm], namespace=None
    )
    assert [
        (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])
        for o in result.objects
    ] == [
        ("ConfigMap", "team-b", "settings"),
        ("Pod", "", "web"),
        ("Pod", "team-b", "web"),
        ("Deployment", "team-c", "api"),
    ]


@pytest.mark.parametrize(
    ("names", "pods", "error", "message"),
    [
        pytest.param(("web",), [_pod()], UsageError, "--all-namespaces: a name", id="with-a-name"),
        pytest.param((), [], NotFoundError, "no pods or workloads in any namespace", id="empty"),
    ],
)
def test_all_namespaces_refuses(
    names: tuple[str, ...], pods: list[dict[str, Any]], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        _generate(*names, pods=pods, namespace=None)


def test_kind_prefixes_as_kubectl_spells_them() -> None:
    for name in ("deploy/web", "deployments/web", "deployment.apps/web"):
        (obj,) = _generate(name, deployments=[_deployment()]).objects
        assert obj["kind"] == "Deployment"


# --- strict schema of --kube-version ---------------------------------------------------------


SIDECAR = {"name": "proxy", "image": IMAGE, "restartPolicy": "Always"}


@pytest.mark.parametrize(
    ("obj", "version", "message"),
    [
        pytest.param(
            _pod("ok", initContainers=[SIDECAR]), "", None, id="sidecar-passes-the-newest"
        ),
        pytest.param(
            _pod("old", initContainers=[SIDECAR]),
            "1.25",
            "Pod default/old: generated object fails the Kubernetes 1.25 schema: "
            "spec.initContainers[0].restartPolicy: unknown field",
            id="sidecar-field-older-version-has-not",
        ),
        pytest.param(
            {**_pod(), "metadata": {"name": "Bad_Name", "namespace": "team-a"}},
            "1.30",
            "Pod team-a/Bad_Name: generated object fails the Kubernetes 1.30 schema: "
            "metadata.name: ",
            id="api-server-name-rule",
        ),
        pytest.param(
            {**_pod(), "spec": {"containers": [{"name": "app"}]}},
            "1.30.2",
            "Pod default/web: generated object fails the Kubernetes 1.30 schema: "
            "spec.containers[0].image: required",
            id="required-field-missing",
        ),
    ],
)
def test_check_schema_names_the_object_that_fails(
    obj: dict[str, Any], version: str, message: str | None
) -> None:
    if message is None:
        generate.check_schema([obj], kube_version=version)
        return
    with pytest.raises(generate.InvalidOutputError) as caught:
        generate.check_schema([_pod("first"), obj], kube_version=version)
    assert str(caught.value).startswith(message)
    assert caught.value.exit_code == 1


@pytest.mark.parametrize("version", ["1.2", "2.0", "latest"])
def test_check_schema_refuses_a_version_with_no_schema(version: str) -> None:
    with pytest.raises(UsageError, match=f"Kubernetes version '?{version}"):
        generate.check_schema([_pod()], kube_version=version)


# --- YAML -----------------------------------------------------------------------------------


def test_dump_is_multi_document_yaml_with_literal_blocks_and_no_folding() -> None:
    long = "x " * 100
    text = generate.dump_kube(
        [_pod("a", hostname="h"), _using({"name": "S", "value": "a\nb"}, subdomain=long)]
    )
    assert text.count("---\n") == 1
    assert "value: |-\n" in text
    assert f"subdomain: '{long}'" in text or f"subdomain: {long.strip()}" in text
    assert list(yaml.safe_load_all(text))[1]["spec"]["containers"][0]["env"][0]["value"] == "a\nb"
    assert generate.dump_kube([_pod("a", hostname="h")]) == generate.dump_kube(
        [_pod("a", hostname="h")]
    )


# --- every stored kind -------------------------------------------------------------------------

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "crontabs.stable.example.com"},
    "spec": {
        "group": "stable.example.com",
        "scope": "Namespaced",
        "names": {"plural": "crontabs", "singular": "crontab", "kind": "CronTab"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ],
    },
}
STORED_ONLY: dict[tuple[str, str, str], dict[str, Any]] = {
    ("ServiceAccount", "default", "builder"): {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "builder", "namespace": "default"},
    },
    ("ClusterRole", "", "system:reader"): {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "system:reader", "uid": "u-1"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
    },
    ("CustomResourceDefinition", "", "crontabs.stable.example.com"): CRD,
    ("CronTab", "default", "nightly"): {
        "apiVersion": "stable.example.com/v1",
        "kind": "CronTab",
        "metadata": {"name": "nightly", "namespace": "default"},
        "spec": {"cronSpec": "0 0 * * *"},
    },
    ("ServiceAccount", "other", "elsewhere"): {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "elsewhere", "namespace": "other"},
    },
}


def _kinds_and_names(result: generate.Generated) -> list[tuple[str, str]]:
    return [(o["kind"], o["metadata"]["name"]) for o in result.objects]


def test_every_stored_kind_comes_back_cluster_scoped_ones_in_every_namespace() -> None:
    """A kind kubeplay only stores (ServiceAccount, RBAC, CRDs and their resources) is given
    back like a ConfigMap: cleaned, in Helm's install order, custom resources last."""
    result = generate.generate_kube(
        (),
        namespace="default",
        pods=[PlayedPod("default", "web", _pod())],
        workloads=[],
        stored=STORED_ONLY,
    )
    assert _kinds_and_names(result) == [
        ("ServiceAccount", "builder"),
        ("CustomResourceDefinition", "crontabs.stable.example.com"),
        ("ClusterRole", "system:reader"),
        ("Pod", "web"),
        ("CronTab", "nightly"),
    ]
    role = next(o for o in result.objects if o["kind"] == "ClusterRole")
    assert "uid" not in role["metadata"]
    _assert_valid(result.objects)


def test_a_stored_kind_by_name_custom_resources_by_their_crd() -> None:
    from kubeplay.kube import kinds

    result = generate.generate_kube(
        ("clusterrole/system:reader", "crontab/nightly", "sa/builder"),
        namespace="default",
        pods=[],
        workloads=[],
        stored=STORED_ONLY,
        kinds=[kinds.from_crd(CRD)],
    )
    assert _kinds_and_names(result) == [
        ("ServiceAccount", "builder"),
        ("ClusterRole", "system:reader"),
        ("CronTab", "nightly"),
    ]


def test_stored_services_selecting_the_named_pods_come_back() -> None:
    """`generate kube deployment/web`: the Services selecting its pods come with it, others
    not (with no name every stored object comes back)."""
    selecting = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }
    other = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "db"},
        "spec": {"selector": {"app": "db"}, "ports": [{"port": 5432}]},
    }
    result = _generate("deployment/web", deployments=[_deployment()], stored=[selecting, other])
    services = [o for o in result.objects if o["kind"] == "Service"]
    assert [s["metadata"]["name"] for s in services] == ["web"]
    kinds = [o["kind"] for o in result.objects]
    assert kinds.index("Service") < kinds.index("Deployment")
