"""Workloads: a Deployment becomes its replica Pods, named and labelled as Kubernetes does.

`services.play` calls `replica_pods` for every Deployment it plays; `down`, a re-play and
`generate kube` find a Deployment's pods again with `owns` (the pod's controlling
ownerReference is the ReplicaSet this module names). What the controllers do, in pure code:

- the ReplicaSet is `<deployment>-<pod-template-hash>`; the hash is FNV-32a over the pod
  template, its decimal value rendered with the apiserver's safe-encode alphabet
  (controller.ComputeHash, rand.SafeEncodeString). Kubernetes hashes the defaulted Go struct
  as spew prints it; kubeplay hashes the defaulted template (`kube.defaults`) serialised as
  canonical JSON, so the value has the same form and stability (an explicit default changes
  nothing) but differs from a cluster's;
- each pod is `<replicaset>-<5 characters>` (generateName, the apiserver's
  SimpleNameGenerator: base cut to 58 characters, random characters from the same alphabet),
  labelled with the template's labels plus `pod-template-hash`, owned by the ReplicaSet.

Rolling updates, scaling and replica healing are not here (the supervisor's): a Deployment
played again with `--replace` replaces all its pods. No I/O, no clock: the random
characters come from the caller.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from kubeplay.kube import defaults
from kubeplay.kube.objects import KubeObject

# k8s.io/apimachinery/pkg/util/rand: no vowels, so no words are formed.
ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
RANDOM_LENGTH = 5
# apiserver names.SimpleNameGenerator: maxNameLength (63) - randomLength.
MAX_GENERATED_NAME_LENGTH = 63 - RANDOM_LENGTH
TEMPLATE_HASH_LABEL = "pod-template-hash"

# The workload kinds `play` turns into pods, with their apiVersion.
KINDS: dict[str, str] = {"Deployment": "apps/v1"}
# The kind of the object between the workload and its pods (the pods' controller).
CONTROLLERS: dict[str, str] = {"Deployment": "ReplicaSet"}
# A namespace for uuid5: a ReplicaSet's uid follows from its Deployment's uid and hash.
_UID_NAMESPACE = "5b0e3a64-3c2e-4e0f-9a55-6b75706c6179"

_FNV32_OFFSET = 0x811C9DC5
_FNV32_PRIME = 0x01000193


def fnv32a(data: bytes) -> int:
    """hash/fnv New32a: the 32-bit FNV-1a hash."""
    value = _FNV32_OFFSET
    for byte in data:
        value = ((value ^ byte) * _FNV32_PRIME) & 0xFFFFFFFF
    return value


def safe_encode(text: str) -> str:
    """rand.SafeEncodeString: each character mapped into the alphabet by its code point."""
    return "".join(ALPHANUMS[ord(ch) % len(ALPHANUMS)] for ch in text)


def template_hash(template: Mapping[str, Any]) -> str:
    """The pod-template-hash of a pod template, defaulted first as the API server stores it
    (so writing a default explicitly keeps the hash; see the module docstring)."""
    defaulted = defaults.default_pod_template(dict(template))
    data = json.dumps(defaulted, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return safe_encode(str(fnv32a(data.encode())))


def generated_name(base: str, suffix: str) -> str:
    """The name the apiserver makes from generateName `base` and random `suffix`."""
    return base[:MAX_GENERATED_NAME_LENGTH] + suffix


@dataclass(frozen=True, slots=True)
class Workload:
    """A workload as played: its manifest, and the uid kubeplay gave it."""

    kind: str
    namespace: str
    name: str
    uid: str
    manifest: Mapping[str, Any]

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def replicas(self) -> int:
        spec = self.manifest.get("spec") or {}
        return 1 if spec.get("replicas") is None else int(spec["replicas"])

    @property
    def template(self) -> Mapping[str, Any]:
        return (self.manifest.get("spec") or {}).get("template") or {}

    @property
    def template_hash(self) -> str:
        return template_hash(self.template)

    @property
    def controller_name(self) -> str:
        """The ReplicaSet: `<deployment>-<pod-template-hash>`."""
        return f"{self.name}-{self.template_hash}"

    @property
    def controller_uid(self) -> str:
        import uuid  # only finding or making replicas needs it: keep `get`/`generate` lean

        return str(uuid.uuid5(uuid.UUID(_UID_NAMESPACE), f"{self.uid}/{self.template_hash}"))

    def owner_reference(self) -> dict[str, Any]:
        """The ownerReference a pod of this workload carries (to its ReplicaSet)."""
        return {
            "apiVersion": KINDS[self.kind],
            "kind": CONTROLLERS[self.kind],
            "name": self.controller_name,
            "uid": self.controller_uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


def workload_of(obj: KubeObject, *, uid: str) -> Workload:
    return Workload(
        kind=obj.kind, namespace=obj.namespace, name=obj.name, uid=uid, manifest=obj.body
    )


def controller_of(pod: Mapping[str, Any]) -> Mapping[str, Any]:
    """A pod's controlling ownerReference ({} when it has none)."""
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller"):
            return dict(ref)
    return {}


