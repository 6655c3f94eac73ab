"""The rules of `kubeplay check`: id, level, what the cluster does, and where that is written.

Every finding names one rule of `RULES`; docs/cluster-check.md lists them all and
tests/unit/plan/check/test_rules.py keeps the page and this table equal. A rule's level is
the level of its findings, except the Pod Security checks (`pss-*`), which are errors at or
below the level the cluster enforces and `info` above it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Level(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


# Most severe first: `--fail-on warning` fails on errors and warnings.
SEVERITY: dict[Level, int] = {Level.ERROR: 2, Level.WARNING: 1, Level.INFO: 0}


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    level: Level
    summary: str  # what the cluster does, in one line (docs/cluster-check.md)
    source: str  # the Kubernetes (or linter) document it comes from


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule's finding in one object, pointing at the input."""

    rule: str
    level: Level
    source: str  # file name
    doc_index: int
    line: int
    kind: str
    namespace: str
    name: str
    path: str
    message: str


_DEPRECATION = "https://kubernetes.io/docs/reference/using-api/deprecation-guide/"
_PSS = "https://kubernetes.io/docs/concepts/security/pod-security-standards/"
_PSA = "https://github.com/kubernetes/pod-security-admission/tree/master/policy"
_IMAGES = "https://kubernetes.io/docs/concepts/containers/images/"
_RESOURCES = "https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/"
_PROBES = (
    "https://kubernetes.io/docs/tasks/configure-pod-container/"
    "configure-liveness-readiness-startup-probes/"
)
_KUBE_SCORE = "https://github.com/zegl/kube-score/blob/master/README_CHECKS.md"
_KUBE_LINTER = "https://docs.kubelinter.io/#/generated/checks"

# Pod Security Standards checks, as the admission plugin names them (policy/check_*.go).
PSS_BASELINE = (
    "hostNamespaces",
    "privileged",
    "capabilities_baseline",
    "hostPathVolumes",
    "hostPorts",
    "hostProbesAndHostLifecycle",
    "appArmorProfile",
    "seLinuxOptions",
    "procMount",
    "seccompProfile_baseline",
    "sysctls",
    "windowsHostProcess",
)
PSS_RESTRICTED = (
    "restrictedVolumes",
    "allowPrivilegeEscalation",
    "runAsNonRoot",
    "runAsUser",
    "seccompProfile_restricted",
    "capabilities_restricted",
    "procMount_restricted",
)

# Each check's file in pod-security-admission/policy and what it forbids (its doc comment).
_PSS_CHECKS: dict[str, tuple[str, str]] = {
    "hostNamespaces": ("hostNamespaces", "hostNetwork, hostPID or hostIPC"),
    "privileged": ("privileged", "privileged containers"),
    "capabilities_baseline": (
        "capabilities_baseline",
        "capabilities added beyond the default set (AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, "
        "FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT)",
    ),
    "hostPathVolumes": ("hostPathVolumes", "hostPath volumes"),
    "hostPorts": ("hostPorts", "hostPort"),
    "hostProbesAndHostLifecycle": (
        "hostProbesAndhostLifecycle",
        "a host in probes and lifecycle handlers (1.34+)",
    ),
    "appArmorProfile": (
        "appArmorProfile",
        "AppArmor profiles other than RuntimeDefault, Localhost",
    ),
    "seLinuxOptions": (
        "seLinuxOptions",
        "SELinux types other than the container types, any SELinux user or role",
    ),
    "procMount": ("procMount_baseline", "procMount other than Default"),
    "seccompProfile_baseline": (
        "seccompProfile_baseline",
        "seccomp profiles other than RuntimeDefault, Localhost",
    ),
    "sysctls": ("sysctls", "sysctls outside the safe set of the version"),
    "windowsHostProcess": ("windowsHostProcess", "Windows HostProcess containers"),
    "restrictedVolumes": (
        "restrictedVolumes",
        "volume types other than configMap, csi, downwardAPI, emptyDir, ephemeral, image, "
        "persistentVolumeClaim, projected, secret",
    ),
    "allowPrivilegeEscalation": (
        "allowPrivilegeEscalation",
        "containers without allowPrivilegeEscalation: false",
    ),
    "runAsNonRoot": ("runAsNonRoot", "pods and containers without runAsNonRoot: true"),
    "runAsUser": ("runAsUser", "runAsUser: 0"),
    "seccompProfile_restricted": (
        "seccompProfile_restricted",
        "containers without a RuntimeDefault or Localhost seccomp profile",
    ),
    "capabilities_restricted": (
        "capabilities_restricted",
        'containers that do not drop ["ALL"] or add anything but NET_BIND_SERVICE',
    ),
    "procMount_restricted": (
        "procMount_restricted",
        "procMount other than Default, even in a user namespace (1.35+)",
    ),
}

