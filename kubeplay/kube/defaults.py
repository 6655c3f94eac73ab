"""Defaulting: the fields the API server fills in on write, as its SetDefaults_* functions do
(pkg/apis/core/v1/defaults.go, apps/v1, batch/v1), so that writing a default explicitly, or
leaving it out, gives the same stored object.

`default_object(body)` returns a defaulted deep copy; the input is never changed. Only what
defaulting does is here: fields that admission plugins or registries add (tolerations of
DefaultTolerationSeconds, priority, a Service's clusterIP, a Job's selector) are not. Pure: no
I/O.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Any

Body = dict[str, Any]

DEFAULT_TERMINATION_GRACE_PERIOD = 30
TERMINATION_MESSAGE_PATH = "/dev/termination-log"
DEFAULT_MODE = 0o644  # 420: configMap, secret, projected and downwardAPI volumes


def default_object(body: Body) -> Body:
    """A defaulted deep copy of a manifest of any kind (unknown kinds are only copied)."""
    out = copy.deepcopy(body)
    fill = _BY_KIND.get(str(out.get("kind", "")))
    if fill is not None:
        fill(out)
    return out


def default_pod_template(template: Body) -> Body:
    """A defaulted deep copy of a pod template (what a pod-template-hash is computed on)."""
    out = copy.deepcopy(template)
    _pod_spec(_dict(out, "spec"))
    return out


def pull_policy(image: str) -> str:
    """SetDefaults_Container: Always for `:latest` or no tag (and no digest), else
    IfNotPresent."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    _, colon, tag = last.partition(":")
    return "Always" if not colon or tag == "latest" else "IfNotPresent"


# --- helpers ------------------------------------------------------------------------------------


def _dict(parent: Body, field: str) -> Body:
    value = parent.get(field)
    if not isinstance(value, dict):
        value = {}
        parent[field] = value
    return value


def _items(parent: Body, field: str) -> list[Body]:
    value = parent.get(field)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


# --- core/v1 ------------------------------------------------------------------------------------


def _pod(body: Body) -> None:
    _pod_spec(_dict(body, "spec"))