def owns(workload: Workload, pod: Mapping[str, Any]) -> bool:
    """Whether `pod` (a manifest as stored) is one of `workload`'s replicas: its controller is
    the workload's ReplicaSet (name and uid, the uid following from the workload's)."""
    ref = controller_of(pod)
    return bool(ref) and (ref.get("kind"), ref.get("name"), ref.get("uid")) == (
        CONTROLLERS[workload.kind],
        workload.controller_name,
        workload.controller_uid,
    )


def replica_pods(
    obj: KubeObject,
    *,
    uid: str,
    taken: Collection[str],
    random_suffix: Callable[[], str],
) -> list[KubeObject]:
    """The Pods a Deployment's ReplicaSet would create, as KubeObjects pointing at the
    Deployment's document (errors about a replica name the file that made it).

    `taken`: pod names already used in the namespace; a generated name that clashes is drawn
    again, as the apiserver retries a generateName conflict. `random_suffix()` returns
    RANDOM_LENGTH characters of ALPHANUMS.
    """
    workload = workload_of(obj, uid=uid)
    template = workload.template
    tmeta = template.get("metadata") or {}
    base = f"{workload.controller_name}-"
    used = set(taken)
    pods: list[KubeObject] = []
    for _ in range(workload.replicas):
        name = generated_name(base, random_suffix())
        while name in used:
            name = generated_name(base, random_suffix())
        used.add(name)
        meta: dict[str, Any] = {"name": name, "generateName": base}
        if (obj.body.get("metadata") or {}).get("namespace"):
            meta["namespace"] = workload.namespace
        meta["labels"] = {
            **(tmeta.get("labels") or {}),
            TEMPLATE_HASH_LABEL: workload.template_hash,
        }
        if tmeta.get("annotations"):
            meta["annotations"] = dict(tmeta["annotations"])
        meta["ownerReferences"] = [workload.owner_reference()]
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": meta,
            "spec": copy.deepcopy(dict(template.get("spec") or {})),
        }
        pods.append(KubeObject(body, source=obj.source, doc_index=obj.doc_index, line=obj.line))
    return pods


# --- rules the API server checks for a Deployment (apps/validation) ----------------------------


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelectorAsSelector(selector).Matches(labels)."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or ():
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or ()
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def check_rules(obj: KubeObject) -> list[tuple[str, str]]:
    """(field path, message) for what the API server rejects in a workload's own fields."""
    if obj.kind not in ("Deployment", "ReplicaSet"):
        return []
    spec = obj.body.get("spec") or {}
    problems: list[tuple[str, str]] = []
    for field in ("replicas", "minReadySeconds", "revisionHistoryLimit"):
        value = spec.get(field)
        if isinstance(value, int) and value < 0:
            problems.append((f"spec.{field}", f"invalid value {value}: must be 0 or more"))
    deadline, ready = spec.get("progressDeadlineSeconds"), spec.get("minReadySeconds") or 0
    if isinstance(deadline, int) and deadline <= ready:
        problems.append(("spec.progressDeadlineSeconds", "must be greater than minReadySeconds"))
    selector = spec.get("selector") or {}
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        problems.append(("spec.selector", f"empty selector is invalid for {obj.kind.lower()}"))
    elif not selector_matches(selector, labels):
        problems.append(
            ("spec.template.metadata.labels", "`selector` does not match template `labels`")
        )
    for i, expr in enumerate(selector.get("matchExpressions") or ()):
        op, values = expr.get("operator"), expr.get("values") or ()
        path = f"spec.selector.matchExpressions[{i}]"
        if op in ("In", "NotIn") and not values:
            problems.append((f"{path}.values", f"must be specified when `operator` is '{op}'"))
        elif op in ("Exists", "DoesNotExist") and values:
            problems.append((f"{path}.values", f"may not be specified when `operator` is '{op}'"))
        elif op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            problems.append((f"{path}.operator", f"not a valid selector operator: {op!r}"))
    pod_spec = template.get("spec") or {}
    policy = pod_spec.get("restartPolicy")
    if policy not in (None, "Always"):
        problems.append(
            (
                "spec.template.spec.restartPolicy",
                f"unsupported value {policy!r}: must be Always",
            )
        )
    if pod_spec.get("activeDeadlineSeconds") is not None:
        problems.append(
            (
                "spec.template.spec.activeDeadlineSeconds",
                "forbidden: activeDeadlineSeconds in ReplicaSet is not supported",
            )
        )
    return problems
