"""Workloads: a Deployment becomes its replica Pods, named and labelled as Kubernetes does.

The Deployment and ReplicaSet controllers (`engine.controllers`) name ReplicaSets and pods
with `template_hash` and `generated_name`, and give a Deployment's ReplicaSet the uid
`Workload.controller_uid`, so `generate kube` finds a Deployment's pods again with `owns`
(the pod's controlling ownerReference is the ReplicaSet this module names); `replica_pods`
is the same naming as a pure function (table tests). In pure code:

- the ReplicaSet is `<deployment>-<pod-template-hash>`; the hash is FNV-32a over the pod
  template, its decimal value rendered with the apiserver's safe-encode alphabet
  (controller.ComputeHash, rand.SafeEncodeString). Kubernetes hashes the defaulted Go struct
  as spew prints it; kubeplay hashes the defaulted template (`kube.defaults`) serialised as
  canonical JSON, so the value has the same form and stability (an explicit default changes
  nothing) but differs from a cluster's;
- each pod is `<replicaset>-<5 characters>` (generateName, the apiserver's
  SimpleNameGenerator: base cut to 58 characters, random characters from the same alphabet),
  labelled with the template's labels plus `pod-template-hash`, owned by the ReplicaSet.

Rolling updates, scaling and replica healing are the controllers' (`plan.deployment`,
`plan.replicaset`). No I/O, no clock: the random characters come from the caller.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from kubeplay.errors import AlreadyExistsError
from kubeplay.kube import defaults
from kubeplay.kube.objects import KubeObject

# k8s.io/apimachinery/pkg/util/rand: no vowels, so no words are formed.
ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
RANDOM_LENGTH = 5
# apiserver names.SimpleNameGenerator: maxNameLength (63) - randomLength.
MAX_GENERATED_NAME_LENGTH = 63 - RANDOM_LENGTH
TEMPLATE_HASH_LABEL = "pod-template-hash"
# The ReplicaSet controller's burstReplicas: at most this many pods made (or deleted) in one
# sync, however large `replicas` is (int32: up to 2147483647).
BURST_REPLICAS = 500
# The apiserver's RetryGenerateName: a generated name that clashes is drawn again, 8 times.
GENERATE_NAME_ATTEMPTS = 8

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


def template_hash(template: Mapping[str, Any], collision_count: int | None = None) -> str:
    """The pod-template-hash of a pod template, defaulted first as the API server stores it
    (so writing a default explicitly keeps the hash; see the module docstring). A Deployment's
    status.collisionCount, when set, is hashed after it as 4 little-endian bytes
    (controller.ComputeHash), so a name another template holds is left for a new one."""
    defaulted = defaults.default_pod_template(dict(template))
    data = json.dumps(defaulted, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    raw = data.encode()
    if collision_count is not None:
        raw += (collision_count & 0xFFFFFFFF).to_bytes(4, "little")
    return safe_encode(str(fnv32a(raw)))


def same_template(replicaset_template: Mapping[str, Any], template: Mapping[str, Any]) -> bool:
    """EqualIgnoreHash: a ReplicaSet's template is this one but for its pod-template-hash
    label (both defaulted), whatever collisionCount named it."""
    meta = dict(replicaset_template.get("metadata") or {})
    labels = dict(meta.get("labels") or {})
    labels.pop(TEMPLATE_HASH_LABEL, None)
    if labels:
        meta["labels"] = labels
    else:
        meta.pop("labels", None)
    return template_hash({**replicaset_template, "metadata": meta}) == template_hash(template)


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


def _free_name(base: str, used: Collection[str], random_suffix: Callable[[], str]) -> str:
    for _ in range(GENERATE_NAME_ATTEMPTS):
        name = generated_name(base, random_suffix())
        if name not in used:
            return name
    raise AlreadyExistsError(
        f"pod {name}: already exists (a name generated from {base!r} "
        f"{GENERATE_NAME_ATTEMPTS} times was taken each time)"
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

    At most BURST_REPLICAS pods, as one sync of the ReplicaSet controller makes.
    `taken`: pod names already used in the namespace; a generated name that clashes is drawn
    again, as the apiserver retries a generateName conflict (GENERATE_NAME_ATTEMPTS in all,
    then AlreadyExistsError). `random_suffix()` returns RANDOM_LENGTH characters of ALPHANUMS.
    """
    workload = workload_of(obj, uid=uid)
    template = workload.template
    tmeta = template.get("metadata") or {}
    base = f"{workload.controller_name}-"
    used = set(taken)
    pods: list[KubeObject] = []
    for _ in range(min(workload.replicas, BURST_REPLICAS)):
        name = _free_name(base, used, random_suffix)
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


def statefulset_member(set_name: str, pod_name: str) -> bool:
    """The StatefulSet controller's isMemberOf: the pod is named `<set>-<ordinal>`."""
    prefix, sep, ordinal = pod_name.rpartition("-")
    return (
        bool(sep)
        and prefix == set_name
        and ordinal.isascii()
        and ordinal.isdigit()
        and str(int(ordinal)) == ordinal
    )


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
    if obj.kind in ("StatefulSet", "DaemonSet"):
        return set_rules(obj)
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


