"""The registry of kinds: what the API server's discovery tells kubectl, for every kind kubeplay
stores.

Each `KindInfo` names a kind's API group, served versions, plural resource, singular, kubectl
short names and scope, as `kubectl api-resources` lists them. `resolve` turns the resource text
of `get KIND` (`pods`, `pod`, `po`, `deployment.apps`, `deploy/web`) into a kind, as kubectl's
RESTMapper does; `GET_ALL` is the `all` category (`kubectl get all`). `ObjectKey` is an object's
identity everywhere: (api group, kind, namespace, name), namespace empty for cluster-scoped
kinds. Custom resources get a `KindInfo` from their CRD (`from_crd`). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from kubeplay.errors import UsageError


class ObjectKey(NamedTuple):
    """An object's identity: never its file. `namespace` is "" for cluster-scoped kinds."""

    group: str
    kind: str
    namespace: str
    name: str


@dataclass(frozen=True, slots=True)
class KindInfo:
    group: str
    versions: tuple[str, ...]
    kind: str
    plural: str
    short_names: tuple[str, ...] = ()
    namespaced: bool = True
    # "" when kubeplay runs it; else what a cluster would do with it that kubeplay does not
    # (validation warns "<Kind> is stored only: <warning>").
    warning: str = ""

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        """The preferred apiVersion (`v1`, `apps/v1`; a CRD's storage version)."""
        version = self.versions[0] if self.versions else ""
        return f"{self.group}/{version}" if self.group else version

    @property
    def resource(self) -> str:
        """`pods`, `deployments.apps`: the fully qualified resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def prefix(self) -> str:
        """What kubectl prints before `/name`: `pod`, `deployment.apps`."""
        return f"{self.singular}.{self.group}" if self.group else self.singular


def _k(
    group: str,
    versions: str,
    kind: str,
    plural: str,
    short: str = "",
    *,
    namespaced: bool = True,
    warning: str = "",
) -> KindInfo:
    return KindInfo(
        group=group,
        versions=tuple(versions.split()),
        kind=kind,
        plural=plural,
        short_names=tuple(short.split()),
        namespaced=namespaced,
        warning=warning,
    )


NO_PODS = "no pods are run for it yet"

# kubectl api-resources of Kubernetes 1.31, for the kinds kubeplay stores.
BUILTIN: tuple[KindInfo, ...] = (
    _k("", "v1", "Pod", "pods", "po"),
    _k("", "v1", "ConfigMap", "configmaps", "cm"),
    _k("", "v1", "Secret", "secrets"),
    _k("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", "pvc"),
    _k("", "v1", "Namespace", "namespaces", "ns", namespaced=False),
    _k("", "v1", "Service", "services", "svc"),
    _k("", "v1", "Endpoints", "endpoints", "ep"),
    _k(
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        "sa",
        warning="no token is minted or mounted into pods",
    ),
    _k(
        "",
        "v1",
        "ResourceQuota",
        "resourcequotas",
        "quota",
        warning="quotas are not enforced on pods",
    ),
    _k(
        "",
        "v1",
        "LimitRange",
        "limitranges",
        "limits",
        warning="default requests and limits are not applied to pods",
    ),
    _k(
        "",
        "v1",
        "PersistentVolume",
        "persistentvolumes",
        "pv",
        namespaced=False,
        warning="claims are bound to local volumes, not to PersistentVolumes",
    ),
    _k(
        "",
        "v1",
        "ReplicationController",
        "replicationcontrollers",
        "rc",
        warning=NO_PODS,
    ),
    _k("apps", "v1", "Deployment", "deployments", "deploy"),
    _k("apps", "v1", "ReplicaSet", "replicasets", "rs"),
    _k("apps", "v1", "StatefulSet", "statefulsets", "sts"),
    _k("apps", "v1", "DaemonSet", "daemonsets", "ds"),
    _k(
        "apps",
        "v1",
        "ControllerRevision",
        "controllerrevisions",
        warning="StatefulSets and DaemonSets keep their own; one applied is only stored",
    ),
    _k("batch", "v1", "Job", "jobs"),
    _k("batch", "v1", "CronJob", "cronjobs", "cj"),
    _k(
        "discovery.k8s.io",
        "v1",
        "EndpointSlice",
        "endpointslices",
    ),
    _k(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        "netpol",
        warning="pod traffic is not filtered by network policies",
    ),
    _k(
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        "ing",
        warning="no ingress controller routes HTTP to its Services",
    ),
    _k(
        "networking.k8s.io",
        "v1",
        "IngressClass",
        "ingressclasses",
        namespaced=False,
        warning="no ingress controller runs",
    ),
    _k(
        "rbac.authorization.k8s.io",
        "v1",
        "Role",
        "roles",
        warning="there is no API server whose requests it would authorize",
    ),
    _k(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        namespaced=False,
        warning="there is no API server whose requests it would authorize",
    ),
    _k(
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        warning="there is no API server whose requests it would authorize",
    ),
    _k(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        namespaced=False,
        warning="there is no API server whose requests it would authorize",
    ),
    _k(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        "pdb",
        warning="there are no evictions or drains for it to limit",
    ),
    _k(
        "autoscaling",
        "v2 v1",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        "hpa",
        warning="replicas are not scaled on metrics",
    ),
    _k(
        "scheduling.k8s.io",
        "v1",
        "PriorityClass",
        "priorityclasses",
        "pc",
        namespaced=False,
        warning="pods are not scheduled or preempted by priority",
    ),
    _k(
        "storage.k8s.io",
        "v1",
        "StorageClass",
        "storageclasses",
        "sc",
        namespaced=False,
        warning="claims are provisioned as local directories, whatever the class",
    ),
    _k(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        "crd crds",
        namespaced=False,
        warning="its custom resources are validated and stored; no controller acts on them",
    ),
)

# kubectl's `all` category (the kinds whose discovery lists "all"), in kubectl's print order.
GET_ALL: tuple[str, ...] = (
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

# Cluster-scoped kinds with a bundled schema that the registry does not list.
OTHER_CLUSTER_SCOPED = frozenset(
    {
        "Node",
        "APIService",
        "CSIDriver",
        "CSINode",
        "CertificateSigningRequest",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "VolumeAttachment",
        "RuntimeClass",
        "FlowSchema",
        "PriorityLevelConfiguration",
        "IPAddress",
        "ServiceCIDR",
    }
)

CUSTOM_RESOURCE_WARNING = "no controller acts on it"

_BY_KIND: dict[tuple[str, str], KindInfo] = {(k.group, k.kind): k for k in BUILTIN}
_BY_KIND_NAME: dict[str, KindInfo] = {k.kind: k for k in BUILTIN}


def group_of(api_version: str) -> str:
    """`apps/v1` -> `apps`; `v1` -> `` (the core group)."""
    return api_version.rpartition("/")[0]


def version_of(api_version: str) -> str:
    return api_version.rpartition("/")[2]


def lookup(group: str, kind: str, *, extra: Iterable[KindInfo] = ()) -> KindInfo | None:
    """The kind of `group`, or None; `extra`: kinds of custom resources (from their CRDs)."""
    found = _BY_KIND.get((group, kind))
    if found is not None:
        return found
    for info in extra:
        if (info.group, info.kind) == (group, kind):
            return info
    return None


def info_of(body: Mapping[str, Any], *, extra: Iterable[KindInfo] = ()) -> KindInfo | None:
    """The kind of a manifest, by its apiVersion's group and its kind (any served version)."""
    api_version = str(body.get("apiVersion", ""))
    info = lookup(group_of(api_version), str(body.get("kind", "")), extra=extra)
    if info is None or version_of(api_version) not in info.versions:
        return None
    return info