def _pod_spec(spec: Body) -> None:
    """SetDefaults_PodSpec, SetDefaults_Pod (requests from limits), and every container's,
    volume's and probe's defaults."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("terminationGracePeriodSeconds", DEFAULT_TERMINATION_GRACE_PERIOD)
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("enableServiceLinks", True)
    if spec.get("hostNetwork"):
        # SetDefaults_PodSpec: hostNetwork pods' container ports default hostPort = port.
        for container in _items(spec, "containers") + _items(spec, "initContainers"):
            for port in _items(container, "ports"):
                if "containerPort" in port:
                    port.setdefault("hostPort", port["containerPort"])
    for field in ("containers", "initContainers", "ephemeralContainers"):
        for container in _items(spec, field):
            _container(container)
    for volume in _items(spec, "volumes"):
        _volume(volume)


def _container(container: Body) -> None:
    image = container.get("image")
    if isinstance(image, str) and image:
        container.setdefault("imagePullPolicy", pull_policy(image))
    container.setdefault("terminationMessagePath", TERMINATION_MESSAGE_PATH)
    container.setdefault("terminationMessagePolicy", "File")
    for port in _items(container, "ports"):
        port.setdefault("protocol", "TCP")
    for env in _items(container, "env"):
        ref = (env.get("valueFrom") or {}).get("fieldRef")
        if isinstance(ref, dict):
            ref.setdefault("apiVersion", "v1")
    resources = container.get("resources")
    if isinstance(resources, dict) and isinstance(resources.get("limits"), dict):
        requests = _dict(resources, "requests")
        for name, value in resources["limits"].items():
            requests.setdefault(name, value)
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if isinstance(container.get(probe), dict):
            _probe(container[probe])
    lifecycle = container.get("lifecycle")
    if isinstance(lifecycle, dict):
        for hook in ("postStart", "preStop"):
            if isinstance(lifecycle.get(hook), dict):
                _handler(lifecycle[hook])


def _probe(probe: Body) -> None:
    probe.setdefault("timeoutSeconds", 1)
    probe.setdefault("periodSeconds", 10)
    probe.setdefault("successThreshold", 1)
    probe.setdefault("failureThreshold", 3)
    _handler(probe)


def _handler(handler: Body) -> None:
    get = handler.get("httpGet")
    if isinstance(get, dict):
        get.setdefault("path", "/")
        get.setdefault("scheme", "HTTP")


def _volume(volume: Body) -> None:
    sources = [k for k in volume if k != "name"]
    if not sources:
        volume["emptyDir"] = {}  # SetDefaults_Volume
    for source in ("configMap", "secret", "downwardAPI", "projected"):
        value = volume.get(source)
        if isinstance(value, dict):
            value.setdefault("defaultMode", DEFAULT_MODE)
    downward = volume.get("downwardAPI")
    if isinstance(downward, dict):
        for item in _items(downward, "items"):
            ref = item.get("fieldRef")
            if isinstance(ref, dict):
                ref.setdefault("apiVersion", "v1")
    host = volume.get("hostPath")
    if isinstance(host, dict):
        host.setdefault("type", "")


def _secret(body: Body) -> None:
    """The API server merges stringData over data (base64) on write and drops it; type
    Opaque."""
    string_data = body.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = _dict(body, "data")
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
    body.setdefault("type", "Opaque")


def _pvc(body: Body) -> None:
    _dict(body, "spec").setdefault("volumeMode", "Filesystem")


def _pv(body: Body) -> None:
    spec = _dict(body, "spec")
    spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
    spec.setdefault("volumeMode", "Filesystem")


def _service(body: Body) -> None:
    spec = _dict(body, "spec")
    kind = spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["sessionAffinity"] == "ClientIP":
        config = _dict(_dict(spec, "sessionAffinityConfig"), "clientIP")
        config.setdefault("timeoutSeconds", 10800)
    for port in _items(spec, "ports"):
        port.setdefault("protocol", "TCP")
        if "port" in port:
            port.setdefault("targetPort", port["port"])
    if kind != "ExternalName":
        spec.setdefault("internalTrafficPolicy", "Cluster")
    if kind in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if kind == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)


def _namespace(body: Body) -> None:
    _dict(body, "metadata")  # nothing else is defaulted; the registry adds finalizers


# --- apps/v1 ------------------------------------------------------------------------------------


def _template(spec: Body) -> None:
    _pod_spec(_dict(_dict(spec, "template"), "spec"))


def _deployment(body: Body) -> None:
    spec = _dict(body, "spec")
    spec.setdefault("replicas", 1)
    strategy = _dict(spec, "strategy")
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _dict(strategy, "rollingUpdate")
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _template(spec)


def _replicaset(body: Body) -> None:
    spec = _dict(body, "spec")
    spec.setdefault("replicas", 1)
    _template(spec)


def _statefulset(body: Body) -> None:
    spec = _dict(body, "spec")
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    strategy = _dict(spec, "updateStrategy")
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        _dict(strategy, "rollingUpdate").setdefault("partition", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    retention = _dict(spec, "persistentVolumeClaimRetentionPolicy")
    retention.setdefault("whenDeleted", "Retain")
    retention.setdefault("whenScaled", "Retain")
    for claim in _items(spec, "volumeClaimTemplates"):
        _pvc(claim)
    _template(spec)


def _daemonset(body: Body) -> None:
    spec = _dict(body, "spec")
    strategy = _dict(spec, "updateStrategy")
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _dict(strategy, "rollingUpdate")
        rolling.setdefault("maxUnavailable", 1)
        rolling.setdefault("maxSurge", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    _template(spec)


# --- batch/v1 -----------------------------------------------------------------------------------


def _job_spec(spec: Body) -> None:
    """SetDefaults_Job (the parts that do not depend on feature gates being off)."""
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    if spec.get("backoffLimitPerIndex") is None:
        spec.setdefault("backoffLimit", 6)
    else:
        spec.setdefault("backoffLimit", 2**31 - 1)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault(
        "podReplacementPolicy", "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed"
    )
    _template(spec)


def _job(body: Body) -> None:
    _job_spec(_dict(body, "spec"))


def _cronjob(body: Body) -> None:
    spec = _dict(body, "spec")
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    _template(_dict(_dict(spec, "jobTemplate"), "spec"))


# --- the kinds kubeplay stores only -----------------------------------------------------------


def _storage_class(body: Body) -> None:
    body.setdefault("reclaimPolicy", "Delete")
    body.setdefault("volumeBindingMode", "Immediate")


def _priority_class(body: Body) -> None:
    body.setdefault("preemptionPolicy", "PreemptLowerPriority")


def _network_policy(body: Body) -> None:
    """SetDefaults_NetworkPolicy: policyTypes from the rules present, port protocol TCP."""
    spec = _dict(body, "spec")
    for direction in ("ingress", "egress"):
        for rule in _items(spec, direction):
            for port in _items(rule, "ports"):
                port.setdefault("protocol", "TCP")
    if not spec.get("policyTypes"):
        types = ["Ingress"]
        if spec.get("egress"):
            types.append("Egress")
        spec["policyTypes"] = types


def _crd(body: Body) -> None:
    spec = _dict(body, "spec")
    _dict(spec, "conversion").setdefault("strategy", "None")
    names = _dict(spec, "names")
    if "plural" in names or "kind" in names:
        names.setdefault("singular", str(names.get("kind", "")).lower())
        names.setdefault("listKind", f"{names.get('kind', '')}List")


_BY_KIND: dict[str, Callable[[Body], None]] = {
    "StorageClass": _storage_class,
    "PriorityClass": _priority_class,
    "NetworkPolicy": _network_policy,
    "CustomResourceDefinition": _crd,
    "Pod": _pod,
    "Secret": _secret,
    "PersistentVolumeClaim": _pvc,
    "PersistentVolume": _pv,
    "Service": _service,
    "Namespace": _namespace,
    "Deployment": _deployment,
    "ReplicaSet": _replicaset,
    "StatefulSet": _statefulset,
    "DaemonSet": _daemonset,
    "Job": _job,
    "CronJob": _cronjob,
}
