"""Fields: which parts of a Pod kubeplay implements, and what it says about the rest.

`validate` walks every Pod with these tables and warns once per field path that is set but not
implemented (`spec.containers[0].livenessProbe: not supported yet, ignored`). Patterns use `[*]`
for list items. A field in IMPLEMENTED is used as is; the walk descends into it only when the
table names some of its children, so an unlisted child is warned about. A field in MESSAGES gets
that message; any other field gets NOT_SUPPORTED. When an issue implements a field, move it into
IMPLEMENTED (or drop its MESSAGES entry): this module is the one place to change.
"""

from __future__ import annotations

from typing import NamedTuple

NOT_SUPPORTED = "not supported yet, ignored"
NO_EFFECT = "no effect on a single host"
NOT_ENFORCED = "not enforced yet"
SET_BY_SERVER = "set by the server, ignored"

# Container fields kubeplay implements, for containers and initContainers alike.
_CONTAINER = (
    "name",
    "image",
    "imagePullPolicy",
    "command",
    "args",
    "workingDir",
    "env",
    "env[*].name",
    "env[*].value",
    "env[*].valueFrom",
    "envFrom",
    "resources",
    "resources.limits",
    "resources.limits.cpu",
    "resources.limits.memory",
    "resources.requests",
    "resources.requests.cpu",
    "resources.requests.memory",
    "ports",
    "ports[*].containerPort",
    "ports[*].name",
    "ports[*].protocol",
    "ports[*].hostPort",
    "ports[*].hostIP",
    "tty",
    "stdin",
    "stdinOnce",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "securityContext",
    "securityContext.runAsUser",
    "securityContext.runAsGroup",
    "securityContext.runAsNonRoot",
    "securityContext.privileged",
    "securityContext.capabilities",
    "securityContext.readOnlyRootFilesystem",
    "securityContext.allowPrivilegeEscalation",
    "securityContext.procMount",
    "securityContext.seccompProfile",
    "volumeMounts",
    "volumeMounts[*].name",
    "volumeMounts[*].mountPath",
    "volumeMounts[*].readOnly",
    "volumeMounts[*].subPath",
    "volumeMounts[*].subPathExpr",
    "volumeMounts[*].mountPropagation",
)
_KEY_ITEMS = ("items", "items[*].key", "items[*].path", "items[*].mode", "optional")
_DOWNWARD_ITEMS = (
    "items",
    "items[*].path",
    "items[*].mode",
    "items[*].fieldRef",
    "items[*].fieldRef.apiVersion",
    "items[*].fieldRef.fieldPath",
    "items[*].resourceFieldRef",
    "items[*].resourceFieldRef.containerName",
    "items[*].resourceFieldRef.resource",
    "items[*].resourceFieldRef.divisor",
)
# Sources of a projected volume kubeplay writes (serviceAccountToken has a MESSAGES entry).
_PROJECTION = (
    "configMap",
    "configMap.name",
    *(f"configMap.{f}" for f in _KEY_ITEMS),
    "secret",
    "secret.name",
    *(f"secret.{f}" for f in _KEY_ITEMS),
    "downwardAPI",
    *(f"downwardAPI.{f}" for f in _DOWNWARD_ITEMS),
)
# Volume sources kubeplay implements (any other source is warned and never mounted).
_VOLUME = (
    "name",
    "hostPath",
    "hostPath.path",
    "hostPath.type",
    "emptyDir",
    "emptyDir.medium",
    "emptyDir.sizeLimit",
    "persistentVolumeClaim",
    "persistentVolumeClaim.claimName",
    "persistentVolumeClaim.readOnly",
    "configMap",
    "configMap.name",
    "configMap.defaultMode",
    *(f"configMap.{f}" for f in _KEY_ITEMS),
    "secret",
    "secret.secretName",
    "secret.defaultMode",
    *(f"secret.{f}" for f in _KEY_ITEMS),
    "downwardAPI",
    "downwardAPI.defaultMode",
    *(f"downwardAPI.{f}" for f in _DOWNWARD_ITEMS),
    "projected",
    "projected.defaultMode",
    "projected.sources",
)
# Probes and lifecycle hooks (run by kubeplay: plan/probes.py, engine/probes.py, prober.py,
# hooks.py). Newer handler fields (httpGet.protocol, grpc.mode) and the deprecated tcpSocket
# lifecycle handler are warned about.
_HANDLER = (
    "exec",
    "exec.command",
    "httpGet",
    "httpGet.host",
    "httpGet.path",
    "httpGet.port",
    "httpGet.scheme",
    "httpGet.httpHeaders",
    "httpGet.httpHeaders[*].name",
    "httpGet.httpHeaders[*].value",
)
_PROBE = (
    *_HANDLER,
    "tcpSocket",
    "tcpSocket.host",
    "tcpSocket.port",
    "grpc",
    "grpc.port",
    "grpc.service",
    "initialDelaySeconds",
    "periodSeconds",
    "timeoutSeconds",
    "successThreshold",
    "failureThreshold",
    "terminationGracePeriodSeconds",
)
_HOOK = (*_HANDLER, "sleep", "sleep.seconds")
_CONTAINER_PROBES = (
    *(
        f"{probe}{f'.{f}' if f else ''}"
        for probe in ("livenessProbe", "readinessProbe", "startupProbe")
        for f in ("", *_PROBE)
    ),
    "lifecycle",
    "lifecycle.stopSignal",
    *(
        f"lifecycle.{hook}{f'.{f}' if f else ''}"
        for hook in ("postStart", "preStop")
        for f in ("", *_HOOK)
    ),
)
# Only init containers take a restartPolicy (`Always` makes a sidecar).
_INIT_CONTAINER_ONLY = ("restartPolicy",)