def with_claim_volumes(pod_spec: Mapping[str, Any], claims: Mapping[str, str]) -> dict[str, Any]:
    """A StatefulSet pod's spec (updateStorage): a persistentVolumeClaim volume per claim
    template (name -> claim name), replacing a volume of the same name, then the others."""
    out = copy.deepcopy(dict(pod_spec))
    volumes: list[Any] = [
        {"name": t, "persistentVolumeClaim": {"claimName": c}} for t, c in claims.items()
    ]
    volumes += [
        v
        for v in out.get("volumes") or ()
        if not isinstance(v, dict) or v.get("name") not in claims
    ]
    if volumes:
        out["volumes"] = volumes
    return out


def statefulset_pod_spec(body: Mapping[str, Any]) -> Any:
    """The spec of the pods a StatefulSet makes, as far as validation is concerned: its
    template's, with the volumeClaimTemplates as volumes (containers mount them by name)."""
    spec = body.get("spec") or {}
    pod_spec = (spec.get("template") or {}).get("spec")
    templates = [t for t in spec.get("volumeClaimTemplates") or () if isinstance(t, Mapping)]
    if not isinstance(pod_spec, Mapping) or not templates:
        return pod_spec
    names = [str((t.get("metadata") or {}).get("name") or "") for t in templates]
    owner = str((body.get("metadata") or {}).get("name") or "")
    return with_claim_volumes(pod_spec, {n: f"{n}-{owner}-0" for n in names if n})


# --- StatefulSet and DaemonSet (apps/validation ValidateStatefulSetSpec, ValidateDaemonSetSpec)


def _one_of(path: str, value: Any, allowed: tuple[str, ...]) -> list[tuple[str, str]]:
    if value is None or value in allowed:
        return []
    shown = ", ".join(f'"{a}"' for a in allowed)
    return [(path, f"Unsupported value: {value!r}: supported values: {shown}")]


def _int_or_percent(value: Any) -> int | None:
    """The value of an int-or-percent field when it is zero or positive (None: not
    understood; the schema checks the type)."""
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        return int(value[:-1])
    return None


def set_rules(obj: KubeObject) -> list[tuple[str, str]]:
    """What the API server rejects in a StatefulSet's or a DaemonSet's own fields: negative
    counts, a selector that is empty or does not match the template, a restartPolicy other
    than Always, unknown policies, a rolling update that may neither surge nor be
    unavailable."""
    spec = obj.body.get("spec") or {}
    kind = obj.kind
    problems: list[tuple[str, str]] = []
    counts = ["minReadySeconds", "revisionHistoryLimit"]
    if kind == "StatefulSet":
        counts.insert(0, "replicas")
    for name in counts:
        value = spec.get(name)
        if isinstance(value, int) and value < 0:
            problems.append((f"spec.{name}", f"invalid value {value}: must be 0 or more"))
    selector = spec.get("selector") or {}
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        problems.append(("spec.selector", f"empty selector is invalid for {kind.lower()}"))
    elif not selector_matches(selector, labels):
        problems.append(
            ("spec.template.metadata.labels", "`selector` does not match template `labels`")
        )
    pod_spec = template.get("spec") or {}
    policy = pod_spec.get("restartPolicy")
    if policy not in (None, "Always"):
        problems.append(
            ("spec.template.spec.restartPolicy", f"unsupported value {policy!r}: must be Always")
        )
    if pod_spec.get("activeDeadlineSeconds") is not None:
        problems.append(
            (
                "spec.template.spec.activeDeadlineSeconds",
                f"forbidden: activeDeadlineSeconds in {kind} is not Supported",
            )
        )
    strategy = spec.get("updateStrategy") or {}
    kind_of = strategy.get("type")
    problems += _one_of("spec.updateStrategy.type", kind_of, ("RollingUpdate", "OnDelete"))
    rolling = strategy.get("rollingUpdate")
    if kind_of == "OnDelete" and rolling is not None:
        problems.append(
            (
                "spec.updateStrategy.rollingUpdate",
                "only allowed for updateStrategy 'RollingUpdate'",
            )
        )
    rolling = rolling if isinstance(rolling, dict) else {}
    if kind == "StatefulSet":
        problems += _one_of(
            "spec.podManagementPolicy",
            spec.get("podManagementPolicy"),
            ("OrderedReady", "Parallel"),
        )
        partition = rolling.get("partition")
        if isinstance(partition, int) and partition < 0:
            problems.append(
                (
                    "spec.updateStrategy.rollingUpdate.partition",
                    f"invalid value {partition}: must be 0 or more",
                )
            )
        start = (spec.get("ordinals") or {}).get("start")
        if isinstance(start, int) and start < 0:
            problems.append(("spec.ordinals.start", f"invalid value {start}: must be 0 or more"))
        retention = spec.get("persistentVolumeClaimRetentionPolicy") or {}
        for when in ("whenDeleted", "whenScaled"):
            problems += _one_of(
                f"spec.persistentVolumeClaimRetentionPolicy.{when}",
                retention.get(when),
                ("Retain", "Delete"),
            )
        for i, claim in enumerate(spec.get("volumeClaimTemplates") or ()):
            if not (claim.get("metadata") or {}).get("name"):
                problems.append(
                    (f"spec.volumeClaimTemplates[{i}].metadata.name", "Required value: name")
                )
    else:
        surge = _int_or_percent(rolling.get("maxSurge", 0))
        unavailable = _int_or_percent(rolling.get("maxUnavailable", 1))
        if kind_of in (None, "RollingUpdate") and surge == 0 and unavailable == 0:
            problems.append(
                (
                    "spec.updateStrategy.rollingUpdate.maxUnavailable",
                    "Invalid value: may not be 0 when `maxSurge` is 0",
                )
            )
    return problems
