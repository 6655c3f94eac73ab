"""Reference rules across the file set: what a pod uses that no file defines, Services that
select no pod, workloads whose selector misses their own template.

A cluster may already have a ConfigMap, Secret, claim or ServiceAccount the files do not
define, so those are warnings; a workload's selector that does not match its template is an
error of the API server. Pure.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kubeplay.kube import workloads

# Kinds whose `spec.selector` must match `spec.template.metadata.labels` (apps/v1).
SELECTOR_KINDS = ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet")


@dataclass(frozen=True, slots=True)
class Reference:
    kind: str  # ConfigMap, Secret, PersistentVolumeClaim, ServiceAccount
    name: str
    path: str
    use: str  # how the pod uses it, for the message


def _d(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def compute_references(spec: Mapping[str, Any], prefix: str) -> Iterator[Reference]:
    """Every non-optional reference of a pod spec to a namespaced object, in spec order."""
    for i, vol in enumerate(_l(spec.get("volumes"))):
        vol = _d(vol)
        path = f"{prefix}.volumes[{i}]"
        cm, secret, claim = (
            _d(vol.get("configMap")),
            _d(vol.get("secret")),
            vol.get("persistentVolumeClaim"),
        )
        if cm.get("name") and not cm.get("optional"):
            yield Reference("ConfigMap", str(cm["name"]), f"{path}.configMap.name", "volume")
        if secret.get("secretName") and not secret.get("optional"):
            yield Reference(
                "Secret", str(secret["secretName"]), f"{path}.secret.secretName", "volume"
            )
        if _d(claim).get("claimName"):
            yield Reference(
                "PersistentVolumeClaim",
                str(_d(claim)["claimName"]),
                f"{path}.persistentVolumeClaim.claimName",
                "volume",
            )
        for j, source in enumerate(_l(_d(vol.get("projected")).get("sources"))):
            for key, kind in (("configMap", "ConfigMap"), ("secret", "Secret")):
                ref = _d(_d(source).get(key))
                if ref.get("name") and not ref.get("optional"):
                    spath = f"{path}.projected.sources[{j}].{key}.name"
                    yield Reference(kind, str(ref["name"]), spath, "projected volume")
    for group in ("initContainers", "containers"):
        for i, ctr in enumerate(_l(spec.get(group))):
            cpath = f"{prefix}.{group}[{i}]"
            for j, env in enumerate(_l(_d(ctr).get("env"))):
                value_from = _d(_d(env).get("valueFrom"))
                for key, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                    ref = _d(value_from.get(key))
                    if ref.get("name") and not ref.get("optional"):
                        epath = f"{cpath}.env[{j}].valueFrom.{key}.name"
                        yield Reference(kind, str(ref["name"]), epath, "env")
            for j, env_from in enumerate(_l(_d(ctr).get("envFrom"))):
                for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                    ref = _d(_d(env_from).get(key))
                    if ref.get("name") and not ref.get("optional"):
                        epath = f"{cpath}.envFrom[{j}].{key}.name"
                        yield Reference(kind, str(ref["name"]), epath, "envFrom")
    for i, secret in enumerate(_l(spec.get("imagePullSecrets"))):
        if _d(secret).get("name"):
            path = f"{prefix}.imagePullSecrets[{i}].name"
            yield Reference("Secret", str(_d(secret)["name"]), path, "imagePullSecrets")
    for field in ("serviceAccountName", "serviceAccount"):
        account = spec.get(field)
        if account and account != "default":  # every namespace has `default`
            yield Reference("ServiceAccount", str(account), f"{prefix}.{field}", "runs as")
            break


_RULE_OF = {
    "ConfigMap": "ref-configmap-missing",
    "Secret": "ref-secret-missing",
    "PersistentVolumeClaim": "ref-pvc-missing",
    "ServiceAccount": "ref-serviceaccount-missing",
}
_EFFECT = {
    "volume": "the pod stays ContainerCreating (FailedMount)",
    "projected volume": "the pod stays ContainerCreating (FailedMount)",
    "env": "the container fails with CreateContainerConfigError",
    "envFrom": "the container fails with CreateContainerConfigError",
    "imagePullSecrets": "private images cannot be pulled (ErrImagePull)",
    "runs as": "the pod is not created (error looking up service account)",
}
_CLAIM_EFFECT = "the pod stays Pending (unbound claim); kubeplay made a volume on first use"


def rule_of(ref: Reference) -> str:
    return _RULE_OF[ref.kind]


def describe_missing(ref: Reference, namespace: str) -> str:
    effect = _CLAIM_EFFECT if ref.kind == "PersistentVolumeClaim" else _EFFECT[ref.use]
    return (
        f"{ref.kind} {namespace}/{ref.name} is not defined in these files: unless the cluster "
        f"has it, {effect}"
    )


def selector_mismatch(kind: str, body: Mapping[str, Any]) -> tuple[str, str] | None:
    """(path, message) when an apps/v1 workload's selector does not match its template."""
    if kind not in SELECTOR_KINDS:
        return None
    spec = _d(body.get("spec"))
    selector = _d(spec.get("selector"))
    labels = _d(_d(_d(spec.get("template")).get("metadata")).get("labels"))
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        return "spec.selector", f"empty selector is invalid for {kind.lower()}"
    exprs = selector.get("matchExpressions")
    labels_ok = isinstance(selector.get("matchLabels") or {}, dict)
    exprs_ok = exprs is None or (
        isinstance(exprs, list)
        and all(
            isinstance(e, dict)
            and isinstance(e.get("key"), str)
            and isinstance(e.get("values") or [], list)
            for e in exprs
        )
    )
    if not (labels_ok and exprs_ok):
        return None  # a malformed selector is the schema's error, not this rule's
    if workloads.selector_matches(selector, {str(k): str(v) for k, v in labels.items()}):
        return None
    return (
        "spec.template.metadata.labels",
        "`selector` does not match template `labels`: the API server rejects the "
        f"{kind} (selector {_show_selector(selector)}, labels {_show_labels(labels)})",
    )


def _show_labels(labels: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{k}={v}" for k, v in labels.items()) + "}"


def _show_selector(selector: Mapping[str, Any]) -> str:
    parts = [f"{k}={v}" for k, v in _d(selector.get("matchLabels")).items()]
    parts += [
        f"{_d(e).get('key')} {_d(e).get('operator')} {_l(_d(e).get('values'))}"
        for e in _l(selector.get("matchExpressions"))
    ]
    return "{" + ", ".join(parts) + "}"


def service_selects(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    """A Service's selector (a plain map) selects pods whose labels contain all of it."""
    return all(str(labels.get(k)) == str(v) and k in labels for k, v in selector.items())