def key_of(body: Mapping[str, Any], *, extra: Iterable[KindInfo] = ()) -> ObjectKey:
    """The identity of a manifest: namespace `default` when unset, "" when cluster-scoped
    (the API server drops a namespace sent with a cluster-scoped object). Kinds it does not
    know (`extra`: custom resources' kinds) count as namespaced."""
    meta = body.get("metadata") or {}
    kind = str(body.get("kind", ""))
    info = lookup(group_of(str(body.get("apiVersion", ""))), kind, extra=extra)
    namespaced = info.namespaced if info is not None else kind not in OTHER_CLUSTER_SCOPED
    namespace = str(meta.get("namespace") or "default") if namespaced else ""
    return ObjectKey(
        group_of(str(body.get("apiVersion", ""))), kind, namespace, str(meta.get("name", ""))
    )


def ref(key: ObjectKey) -> str:
    """kubectl's `kind.group/name` for an object: `pod/web`, `deployment.apps/api`."""
    kind = key.kind.lower()
    return f"{kind}.{key.group}/{key.name}" if key.group else f"{kind}/{key.name}"


def from_crd(crd: Mapping[str, Any]) -> KindInfo:
    """The kind a CustomResourceDefinition serves (apiextensions.k8s.io/v1)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    versions = tuple(
        str(v.get("name", ""))
        for v in sorted(spec.get("versions") or (), key=lambda v: not v.get("storage"))
        if v.get("served", True)
    )
    return KindInfo(
        group=str(spec.get("group", "")),
        versions=versions,
        kind=str(names.get("kind", "")),
        plural=str(names.get("plural", "")),
        short_names=tuple(str(s) for s in names.get("shortNames") or ()),
        namespaced=spec.get("scope", "Namespaced") == "Namespaced",
        warning=CUSTOM_RESOURCE_WARNING,
    )


class Resolved(NamedTuple):
    info: KindInfo
    name: str  # "" unless the text was `kind/name`


def resolve(text: str, *, extra: Iterable[KindInfo] = ()) -> Resolved:
    """The kind `get TEXT` means: plural, singular, short name or kind, optionally qualified
    by a group (`deployments.apps`, `deploy.apps`) and followed by `/name`, case-insensitive
    as kubectl is. Unknown text raises UsageError with kubectl's message."""
    resource, _, name = text.partition("/")
    wanted = resource.strip().lower()
    kinds = (*BUILTIN, *extra)
    for candidate, group, version in _splits(wanted):
        for info in kinds:
            if group is not None and info.group != group:
                continue
            if version is not None and version not in info.versions:
                continue
            names = (info.plural, info.singular, *info.short_names)
            if candidate in names:
                return Resolved(info, name)
    raise UsageError(f'the server doesn\'t have a resource type "{resource}"')


def resolve_all(text: str, *, extra: Iterable[KindInfo] = ()) -> list[Resolved]:
    """`get pods,svc`: each comma-separated resource resolved (`all` is GET_ALL's kinds)."""
    out: list[Resolved] = []
    for part in text.split(","):
        if part.strip().lower() == "all":
            out.extend(Resolved(_BY_KIND_NAME[kind], "") for kind in GET_ALL)
        else:
            out.append(resolve(part, extra=extra))
    return out


def _splits(text: str) -> list[tuple[str, str | None, str | None]]:
    """`deployments.apps` -> try (`deployments.apps`, any group), then (`deployments`,
    `apps`); `deployments.v1.apps` -> (`deployments`, `apps`, version `v1`). A bare name
    matches any group, core first (the order of BUILTIN)."""
    out: list[tuple[str, str | None, str | None]] = [(text, None, None)] if text else []
    head, dot, rest = text.partition(".")
    if dot and head:
        out.append((head, rest, None))
        version, dot, group = rest.partition(".")
        if dot:
            out.append((head, group, version))
    return out
