"""Defaulting as the API server's SetDefaults_* do: writing a default explicitly, or leaving it
out, gives the same object.

Sources: pkg/apis/core/v1/defaults.go (SetDefaults_PodSpec, _Container, _Pod, _Probe,
_HTTPGetAction, _Volume, _Service, _Secret, _PersistentVolumeClaimSpec), pkg/apis/apps/v1/
defaults.go (Deployment, StatefulSet, DaemonSet, ReplicaSet), pkg/apis/batch/v1/defaults.go
(Job, CronJob).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubeplay.kube import defaults


def pod(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web"},
        "spec": {"containers": [{"name": "app", "image": "busybox:1.36"}]},
    }
    body["spec"].update(spec)
    return body


def dig(body: Any, path: str) -> Any:
    for part in path.split("."):
        body = body[int(part)] if isinstance(body, list) else body[part]
    return body


@pytest.mark.parametrize(
    ("body", "path", "value"),
    [
        pytest.param(pod(), "spec.restartPolicy", "Always", id="pod-restart-policy-always"),
        pytest.param(pod(), "spec.dnsPolicy", "ClusterFirst", id="pod-dns-policy-clusterfirst"),
        pytest.param(pod(), "spec.terminationGracePeriodSeconds", 30, id="pod-grace-30"),
        pytest.param(pod(), "spec.securityContext", {}, id="pod-security-context-empty"),
        pytest.param(pod(), "spec.schedulerName", "default-scheduler", id="pod-scheduler"),
        pytest.param(pod(), "spec.enableServiceLinks", True, id="pod-service-links"),
        pytest.param(
            pod(),
            "spec.containers.0.terminationMessagePath",
            "/dev/termination-log",
            id="container-termination-message-path",
        ),
        pytest.param(
            pod(),
            "spec.containers.0.terminationMessagePolicy",
            "File",
            id="container-termination-message-policy",
        ),
        pytest.param(
            pod(),
            "spec.containers.0.imagePullPolicy",
            "IfNotPresent",
            id="pull-policy-tagged",
        ),
        pytest.param(
            pod(containers=[{"name": "a", "image": "busybox"}]),
            "spec.containers.0.imagePullPolicy",
            "Always",
            id="pull-policy-untagged-always",
        ),
        pytest.param(
            pod(containers=[{"name": "a", "image": "busybox:latest"}]),
            "spec.containers.0.imagePullPolicy",
            "Always",
            id="pull-policy-latest-always",
        ),
        pytest.param(
            pod(containers=[{"name": "a", "image": "reg:5000/busybox"}]),
            "spec.containers.0.imagePullPolicy",
            "Always",
            id="pull-policy-registry-port-no-tag",
        ),
        pytest.param(
            pod(containers=[{"name": "a", "image": "busybox@sha256:" + "a" * 64}]),
            "spec.containers.0.imagePullPolicy",
            "IfNotPresent",
            id="pull-policy-digest",
        ),
        pytest.param(
            pod(containers=[{"name": "a", "image": "b:1", "ports": [{"containerPort": 80}]}]),
            "spec.containers.0.ports.0.protocol",
            "TCP",
            id="container-port-protocol-tcp",
        ),
        pytest.param(
            pod(
                hostNetwork=True,
                containers=[{"name": "a", "image": "b:1", "ports": [{"containerPort": 80}]}],
            ),
            "spec.containers.0.ports.0.hostPort",
            80,
            id="host-network-host-port",
        ),
        pytest.param(
            pod(containers=[{"name": "a", "image": "b:1", "resources": {"limits": {"cpu": "1"}}}]),
            "spec.containers.0.resources.requests",
            {"cpu": "1"},
            id="requests-default-to-limits",
        ),
        pytest.param(
            pod(
                containers=[
                    {"name": "a", "image": "b:1", "readinessProbe": {"httpGet": {"port": 80}}}
                ]
            ),
            "spec.containers.0.readinessProbe",
            {
                "httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
                "timeoutSeconds": 1,
                "periodSeconds": 10,
                "successThreshold": 1,
                "failureThreshold": 3,
            },
            id="probe-defaults",
        ),
        pytest.param(
            pod(
                containers=[
                    {
                        "name": "a",
                        "image": "b:1",
                        "env": [
                            {"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
                        ],
                    }
                ]
            ),
            "spec.containers.0.env.0.valueFrom.fieldRef.apiVersion",
            "v1",
            id="env-fieldref-api-version",
        ),
        pytest.param(
            pod(volumes=[{"name": "v"}]),
            "spec.volumes.0.emptyDir",
            {},
            id="volume-without-source-is-emptydir",
        ),
        pytest.param(
            pod(volumes=[{"name": "v", "configMap": {"name": "c"}}]),
            "spec.volumes.0.configMap.defaultMode",
            420,
            id="configmap-volume-mode-0644",
        ),
        pytest.param(
            pod(volumes=[{"name": "v", "secret": {"secretName": "s"}}]),
            "spec.volumes.0.secret.defaultMode",
            420,
            id="secret-volume-mode-0644",
        ),
        pytest.param(
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}},
            "type",
            "Opaque",
            id="secret-type-opaque",
        ),
        pytest.param(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "s"},
                "stringData": {"a": "a"},
            },
            "data",
            {"a": "YQ=="},
            id="secret-stringdata-into-data",
        ),
        pytest.param(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": "c"},
                "spec": {},
            },
            "spec.volumeMode",
            "Filesystem",
            id="pvc-volume-mode-filesystem",
        ),
        pytest.param(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "s"},
                "spec": {"ports": [{"port": 80}]},
            },
            "spec",
            {
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
                "type": "ClusterIP",
                "sessionAffinity": "None",
                "internalTrafficPolicy": "Cluster",
            },
            id="service-defaults",
        ),
        pytest.param(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "s"},
                "spec": {"type": "NodePort", "ports": [{"port": 80}]},
            },
            "spec.externalTrafficPolicy",
            "Cluster",
            id="nodeport-external-traffic-policy",
        ),
        pytest.param(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "d"},
                "spec": {"template": {"spec": {"containers": []}}},
            },
            "spec.strategy",
            {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
            },
            id="deployment-rolling-update-25-percent",
        ),
        pytest.param(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "d"},
                "spec": {"template": {"spec": {"containers": []}}},
            },
            "spec.replicas",
            1,
            id="deployment-replicas-1",
        ),
        pytest.param(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "d"},
                "spec": {"template": {"spec": {"containers": []}}},
            },
            "spec.progressDeadlineSeconds",
            600,
            id="deployment-progress-deadline-600",
        ),
        pytest.param(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "d"},
                "spec": {"template": {"spec": {"containers": []}}},
            },
            "spec.revisionHistoryLimit",
            10,
            id="deployment-revision-history-10",
        ),
        pytest.param(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "d"},
                "spec": {"template": {"spec": {"containers": []}}},
            },
            "spec.template.spec.restartPolicy",
            "Always",
            id="deployment-template-defaulted",
        ),
        pytest.param(
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": {"name": "s"},
                "spec": {"template": {"spec": {}}},
            },
            "spec.updateStrategy",
            {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            id="statefulset-update-strategy",
        ),
        pytest.param(
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": {"name": "s"},
                "spec": {"template": {"spec": {}}},
            },
            "spec.podManagementPolicy",
            "OrderedReady",
            id="statefulset-ordered-ready",
        ),
        pytest.param(
            {
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": {"name": "s"},
                "spec": {"template": {"spec": {}}},
            },
            "spec.persistentVolumeClaimRetentionPolicy",
            {"whenDeleted": "Retain", "whenScaled": "Retain"},
            id="statefulset-pvc-retention",
        ),
        pytest.param(
            {
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "metadata": {"name": "d"},
                "spec": {"template": {"spec": {}}},
            },
            "spec.updateStrategy",
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
            id="daemonset-update-strategy",
        ),
        pytest.param(
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {"name": "j"},
                "spec": {"template": {"spec": {}}},
            },
            "spec.completions",
            1,
            id="job-completions-1",
        ),
        pytest.param(
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {"name": "j"},
                "spec": {"template": {"spec": {}}},
            },
            "spec.backoffLimit",
            6,
            id="job-backoff-limit-6",
        ),
        pytest.param(
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {"name": "j"},
                "spec": {"parallelism": 3, "template": {"spec": {}}},
            },
            "spec",
            {
                "parallelism": 3,
                "backoffLimit": 6,
                "completionMode": "NonIndexed",
                "suspend": False,
                "podReplacementPolicy": "TerminatingOrFailed",
                "template": {
                    "spec": {
                        "restartPolicy": "Always",
                        "dnsPolicy": "ClusterFirst",
                        "terminationGracePeriodSeconds": 30,
                        "securityContext": {},
                        "schedulerName": "default-scheduler",
                        "enableServiceLinks": True,
                    }
                },
            },
            id="job-parallelism-without-completions",
        ),
        pytest.param(
            {
                "apiVersion": "batch/v1",
                "kind": "CronJob",
                "metadata": {"name": "c"},
                "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {}}}},
            },
            "spec.concurrencyPolicy",
            "Allow",
            id="cronjob-concurrency-allow",
        ),
        pytest.param(
            {
                "apiVersion": "batch/v1",
                "kind": "CronJob",
                "metadata": {"name": "c"},
                "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {}}}},
            },
            "spec.successfulJobsHistoryLimit",
            3,
            id="cronjob-history-3",
        ),
    ],
)
def test_default(body: dict[str, Any], path: str, value: Any) -> None:
    original = copy.deepcopy(body)
    out = defaults.default_object(body)
    assert dig(out, path) == value
    assert body == original, "the input is never changed"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(pod(), id="pod"),
        pytest.param(pod(restartPolicy="Never", dnsPolicy="Default"), id="pod-non-default"),
        pytest.param(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "d"},
                "spec": {
                    "replicas": 0,
                    "strategy": {"type": "Recreate"},
                    "template": {"spec": {"containers": [{"name": "a", "image": "b"}]}},
                },
            },
            id="deployment-recreate-strategy",
        ),
        pytest.param(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}},
            id="configmap-nothing-to-default",
        ),
        pytest.param(
            {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}},
            id="custom-resource-untouched",
        ),
    ],
)
def test_defaulting_is_idempotent(body: dict[str, Any]) -> None:
    once = defaults.default_object(body)
    assert defaults.default_object(once) == once


def test_recreate_strategy_gets_no_rolling_update() -> None:
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"strategy": {"type": "Recreate"}, "template": {"spec": {}}},
    }
    assert defaults.default_object(body)["spec"]["strategy"] == {"type": "Recreate"}