IMPLEMENTED: frozenset[str] = frozenset(
    {
        "apiVersion",
        "kind",
        "metadata",
        "metadata.name",
        "metadata.namespace",
        "metadata.labels",
        "metadata.annotations",
        "spec",
        "spec.containers",
        "spec.initContainers",
        "spec.restartPolicy",
        "spec.terminationGracePeriodSeconds",
        "spec.hostname",
        "spec.subdomain",
        "spec.shareProcessNamespace",
        "spec.hostNetwork",
        "spec.hostPID",
        "spec.hostIPC",
        "spec.dnsPolicy",
        "spec.dnsConfig",
        "spec.dnsConfig.nameservers",
        "spec.dnsConfig.searches",
        "spec.dnsConfig.options",
        "spec.hostAliases",
        "spec.os",
        "spec.os.name",
        "spec.securityContext",
        "spec.securityContext.runAsUser",
        "spec.securityContext.runAsGroup",
        "spec.securityContext.runAsNonRoot",
        "spec.securityContext.supplementalGroups",
        "spec.securityContext.sysctls",
        "spec.securityContext.seccompProfile",
        "spec.activeDeadlineSeconds",
        "spec.setHostnameAsFQDN",
        "spec.enableServiceLinks",
        "spec.securityContext.fsGroup",
        "spec.securityContext.fsGroupChangePolicy",
        "spec.volumes",
        *(f"spec.volumes[*].{f}" for f in _VOLUME),
        *(f"spec.volumes[*].projected.sources[*].{f}" for f in _PROJECTION),
        *(f"spec.containers[*].{f}" for f in _CONTAINER + _CONTAINER_PROBES),
        *(
            f"spec.initContainers[*].{f}"
            for f in _CONTAINER + _INIT_CONTAINER_ONLY + _CONTAINER_PROBES
        ),
    }
)

