"""Hostnames: the kubelet's limit on a pod's FQDN hostname (setHostnameAsFQDN), checked early.

`validate.check_rules` calls `check_fqdn` for Pods and Deployments. The API server accepts any
`setHostnameAsFQDN`; the kubelet then fails the pod's sandbox when `<hostname>.<subdomain>.
<namespace>.svc.<cluster domain>` does not fit the kernel's 64-byte nodename
(util.GetNodenameForKernel) and the pod stays ContainerCreating. kubeplay knows the name when
it reads the file, so it refuses the play with the kubelet's message before anything is made.
A Deployment's pod name is the ReplicaSet's generateName plus 5 characters, so its length is
known too. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubeplay.kube import workloads
from kubeplay.kube.objects import KubeObject

CLUSTER_DOMAIN = "cluster.local"
# The Linux nodename field: 64 characters (65 with the terminating NUL).
FQDN_MAX_LENGTH = 64
# kubelet truncatePodHostnameIfNeeded: a pod name used as hostname is cut to 63 characters.
HOSTNAME_MAX_LENGTH = 63


def pod_hostname(name: str, spec: Mapping[str, Any]) -> str:
    """The hostname the kubelet gives a pod: spec.hostname, else the name cut to 63."""
    if spec.get("hostname"):
        return str(spec["hostname"])
    if len(name) <= HOSTNAME_MAX_LENGTH:
        return name
    return name[:HOSTNAME_MAX_LENGTH].rstrip("-.")


def fqdn_problem(hostname: str, *, subdomain: str, namespace: str) -> str | None:
    """The kubelet's error when the FQDN is longer than the kernel takes, else None."""
    fqdn = f"{hostname}.{subdomain}.{namespace}.svc.{CLUSTER_DOMAIN}"
    if len(fqdn) <= FQDN_MAX_LENGTH:
        return None
    return (
        "failed to construct FQDN from pod hostname and cluster domain, "
        f"FQDN {fqdn} is too long ({FQDN_MAX_LENGTH} characters is the max, "
        f"{len(fqdn)} characters requested)"
    )


def check_fqdn(obj: KubeObject) -> list[tuple[str, str]]:
    """(path, message) when a Pod's, or a Deployment's pods', FQDN hostname is too long."""
    if obj.kind == "Pod":
        spec, prefix, name = obj.body.get("spec") or {}, "spec", obj.name
    elif obj.kind in workloads.KINDS:
        template = (obj.body.get("spec") or {}).get("template") or {}
        spec, prefix = template.get("spec") or {}, "spec.template.spec"
        # The replica's name: generateName `<replicaset>-` (cut to 58) + 5 random characters.
        base = f"{workloads.workload_of(obj, uid='').controller_name}-"
        name = workloads.generated_name(base, "x" * workloads.RANDOM_LENGTH)
    else:
        return []
    if not isinstance(spec, dict) or not spec.get("setHostnameAsFQDN"):
        return []
    if not spec.get("subdomain") or spec.get("hostNetwork"):
        return []  # no domain: the hostname alone; hostNetwork: the node's name
    problem = fqdn_problem(
        pod_hostname(name, spec), subdomain=str(spec["subdomain"]), namespace=obj.namespace
    )
    return [(f"{prefix}.setHostnameAsFQDN", problem)] if problem else []
