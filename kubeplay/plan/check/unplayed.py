"""What kubeplay did not do here: every warning `play` gives (kinds it does not play, fields it
ignores on one host or does not implement yet) as what the cluster will do with it.

The warnings themselves come from `kube.validate.collect_warnings` (the tables of
`kube.fields`), so `check` and `play` can never disagree on what was ignored; this module
adds the cluster's side. Pure.
"""

from __future__ import annotations

import re

from kubeplay.kube import fields
from kubeplay.kube.objects import Warning

# What the cluster does with a kind kubeplay stores but does not run (the workload kinds,
# Services and EndpointSlices are played, so they have no entry).
KINDS: dict[str, str] = {
    "Ingress": "the cluster's ingress controller (if one runs) routes outside HTTP(S) to "
    "Services by host and path",
    "NetworkPolicy": "the cluster's network plugin (if it enforces policies) drops the pod "
    "traffic the policy does not allow: what connected here may be refused there",
    "HorizontalPodAutoscaler": "the autoscaler changes the target's replicas with its metrics",
    "PodDisruptionBudget": "voluntary evictions (node drains) keep this many pods available",
    "ServiceAccount": "pods may run as it and get its API token",
    "Role": "RBAC grants these permissions in the namespace",
    "RoleBinding": "RBAC grants the role to these subjects",
    "ClusterRole": "RBAC grants these permissions",
    "ClusterRoleBinding": "RBAC grants the role to these subjects in every namespace",
    "LimitRange": "pods without requests/limits get these defaults; pods outside the range are "
    "rejected",
    "ResourceQuota": "objects beyond the namespace's quota are rejected",
    "PriorityClass": "pods naming it get its priority",
}
_KIND_DEFAULT = "the cluster creates it and its controllers act on it"

# What the cluster does with a field kubeplay ignores (pattern as kube.fields writes it).
FIELDS: dict[str, str] = {
    "spec.nodeSelector": "the scheduler places the pod only on nodes with these labels "
    "(Pending when none has them)",
    "spec.affinity": "the scheduler honours node and pod (anti-)affinity; required terms can "
    "leave the pod Pending",
    "spec.tolerations": "the pod may be scheduled onto, and stay on, nodes with matching taints",
    "spec.topologySpreadConstraints": "the scheduler spreads the pods over nodes or zones; "
    "DoNotSchedule can leave pods Pending",
    "spec.priorityClassName": "the PriorityClass must exist (else the pod is rejected); it "
    "sets the pod's priority for scheduling and preemption",
    "spec.priority": "admission sets it from priorityClassName; a different value is rejected",
    "spec.preemptionPolicy": "whether the pod may preempt lower-priority pods",
    "spec.schedulerName": "that scheduler must run in the cluster, else the pod stays Pending",
    "spec.serviceAccountName": "the pod runs as this ServiceAccount (which must exist) and "
    "gets its API token mounted",
    "spec.serviceAccount": "the pod runs as this ServiceAccount (which must exist)",
    "spec.automountServiceAccountToken": "decides whether the API token is mounted at "
    "/var/run/secrets/kubernetes.io/serviceaccount",
    "spec.nodeName": "binds the pod to that node, bypassing the scheduler",
    "spec.runtimeClassName": "the RuntimeClass must exist; the node runs the pod with its handler",
    "spec.readinessGates": "the pod is Ready only once these conditions are True",
    "spec.imagePullSecrets": "the kubelet pulls private images with these Secrets",
    "spec.overhead": "set by RuntimeClass admission and counted when scheduling",
    "spec.schedulingGates": "the pod stays Pending (SchedulingGated) until every gate is removed",
    "metadata.ownerReferences": "the garbage collector deletes the object with its owner",
    "metadata.finalizers": "deletion waits until a controller removes each finalizer",
    "metadata.generateName": "the API server makes a unique name (kubectl create only)",
}
# Fields kubeplay ignores by design (no such thing on one host), whatever its message says.
_CLUSTER_ONLY = ("metadata.ownerReferences", "metadata.generateName")
_INDEX = re.compile(r"\[\d+\]")


def pattern_of(kind: str, path: str) -> str:
    """The table pattern of a warned path: indices as [*], a workload's template as a Pod's."""
    if kind != "Pod" and path.startswith("spec.template.spec."):
        path = path.removeprefix("spec.template.")
    return _INDEX.sub("[*]", path)


def describe(warning: Warning) -> tuple[str, str]:
    """(rule id, message) for one of play's warnings."""
    if warning.path == "kind":
        what = KINDS.get(warning.kind, _KIND_DEFAULT)
        return "kind-not-played", f"kubeplay did not play this {warning.kind}; {what}"
    pattern = pattern_of(warning.kind, warning.path)
    note = FIELDS.get(pattern)
    if warning.message in (fields.NO_EFFECT, fields.SET_BY_SERVER) or pattern in _CLUSTER_ONLY:
        cluster = note or (
            "the API server sets it and ignores the value written"
            if warning.message == fields.SET_BY_SERVER
            else "the cluster acts on it"
        )
        return "field-cluster-only", f"kubeplay: {warning.message}; cluster: {cluster}"
    cluster = note or "the cluster applies it"
    return (
        "field-not-played",
        f"kubeplay: {warning.message}; cluster: {cluster}; this run did not test it",
    )