_NO_EFFECT_SPEC = (
    "overhead",
    "schedulingGates",
    "schedulingGroup",
    "evictionResponders",
    "nodeSelector",
    "affinity",
    "tolerations",
    "priorityClassName",
    "priority",
    "schedulerName",
    "serviceAccountName",
    "serviceAccount",
    "automountServiceAccountToken",
    "nodeName",
    "topologySpreadConstraints",
    "preemptionPolicy",
    "runtimeClassName",
    "readinessGates",
    "imagePullSecrets",
)
_SET_BY_SERVER = (
    "metadata.uid",
    "metadata.resourceVersion",
    "metadata.generation",
    "metadata.creationTimestamp",
    "metadata.deletionTimestamp",
    "metadata.deletionGracePeriodSeconds",
    "metadata.managedFields",
    "metadata.selfLink",
    "status",
)

# Every other field of the Pod and Container schemas (newest bundled Kubernetes), named so that
# none is dropped without a word (tests/unit/kube/test_fields.py walks the schema).
WINDOWS_ONLY = "Windows only, no effect on Linux"
_NOT_SUPPORTED_SPEC = (
    "hostUsers",
    "hostnameOverride",
    "ephemeralContainers",
    "resourceClaims",
    "resources",
    "securityContext.appArmorProfile",
    "securityContext.seLinuxOptions",
    "securityContext.seLinuxChangePolicy",
    "securityContext.supplementalGroupsPolicy",
)
_NOT_SUPPORTED_CONTAINER = (
    "resizePolicy",
    "restartPolicyRules",
    "volumeDevices",
    "resources.claims",
    "securityContext.appArmorProfile",
    "securityContext.seLinuxOptions",
    "volumeMounts[*].recursiveReadOnly",
    "volumeMounts[*].bindMountOptions",
    *(
        f"{probe}.{f}"
        for probe in ("livenessProbe", "readinessProbe", "startupProbe")
        for f in ("httpGet.protocol", "grpc.mode")
    ),
    *(
        f"lifecycle.{hook}.{f}"
        for hook in ("postStart", "preStop")
        for f in ("httpGet.protocol", "tcpSocket")
    ),
)
# Volume sources kubeplay does not mount, and newer fields of those it does.
_NOT_SUPPORTED_VOLUME = (
    "awsElasticBlockStore",
    "azureDisk",
    "azureFile",
    "cephfs",
    "cinder",
    "csi",
    "ephemeral",
    "fc",
    "flexVolume",
    "flocker",
    "gcePersistentDisk",
    "gitRepo",
    "glusterfs",
    "image",
    "iscsi",
    "nfs",
    "photonPersistentDisk",
    "portworxVolume",
    "quobyte",
    "rbd",
    "scaleIO",
    "storageos",
    "vsphereVolume",
    "emptyDir.mode",
    *(
        f"{kind}.{f}"
        for kind in ("configMap", "secret", "downwardAPI", "projected")
        for f in ("defaultUser", "items[*].user")
    ),
    "projected.sources[*].clusterTrustBundle",
    "projected.sources[*].podCertificate",
    *(
        f"projected.sources[*].{kind}.items[*].user"
        for kind in ("configMap", "secret", "downwardAPI")
    ),
)

MESSAGES: dict[str, str] = {
    **{f"spec.{f}": NO_EFFECT for f in _NO_EFFECT_SPEC},
    **{f"spec.{f}": NOT_SUPPORTED for f in _NOT_SUPPORTED_SPEC},
    **{f"spec.volumes[*].{f}": NOT_SUPPORTED for f in _NOT_SUPPORTED_VOLUME},
    "spec.securityContext.windowsOptions": WINDOWS_ONLY,
    **{
        f"spec.{group}[*].{f}": message
        for group in ("containers", "initContainers")
        for f, message in (
            *((f, NOT_SUPPORTED) for f in _NOT_SUPPORTED_CONTAINER),
            ("securityContext.windowsOptions", WINDOWS_ONLY),
        )
    },
    # A regular container's restartPolicy (ContainerRestartRules): the supervisor's, later.
    "spec.containers[*].restartPolicy": NOT_SUPPORTED,
    "metadata.generateName": "ignored: play needs metadata.name",
    "metadata.ownerReferences": "no garbage collector on a single host, ignored",
    "metadata.finalizers": NOT_SUPPORTED,
    **{path: SET_BY_SERVER for path in _SET_BY_SERVER},
    "spec.volumes[*].projected.sources[*].serviceAccountToken": "no service account "
    "tokens on a single host, no file is written",
    **{
        f"spec.{group}[*].resources.{kind}.{name}": NOT_ENFORCED
        for group in ("containers", "initContainers")
        for kind in ("limits", "requests")
        for name in ("ephemeral-storage", "hugepages-2Mi", "hugepages-1Gi")
    },
}