_RULES = (
    Rule(
        "schema-invalid",
        Level.ERROR,
        "the API server rejects the object: a field is unknown, of the wrong type, or breaks a "
        "rule the API server checks (names, required fields, selectors)",
        "https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation",
    ),
    Rule(
        "kind-unknown",
        Level.WARNING,
        "the cluster serves this kind only if a CustomResourceDefinition (or an aggregated "
        "API) defines it; kubeplay has no schema for it and did not validate it",
        "https://kubernetes.io/docs/concepts/extend-kubernetes/api-extension/custom-resources/",
    ),
    Rule(
        "api-removed",
        Level.ERROR,
        "the cluster no longer serves this apiVersion: the object is rejected; use the "
        "replacement named",
        _DEPRECATION,
    ),
    Rule(
        "api-deprecated",
        Level.WARNING,
        "the cluster still serves this apiVersion, with a deprecation warning, until the "
        "release named",
        _DEPRECATION,
    ),
    Rule(
        "image-local-only",
        Level.ERROR,
        "a node cannot pull an image that exists only in kubeplay's store (imported, loaded, "
        "tagged here) or has a localhost/ name: the pod waits in ErrImagePull",
        _IMAGES,
    ),
    Rule(
        "image-latest-tag",
        Level.WARNING,
        "`:latest` or no tag is pulled on every start (imagePullPolicy Always by default) and "
        "nodes may run different images",
        _IMAGES + "#image-pull-policy",
    ),
    Rule(
        "image-pull-never",
        Level.WARNING,
        "imagePullPolicy Never: the kubelet never pulls; on a node without the image the "
        "container waits in ErrImageNeverPull",
        _IMAGES + "#image-pull-policy",
    ),
    *(
        Rule(
            f"pss-{check}",
            Level.ERROR,
            f"Pod Security admission rejects the pod (a workload's pods) in a namespace that "
            f"enforces {level}: {_PSS_CHECKS[check][1]}",
            f"{_PSS}#{level} ; {_PSA}/check_{_PSS_CHECKS[check][0]}.go",
        )
        for level, checks in (("baseline", PSS_BASELINE), ("restricted", PSS_RESTRICTED))
        for check in checks
    ),
    Rule(
        "pss-level",
        Level.INFO,
        "the least restrictive Pod Security level a namespace must allow for the pod "
        "(pod-security.kubernetes.io/enforce)",
        _PSS,
    ),
    Rule(
        "ref-configmap-missing",
        Level.WARNING,
        "a ConfigMap the pod uses is not in the files: unless the cluster has it, the pod "
        "stays ContainerCreating (volume) or CreateContainerConfigError (env)",
        "https://kubernetes.io/docs/concepts/configuration/configmap/",
    ),
    Rule(
        "ref-secret-missing",
        Level.WARNING,
        "a Secret the pod uses is not in the files: unless the cluster has it, the pod stays "
        "ContainerCreating (volume), CreateContainerConfigError (env) or cannot pull "
        "(imagePullSecrets)",
        "https://kubernetes.io/docs/concepts/configuration/secret/",
    ),
    Rule(
        "ref-pvc-missing",
        Level.WARNING,
        "a PersistentVolumeClaim the pod uses is not in the files: unless the cluster has it, "
        "the pod stays Pending (kubeplay made a volume on first use)",
        "https://kubernetes.io/docs/concepts/storage/persistent-volumes/",
    ),
    Rule(
        "ref-serviceaccount-missing",
        Level.WARNING,
        "a ServiceAccount the pod runs as is not in the files: unless the cluster has it, the "
        "pod (a workload's pods) is not created",
        "https://kubernetes.io/docs/concepts/security/service-accounts/",
    ),
    Rule(
        "service-selector-no-match",
        Level.WARNING,
        "a Service whose selector matches no pod template of the files has no endpoints: "
        "connections to it fail",
        "https://kubernetes.io/docs/concepts/services-networking/service/",
    ),
    Rule(
        "pod-adopted-by-controller",
        Level.WARNING,
        "a bare Pod whose labels a ReplicaSet, StatefulSet, DaemonSet or Job of its namespace "
        "selects is adopted by that controller, which counts it and may delete it; kubeplay "
        "leaves it to its file",
        "https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/"
        "#non-template-pod-acquisitions",
    ),
    Rule(
        "workload-selector-mismatch",
        Level.ERROR,
        "the API server rejects a workload whose selector does not match its template's labels",
        "https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#selector",
    ),
    Rule(
        "resources-requests-unset",
        Level.WARNING,
        "a container without cpu and memory requests is scheduled as if it needed nothing "
        "(BestEffort or Burstable QoS, evicted first) (kube-score container-resources, "
        "kube-linter unset-cpu-requirements)",
        f"{_RESOURCES} ; {_KUBE_SCORE} ; {_KUBE_LINTER}",
    ),
    Rule(
        "resources-limits-unset",
        Level.WARNING,
        "a container without cpu and memory limits may use a node's whole CPU and memory "
        "(kube-score container-resources, kube-linter unset-memory-requirements)",
        f"{_RESOURCES} ; {_KUBE_SCORE} ; {_KUBE_LINTER}",
    ),
    Rule(
        "probe-readiness-missing",
        Level.WARNING,
        "without a readiness probe a container is Ready as soon as it starts: Services send it "
        "traffic before it can answer (kube-score pod-probes, kube-linter no-readiness-probe)",
        f"{_PROBES} ; {_KUBE_SCORE} ; {_KUBE_LINTER}",
    ),
    Rule(
        "probe-liveness-missing",
        Level.WARNING,
        "without a liveness probe a hung container is never restarted (kube-score pod-probes, "
        "kube-linter no-liveness-probe)",
        f"{_PROBES} ; {_KUBE_SCORE} ; {_KUBE_LINTER}",
    ),
    Rule(
        "kind-not-played",
        Level.WARNING,
        "kubeplay did not play this kind; the cluster creates it and its controllers act on it",
        "docs/kubernetes-support.md",
    ),
    Rule(
        "field-cluster-only",
        Level.INFO,
        "a field with no effect on one host (scheduling, service accounts, ...): the cluster "
        "acts on it",
        "docs/kubernetes-support.md",
    ),
    Rule(
        "field-not-played",
        Level.WARNING,
        "a field kubeplay accepted but did not implement (or a value only kubeplay refuses, as "
        "a Windows pod): the cluster applies it, this run did not test it",
        "docs/kubernetes-support.md",
    ),
)

RULES: dict[str, Rule] = {rule.id: rule for rule in _RULES}
