"""API versions a Kubernetes release no longer serves, or serves deprecated.

The table is the Kubernetes Deprecated API Migration Guide
(https://kubernetes.io/docs/reference/using-api/deprecation-guide/, "Removed APIs by
release", v1.16 to v1.32), with the release that deprecated each version where the guide or
the release notes give it, and `v1 Endpoints` (deprecated in 1.33 in favour of EndpointSlice,
no removal planned: the API server's deprecation warning). `compute_api_status` answers for
one (apiVersion, kind) at one Kubernetes version. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

Version = tuple[int, int]


@dataclass(frozen=True, slots=True)
class ApiChange:
    api_version: str
    kinds: tuple[str, ...]
    removed: Version | None  # first release that does not serve it; None: not planned
    deprecated: Version  # first release that warns
    replacement: str  # "apps/v1", or a sentence when there is no replacement


def _c(api: str, kinds: str, removed: Version | None, deprecated: Version, repl: str) -> ApiChange:
    return ApiChange(api, tuple(kinds.split()), removed, deprecated, repl)


CHANGES: tuple[ApiChange, ...] = (
    # v1.16
    _c("extensions/v1beta1", "NetworkPolicy", (1, 16), (1, 9), "networking.k8s.io/v1"),
    _c("extensions/v1beta1", "PodSecurityPolicy", (1, 16), (1, 10), "policy/v1beta1"),
    _c("extensions/v1beta1", "DaemonSet Deployment ReplicaSet", (1, 16), (1, 9), "apps/v1"),
    _c("apps/v1beta1", "Deployment ReplicaSet StatefulSet", (1, 16), (1, 9), "apps/v1"),
    _c("apps/v1beta2", "DaemonSet Deployment ReplicaSet StatefulSet", (1, 16), (1, 9), "apps/v1"),
    # v1.22
    _c(
        "admissionregistration.k8s.io/v1beta1",
        "MutatingWebhookConfiguration ValidatingWebhookConfiguration",
        (1, 22),
        (1, 16),
        "admissionregistration.k8s.io/v1",
    ),
    _c(
        "apiextensions.k8s.io/v1beta1",
        "CustomResourceDefinition",
        (1, 22),
        (1, 16),
        "apiextensions.k8s.io/v1",
    ),
    _c(
        "apiregistration.k8s.io/v1beta1",
        "APIService",
        (1, 22),
        (1, 19),
        "apiregistration.k8s.io/v1",
    ),
    _c(
        "authentication.k8s.io/v1beta1", "TokenReview", (1, 22), (1, 19), "authentication.k8s.io/v1"
    ),
    _c(
        "authorization.k8s.io/v1beta1",
        "LocalSubjectAccessReview SelfSubjectAccessReview SubjectAccessReview",
        (1, 22),
        (1, 19),
        "authorization.k8s.io/v1",
    ),
    _c(
        "certificates.k8s.io/v1beta1",
        "CertificateSigningRequest",
        (1, 22),
        (1, 19),
        "certificates.k8s.io/v1",
    ),
    _c("coordination.k8s.io/v1beta1", "Lease", (1, 22), (1, 19), "coordination.k8s.io/v1"),
    _c("extensions/v1beta1", "Ingress", (1, 22), (1, 14), "networking.k8s.io/v1"),
    _c(
        "networking.k8s.io/v1beta1",
        "Ingress IngressClass",
        (1, 22),
        (1, 19),
        "networking.k8s.io/v1",
    ),
    _c(
        "rbac.authorization.k8s.io/v1beta1",
        "ClusterRole ClusterRoleBinding Role RoleBinding",
        (1, 22),
        (1, 17),
        "rbac.authorization.k8s.io/v1",
    ),
    _c("scheduling.k8s.io/v1beta1", "PriorityClass", (1, 22), (1, 14), "scheduling.k8s.io/v1"),
    _c(
        "storage.k8s.io/v1beta1",
        "CSIDriver CSINode StorageClass VolumeAttachment",
        (1, 22),
        (1, 19),
        "storage.k8s.io/v1",
    ),
    # v1.25
    _c("batch/v1beta1", "CronJob", (1, 25), (1, 21), "batch/v1"),
    _c("discovery.k8s.io/v1beta1", "EndpointSlice", (1, 25), (1, 21), "discovery.k8s.io/v1"),
    _c("events.k8s.io/v1beta1", "Event", (1, 25), (1, 22), "events.k8s.io/v1"),
    _c("autoscaling/v2beta1", "HorizontalPodAutoscaler", (1, 25), (1, 22), "autoscaling/v2"),
    _c("policy/v1beta1", "PodDisruptionBudget", (1, 25), (1, 21), "policy/v1"),
    _c(
        "policy/v1beta1",
        "PodSecurityPolicy",
        (1, 25),
        (1, 21),
        "no replacement: use Pod Security admission (namespace labels "
        "pod-security.kubernetes.io/enforce)",
    ),
    _c("node.k8s.io/v1beta1", "RuntimeClass", (1, 25), (1, 22), "node.k8s.io/v1"),
    # v1.26
    _c(
        "flowcontrol.apiserver.k8s.io/v1beta1",
        "FlowSchema PriorityLevelConfiguration",
        (1, 26),
        (1, 23),
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    _c("autoscaling/v2beta2", "HorizontalPodAutoscaler", (1, 26), (1, 23), "autoscaling/v2"),
    # v1.27
    _c("storage.k8s.io/v1beta1", "CSIStorageCapacity", (1, 27), (1, 24), "storage.k8s.io/v1"),
    # v1.29
    _c(
        "flowcontrol.apiserver.k8s.io/v1beta2",
        "FlowSchema PriorityLevelConfiguration",
        (1, 29),
        (1, 26),
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    # v1.32
    _c(
        "flowcontrol.apiserver.k8s.io/v1beta3",
        "FlowSchema PriorityLevelConfiguration",
        (1, 32),
        (1, 29),
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    # deprecated, still served (the API server's warning)
    _c("v1", "Endpoints", None, (1, 33), "discovery.k8s.io/v1 EndpointSlice"),
)

_BY_KEY: dict[tuple[str, str], ApiChange] = {
    (change.api_version, kind): change for change in CHANGES for kind in change.kinds
}


@dataclass(frozen=True, slots=True)
class ApiStatus:
    removed: bool
    message: str


def parse_version(text: str) -> Version:
    """`1.30.0` or `1.30` -> (1, 30)."""
    major, minor = text.removeprefix("v").split(".")[:2]
    return int(major), int(minor)


def _show(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


def _replacement(change: ApiChange, kind: str) -> str:
    if "/" in change.replacement.split(" ")[0] or change.replacement == "v1":
        return f"use {change.replacement}" + ("" if " " in change.replacement else f" {kind}")
    return change.replacement


def compute_api_status(api_version: str, kind: str, *, version: Version) -> ApiStatus | None:
    """Whether Kubernetes `version` serves `kind` in `api_version`: None when it does
    without a word; else removed (an error) or deprecated (a warning), with the message."""
    change = _BY_KEY.get((api_version, kind))
    if change is None or version < change.deprecated:
        return None
    what = f"{kind} {api_version}"
    use = _replacement(change, kind)
    if change.removed is not None and version >= change.removed:
        return ApiStatus(
            True,
            f"{what} is not served since Kubernetes {_show(change.removed)} "
            f"(asked for {_show(version)}): {use}",
        )
    until = f"removed in {_show(change.removed)}" if change.removed else "no removal planned yet"
    return ApiStatus(
        False, f"{what} is deprecated since Kubernetes {_show(change.deprecated)}, {until}: {use}"
    )