def _ancestors(pattern: str) -> list[str]:
    """`spec.containers[*].env` -> `spec.containers[*]`, `spec.containers`, `spec`."""
    found = []
    while (cut := max(pattern.rfind("."), pattern.rfind("["))) > 0:
        pattern = pattern[:cut]
        found.append(pattern)
    return found


# Patterns whose children the walk visits: the ancestors of every IMPLEMENTED pattern.
PARENTS: frozenset[str] = frozenset(a for pattern in IMPLEMENTED for a in _ancestors(pattern))


class Tables(NamedTuple):
    """The three tables of one kind: what is implemented, messages, and parents to walk."""

    implemented: frozenset[str]
    messages: dict[str, str]
    parents: frozenset[str]


# A workload's own fields (Deployment, apps/v1); its spec.template is walked with the Pod
# tables above, as `spec.template.spec...`. Rolling updates and scaling are not implemented:
# a Deployment played again with --replace replaces every pod.
_WORKLOAD_IMPLEMENTED = frozenset(
    {
        "apiVersion",
        "kind",
        "metadata",
        "metadata.name",
        "metadata.namespace",
        "metadata.labels",
        "metadata.annotations",
        "spec",
        "spec.replicas",
        "spec.selector",
        "spec.template",
        # the Deployment controller (engine.controllers.deployments)
        "spec.strategy",
        "spec.strategy.type",
        "spec.strategy.rollingUpdate",
        "spec.strategy.rollingUpdate.maxSurge",
        "spec.strategy.rollingUpdate.maxUnavailable",
        "spec.minReadySeconds",
        "spec.progressDeadlineSeconds",
        "spec.paused",
        "spec.revisionHistoryLimit",
    }
)
_WORKLOAD_MESSAGES: dict[str, str] = {
    **{path: SET_BY_SERVER for path in _SET_BY_SERVER},
}
WORKLOAD_TABLES = Tables(
    _WORKLOAD_IMPLEMENTED,
    _WORKLOAD_MESSAGES,
    frozenset(a for pattern in _WORKLOAD_IMPLEMENTED for a in _ancestors(pattern)),
)

# A StatefulSet's and a DaemonSet's own fields (engine.controllers.statefulsets, daemonsets):
# every field their controllers read; spec.template is walked with the Pod tables.
_SET_IMPLEMENTED = frozenset(
    {
        "apiVersion",
        "kind",
        "metadata",
        "metadata.name",
        "metadata.namespace",
        "metadata.labels",
        "metadata.annotations",
        "spec",
        "spec.selector",
        "spec.template",
        "spec.updateStrategy",
        "spec.minReadySeconds",
        "spec.revisionHistoryLimit",
    }
)
STATEFULSET_TABLES = Tables(
    _SET_IMPLEMENTED
    | {
        "spec.replicas",
        "spec.serviceName",
        "spec.podManagementPolicy",
        "spec.ordinals",
        "spec.volumeClaimTemplates",
        "spec.persistentVolumeClaimRetentionPolicy",
    },
    {path: SET_BY_SERVER for path in _SET_BY_SERVER},
    frozenset(a for pattern in _SET_IMPLEMENTED for a in _ancestors(pattern)),
)
DAEMONSET_TABLES = Tables(
    _SET_IMPLEMENTED,
    {path: SET_BY_SERVER for path in _SET_BY_SERVER},
    frozenset(a for pattern in _SET_IMPLEMENTED for a in _ancestors(pattern)),
)
