"""generate kube: what was played, back as clean manifests a user can keep, replay or apply.

`services.generate` reads the store and calls `generate_kube` with the namespace's pods,
workloads and stored objects; this module decides everything else, purely:

- which objects the names mean (`web`, `pod/web`, `deployment/web`, `configmap/x`...; no name:
  every object of the namespace, or of every namespace). A pod a Deployment made stands for
  that Deployment;
- each object comes back from its manifest as played (the store keeps it), cleaned of what is
  runtime-only: status, server-set metadata (uid, resourceVersion, creationTimestamp...),
  kubeplay's own labels and annotations (`kubeplay.io/...`), and the controller's marks on a
  replica (pod-template-hash, ownerReferences, generateName). Everything else is kept as it was
  written, so the output plays back to the same pods;
- `--type` converts between Pod, Deployment, DaemonSet and Job through the pod template;
  `--replicas` sets a Deployment's; `--service` adds a Service selecting the pods for their
  container ports (NodePort: host ports become node ports where the range allows);
- the ConfigMaps, Secrets and PVCs the pods reference follow, in apply order; Secrets only
  when asked, otherwise a warning lists those left out. A claim a pod uses that no PVC object
  defined (its volume was made on first use, as podman does) comes back as a minimal claim
  (ReadWriteOnce, 1Gi), with a warning, so that the output also schedules on a cluster;
- `check_schema` checks the output against the strict schema of a Kubernetes version: an
  object that does not pass is an error naming it, never printed.

`dump_kube` renders the objects as multi-document YAML, byte for byte stable for equal input.
No I/O, no clock, no logging.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubeplay.errors import KubeplayError, NotFoundError, UsageError
from kubeplay.kube import kinds as kinds_mod
from kubeplay.kube import workloads as workloads_mod
from kubeplay.kube.kinds import KindInfo
from kubeplay.kube.workloads import Workload

TYPES = ("pod", "deployment", "daemonset", "job")
SERVICE_TYPES = ("ClusterIP", "NodePort")
NODE_PORT_RANGE = (30000, 32767)  # the apiserver's default --service-node-port-range

# Helm's InstallOrder, for the kinds generate emits; custom resources go last.
APPLY_ORDER = (
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "PriorityClass",
    "IngressClass",
    "Ingress",
)
API_VERSIONS = {
    "Pod": "v1",
    "Service": "v1",
    "ConfigMap": "v1",
    "Secret": "v1",
    "PersistentVolumeClaim": "v1",
    "Deployment": "apps/v1",
    "DaemonSet": "apps/v1",
    "Job": "batch/v1",
}
# What a name's `KIND/` prefix may be, as kubectl spells kinds (singular, plural, short).
KIND_NAMES = {
    **dict.fromkeys(("pod", "pods", "po"), "Pod"),
    **dict.fromkeys(
        ("deployment", "deployments", "deploy", "deployment.apps", "deployments.apps"),
        "Deployment",
    ),
    **dict.fromkeys(("configmap", "configmaps", "cm"), "ConfigMap"),
    **dict.fromkeys(("secret", "secrets"), "Secret"),
    **dict.fromkeys(
        ("persistentvolumeclaim", "persistentvolumeclaims", "pvc"), "PersistentVolumeClaim"
    ),
    **dict.fromkeys(
        ("statefulset", "statefulsets", "sts", "statefulset.apps", "statefulsets.apps"),
        "StatefulSet",
    ),
    **dict.fromkeys(
        ("daemonset", "daemonsets", "ds", "daemonset.apps", "daemonsets.apps"), "DaemonSet"
    ),
}
# Stored workloads whose controller makes their pods: emitted as stored, and a pod they own
# comes back as them.
SET_KINDS = ("StatefulSet", "DaemonSet")
# Stored kinds that are emitted when a pod references them; with no name given every stored
# object of the namespace is emitted, of any kind (and every cluster-scoped one).
REFERENCED_KINDS = ("ConfigMap", "Secret", "PersistentVolumeClaim")

# What a claim no PVC object defined comes back as: the smallest claim a cluster binds (the
# access mode every provisioner offers, a size a user is expected to edit).
MINIMAL_CLAIM_SPEC: Mapping[str, Any] = {
    "accessModes": ["ReadWriteOnce"],
    "resources": {"requests": {"storage": "1Gi"}},
}

SERVER_METADATA = frozenset(
    {
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "selfLink",
    }
)
INTERNAL_PREFIX = "kubeplay.io/"
# Bookkeeping of kubectl and the Deployment controller, not the user's.
SERVER_ANNOTATIONS = frozenset(
    {"kubectl.kubernetes.io/last-applied-configuration", "deployment.kubernetes.io/revision"}
)


@dataclass(frozen=True, slots=True)
class PlayedPod:
    """A pod as the store keeps it: its manifest as played."""

    namespace: str
    name: str
    manifest: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Options:
    type: str = ""  # "" keeps each object's kind; else one of TYPES
    replicas: int | None = None
    service: bool = False
    service_type: str = "ClusterIP"
    include_secrets: bool = False


@dataclass(frozen=True, slots=True)
class Generated:
    objects: tuple[dict[str, Any], ...]
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Source:
    """One object the names selected: a bare pod, a workload or a stored object."""

    kind: str
    name: str
    body: Mapping[str, Any]


ObjectKey = tuple[str, str, str]  # (kind, namespace, name)


class InvalidOutputError(KubeplayError):
    """A generated object the strict schema refuses: a bug (or a field the asked Kubernetes
    version does not have yet); nothing is printed. Exit code 1."""


def generate_kube(
    names: Sequence[str],
    *,
    namespace: str | None,
    pods: Sequence[PlayedPod],
    workloads: Sequence[Workload],
    stored: Mapping[ObjectKey, Mapping[str, Any]],
    options: Options = Options(),
    kinds: Sequence[KindInfo] = (),
) -> Generated:
    """The clean objects `names` mean in `namespace` (all of it when `names` is empty; every
    namespace when `namespace` is None, which takes no names). `stored` holds every stored
    object other than pods and workloads (cluster-scoped ones with namespace ""); `kinds`
    the kinds of stored CustomResourceDefinitions, for `KIND/NAME`."""
    _check_options(options)
    if namespace is None and names:
        raise UsageError(
            "--all-namespaces: a name is looked up in one namespace (use -n NAMESPACE)"
        )
    sources = _select(
        names, namespace=namespace, pods=pods, workloads=workloads, stored=stored, kinds=kinds
    )
    warnings: list[str] = []
    out: list[dict[str, Any]] = []
    for src in sources:
        if src.kind not in ("Pod", *workloads_mod.KINDS):
            out.append(clean_object(src.body))
            continue
        obj = convert(src, options.type or src.kind.lower(), options=options, warnings=warnings)
        if options.service:
            service = service_for(obj, service_type=options.service_type, warnings=warnings)
            if service is not None:
                out.append(service)
        out.append(obj)
    if options.replicas is not None and not any(o["kind"] == "Deployment" for o in out):
        raise UsageError("--replicas: no Deployment to set it on (use --type deployment)")
    out += _referenced_objects(out, stored=stored, warnings=warnings)
    out += _selecting_services(out, stored=stored)
    out = _dedupe(out)
    if not options.include_secrets:
        left_out = [o for o in out if o["kind"] == "Secret"]
        out = [o for o in out if o["kind"] != "Secret"]
        secret_names = sorted({_ref(o) for o in left_out} | _missing_secrets(out, stored=stored))
        if secret_names:
            warnings.append(
                "Secrets left out (use --include-secrets to add them): " + ", ".join(secret_names)
            )
    out.sort(key=_apply_rank)
    return Generated(objects=tuple(out), warnings=tuple(warnings))


def _check_options(options: Options) -> None:
    if options.type and options.type not in TYPES:
        raise UsageError(f"--type {options.type}: must be one of {', '.join(TYPES)}")
    if options.service_type not in SERVICE_TYPES:
        raise UsageError(
            f"--service-type {options.service_type}: must be one of {', '.join(SERVICE_TYPES)}"
        )
    if options.replicas is not None:
        if options.replicas < 0:
            raise UsageError(f"--replicas {options.replicas}: must be 0 or more")
        if options.type not in ("", "deployment"):
            raise UsageError(f"--replicas: a {options.type} has no replicas")


# --- which objects --------------------------------------------------------------------------


def _select(
    names: Sequence[str],
    *,
    namespace: str | None,
    pods: Sequence[PlayedPod],
    workloads: Sequence[Workload],
    stored: Mapping[ObjectKey, Mapping[str, Any]],
    kinds: Sequence[KindInfo] = (),
) -> list[_Source]:
    def here(ns: str) -> bool:
        return namespace is None or ns == namespace

    owner: dict[tuple[str, str], Workload] = {}
    for pod in pods:
        for w in workloads:
            if w.namespace == pod.namespace and workloads_mod.owns(w, pod.manifest):
                owner[pod.namespace, pod.name] = w
    set_owner: dict[tuple[str, str], _Source] = {}
    for pod in pods:
        ref = workloads_mod.controller_of(pod.manifest)
        body = stored.get((str(ref.get("kind")), pod.namespace, str(ref.get("name"))))
        if ref.get("kind") in SET_KINDS and body is not None:
            set_owner[pod.namespace, pod.name] = _Source(str(ref["kind"]), str(ref["name"]), body)
    pods = [p for p in pods if here(p.namespace)]
    workloads = [w for w in workloads if here(w.namespace)]
    sources: list[_Source] = []
    if not names:
        sources += [
            _Source("Pod", p.name, p.manifest)
            for p in pods
            if (p.namespace, p.name) not in owner and (p.namespace, p.name) not in set_owner
        ]
        sources += [_Source(w.kind, w.name, w.manifest) for w in workloads]
        sources += [
            _Source(kind, name, body)
            for (kind, ns, name), body in sorted(stored.items())
            if here(ns) or not ns  # cluster-scoped objects are in every namespace's output
        ]
        if not sources:
            where = f'namespace "{namespace}"' if namespace is not None else "any namespace"
            raise NotFoundError(f"no pods or workloads in {where}")
        return sources
    assert namespace is not None  # generate_kube refuses names with every namespace
    by_name = {p.name: p for p in pods}
    for text in names:
        prefix, _, name = text.rpartition("/")
        kind = KIND_NAMES.get(prefix.lower()) if prefix else "Pod"
        if kind is None:
            kind = _stored_kind(prefix, kinds)
        if kind is None:
            known = ", ".join(sorted({k for k in KIND_NAMES if "." not in k and k.isalpha()}))
            raise UsageError(
                f'{text}: unknown kind "{prefix}" (one of {known}, or any stored kind)'
            )
        if kind == "Pod":
            played = by_name.get(name)
            if played is None:
                raise NotFoundError(f'pod "{name}" not found in namespace "{namespace}"')
            made_by = owner.get((namespace, name))
            sources.append(
                _Source(made_by.kind, made_by.name, made_by.manifest)
                if made_by
                else set_owner.get((namespace, name), _Source("Pod", name, played.manifest))
            )
        elif kind in workloads_mod.KINDS:
            found = next((w for w in workloads if (w.kind, w.name) == (kind, name)), None)
            if found is None:
                raise NotFoundError(f'{kind.lower()} "{name}" not found in namespace "{namespace}"')
            sources.append(_Source(found.kind, found.name, found.manifest))
        else:
            body = stored.get((kind, namespace, name)) or stored.get((kind, "", name))
            if body is None:
                raise NotFoundError(f'{kind.lower()} "{name}" not found in namespace "{namespace}"')
            sources.append(_Source(kind, name, body))
    seen: set[tuple[str, str]] = set()
    unique = []
    for src in sources:
        if (src.kind, src.name) not in seen:
            seen.add((src.kind, src.name))
            unique.append(src)
    return unique


def _stored_kind(word: str, extra: Sequence[KindInfo]) -> str | None:
    """The kind a `KIND/` prefix names among every kind kubeplay stores (kubectl's names,
    `kinds.resolve`), the stored CRDs' included; None if none."""
    try:
        return kinds_mod.resolve(word, extra=extra).info.kind
    except UsageError:
        return None


# --- cleaning -------------------------------------------------------------------------------


def clean_metadata(meta: Mapping[str, Any], *, replica: bool = False) -> dict[str, Any]:
    """Metadata as the user wrote it, minus what the server, the controllers or kubeplay set.
    `replica`: a pod a controller made (its generateName and ownerReferences are the
    controller's)."""
    out: dict[str, Any] = {}
    for key in ("name", "namespace", "labels", "annotations"):
        if key in meta:
            out[key] = meta[key]
    for key, value in meta.items():
        if key not in out and key not in SERVER_METADATA:
            out[key] = value
    if replica:
        out.pop("generateName", None)
        out.pop("ownerReferences", None)
    labels = {
        k: v
        for k, v in (out.get("labels") or {}).items()
        if not _internal(k) and not (replica and k == workloads_mod.TEMPLATE_HASH_LABEL)
    }
    annotations = {
        k: v
        for k, v in (out.get("annotations") or {}).items()
        if not _internal(k) and k not in SERVER_ANNOTATIONS
    }
    for key, value in (("labels", labels), ("annotations", annotations)):
        if value:
            out[key] = value
        else:
            out.pop(key, None)
    return copy.deepcopy(out)


def _internal(key: str) -> bool:
    return key.startswith(INTERNAL_PREFIX)


def clean_object(body: Mapping[str, Any]) -> dict[str, Any]:
    """Any stored object (ConfigMap, Secret, PVC...) without status or server metadata."""
    out: dict[str, Any] = {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": clean_metadata(body.get("metadata") or {}),
    }
    for key, value in body.items():
        if key not in out and key != "status":
            out[key] = copy.deepcopy(value)
    return out


# --- conversion between kinds ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Shape:
    """What every kind is made of: the object's metadata, the pod template's metadata and spec,
    and (for a workload) its other spec fields."""

    kind: str
    meta: dict[str, Any]
    template_meta: dict[str, Any]
    pod_spec: dict[str, Any]
    workload_spec: dict[str, Any]


def _shape(src: _Source) -> _Shape:
    body = src.body
    meta = body.get("metadata") or {}
    if src.kind == "Pod":
        clean = clean_metadata(meta)
        tmeta: dict[str, Any] = {k: clean[k] for k in ("labels", "annotations") if k in clean}
        return _Shape("Pod", clean, tmeta, copy.deepcopy(dict(body.get("spec") or {})), {})
    spec = dict(body.get("spec") or {})
    template = spec.pop("template", None) or {}
    return _Shape(
        src.kind,
        clean_metadata(meta),
        clean_metadata(template.get("metadata") or {}),
        copy.deepcopy(dict(template.get("spec") or {})),
        copy.deepcopy(spec),
    )


def convert(src: _Source, to: str, *, options: Options, warnings: list[str]) -> dict[str, Any]:
    """`src` (a Pod or a workload) as a `to` (pod, deployment, daemonset, job)."""
    kind = _KINDS_OF_TYPES[to]
    if src.kind == kind:
        return _as_played(src, replicas=options.replicas)
    shape = _shape(src)
    what = f"{src.kind.lower()} {src.name}"
    tmeta: dict[str, Any] = {
        k: shape.template_meta[k] for k in ("labels", "annotations") if k in shape.template_meta
    }
    namespace = {"namespace": shape.meta["namespace"]} if "namespace" in shape.meta else {}
    if kind == "Pod":
        return _object("Pod", {"name": src.name, **namespace, **tmeta}, shape.pod_spec)
    pod_spec = shape.pod_spec
    policy = pod_spec.get("restartPolicy")
    if kind in ("Deployment", "DaemonSet"):
        if policy not in (None, "Always"):
            raise UsageError(
                f"{what}: restartPolicy {policy}: a {kind}'s pods must restart Always "
                "(use --type job)"
            )
        if pod_spec.get("activeDeadlineSeconds") is not None:
            raise UsageError(f"{what}: activeDeadlineSeconds is not allowed in a {kind}")
        if not tmeta.get("labels"):
            tmeta = {"labels": {"app": src.name}, **tmeta}
    elif policy in (None, "Always"):
        pod_spec = {**pod_spec, "restartPolicy": "OnFailure"}
        warnings.append(
            f"{what}: a Job's pods cannot restart Always: restartPolicy set to OnFailure"
        )
    common = _COMMON_SPEC[kind]
    spec = {k: v for k, v in shape.workload_spec.items() if k in common}
    if kind != "Job" and "selector" not in spec:
        spec["selector"] = {"matchLabels": dict(tmeta["labels"])}
    if kind == "Deployment":
        replicas = options.replicas if options.replicas is not None else spec.pop("replicas", 1)
        spec = {"replicas": replicas, **{k: v for k, v in spec.items() if k != "replicas"}}
    spec["template"] = {"metadata": tmeta, "spec": pod_spec} if tmeta else {"spec": pod_spec}
    if shape.kind == "Pod":
        meta = {"name": src.name, **namespace}
        if tmeta.get("labels"):
            meta["labels"] = dict(tmeta["labels"])
    else:
        meta = shape.meta
    return _object(kind, meta, spec)


_KINDS_OF_TYPES = {"pod": "Pod", "deployment": "Deployment", "daemonset": "DaemonSet", "job": "Job"}


def _as_played(src: _Source, *, replicas: int | None) -> dict[str, Any]:
    """An object of its own kind: as played, cleaned (and its replicas set when asked)."""
    body = src.body
    spec = copy.deepcopy(dict(body.get("spec") or {}))
    if src.kind != "Pod":
        template = spec.get("template") or {}
        cleaned = {
            k: (clean_metadata(v or {}) if k == "metadata" else v) for k, v in template.items()
        }
        if not cleaned.get("metadata"):
            cleaned.pop("metadata", None)
        spec["template"] = cleaned
        if replicas is not None:
            spec = {"replicas": replicas, **spec} if "replicas" not in spec else spec
            spec["replicas"] = replicas
    return _object(src.kind, clean_metadata(body.get("metadata") or {}), spec)


# Workload spec fields another workload kind also has (selector and template aside).
_COMMON_SPEC: dict[str, tuple[str, ...]] = {
    "Deployment": ("selector", "replicas", "minReadySeconds", "revisionHistoryLimit"),
    "DaemonSet": ("selector", "minReadySeconds", "revisionHistoryLimit"),
    "Job": (),
}


def _object(kind: str, meta: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API_VERSIONS[kind], "kind": kind, "metadata": dict(meta), "spec": spec}


# --- Service ---------------------------------------------------------------------------------


def _pod_spec_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "Pod":
        return spec
    return (spec.get("template") or {}).get("spec") or {}


def service_for(
    obj: dict[str, Any], *, service_type: str, warnings: list[str]
) -> dict[str, Any] | None:
    """A Service selecting `obj`'s pods for their container ports (None: it has no port).
    A Pod without labels gets `app: <name>` so that something selects it."""
    from kubeplay.kube import validate

    meta = obj["metadata"]
    name = meta["name"]
    what = f"{obj['kind'].lower()} {name}"
    ports = _service_ports(
        _pod_spec_of(obj), service_type=service_type, what=what, warnings=warnings
    )
    if not ports:
        warnings.append(f"{what}: no container ports, no Service made for it")
        return None
    rule = validate.DNS1035_LABEL
    if len(name) > rule.limit or not rule.pattern.fullmatch(name):
        raise UsageError(f"{what}: cannot name a Service {name!r}: {rule.text}")
    if obj["kind"] == "Pod":
        if not meta.get("labels"):
            obj["metadata"] = {**meta, "labels": {"app": name}}
            obj["metadata"] = _meta_in_order(obj["metadata"])
        selector = dict(obj["metadata"]["labels"])
    else:
        spec = obj["spec"]
        selector = dict((spec.get("selector") or {}).get("matchLabels") or {})
        if not selector:
            selector = dict(
                ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
            )
    service_meta = {k: meta[k] for k in ("name", "namespace") if k in meta}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": service_meta,
        "spec": {"type": service_type, "selector": selector, "ports": ports},
    }


def _meta_in_order(meta: Mapping[str, Any]) -> dict[str, Any]:
    first = [k for k in ("name", "namespace", "labels", "annotations") if k in meta]
    return {**{k: meta[k] for k in first}, **{k: v for k, v in meta.items() if k not in first}}


def _service_ports(
    pod_spec: Mapping[str, Any], *, service_type: str, what: str, warnings: list[str]
) -> list[dict[str, Any]]:
    containers = [
        *(c for c in pod_spec.get("initContainers") or () if c.get("restartPolicy") == "Always"),
        *(pod_spec.get("containers") or ()),
    ]
    ports: list[dict[str, Any]] = []
    seen: set[tuple[int, str]] = set()
    names: set[str] = set()
    low, high = NODE_PORT_RANGE
    for ctr in containers:
        for p in ctr.get("ports") or ():
            number, protocol = int(p["containerPort"]), str(p.get("protocol") or "TCP")
            if (number, protocol) in seen:
                continue
            seen.add((number, protocol))
            name = str(p.get("name") or "")
            if not name or name in names:
                name = f"{protocol.lower()}-{number}"
            names.add(name)
            port: dict[str, Any] = {
                "name": name,
                "protocol": protocol,
                "port": number,
                "targetPort": number,
            }
            host_port = int(p.get("hostPort") or 0)
            if service_type == "NodePort" and host_port:
                if low <= host_port <= high:
                    port["nodePort"] = host_port
                else:
                    warnings.append(
                        f"{what}: hostPort {host_port}/{protocol} is outside the NodePort range "
                        f"{low}-{high}: nodePort left for the cluster to choose"
                    )
            ports.append(port)
    return ports


# --- referenced objects ----------------------------------------------------------------------


def references(pod_spec: Mapping[str, Any]) -> Iterator[tuple[str, str, bool]]:
    """(kind, name, optional) of every ConfigMap, Secret and PVC a pod spec refers to."""
    for vol in pod_spec.get("volumes") or ():
        if cm := vol.get("configMap"):
            yield "ConfigMap", str(cm.get("name") or ""), bool(cm.get("optional"))
        if secret := vol.get("secret"):
            yield "Secret", str(secret.get("secretName") or ""), bool(secret.get("optional"))
        if pvc := vol.get("persistentVolumeClaim"):
            yield "PersistentVolumeClaim", str(pvc.get("claimName") or ""), False
        for source in (vol.get("projected") or {}).get("sources") or ():
            if cm := source.get("configMap"):
                yield "ConfigMap", str(cm.get("name") or ""), bool(cm.get("optional"))
            if secret := source.get("secret"):
                yield "Secret", str(secret.get("name") or ""), bool(secret.get("optional"))
    groups = ("initContainers", "containers", "ephemeralContainers")
    for ctr in (c for group in groups for c in pod_spec.get(group) or ()):
        for env in ctr.get("env") or ():
            source = env.get("valueFrom") or {}
            if ref := source.get("configMapKeyRef"):
                yield "ConfigMap", str(ref.get("name") or ""), bool(ref.get("optional"))
            if ref := source.get("secretKeyRef"):
                yield "Secret", str(ref.get("name") or ""), bool(ref.get("optional"))
        for env_from in ctr.get("envFrom") or ():
            if ref := env_from.get("configMapRef"):
                yield "ConfigMap", str(ref.get("name") or ""), bool(ref.get("optional"))
            if ref := env_from.get("secretRef"):
                yield "Secret", str(ref.get("name") or ""), bool(ref.get("optional"))
    for ref in pod_spec.get("imagePullSecrets") or ():
        yield "Secret", str(ref.get("name") or ""), False


def _referenced_objects(
    out: Sequence[Mapping[str, Any]],
    *,
    stored: Mapping[ObjectKey, Mapping[str, Any]],
    warnings: list[str],
) -> list[dict[str, Any]]:
    """The stored objects `out`'s pods reference, cleaned; a claim no PVC object defined as
    a minimal claim. What is missing (and not optional) is warned about."""
    found: list[dict[str, Any]] = []
    missing: dict[tuple[str, str, str], list[str]] = {}
    for obj in out:
        if obj["kind"] not in ("Pod", *workloads_mod.KINDS, "DaemonSet", "Job"):
            continue
        meta = obj["metadata"]
        ns = meta.get("namespace") or "default"
        for kind, name, optional in references(_pod_spec_of(obj)):
            body = stored.get((kind, ns, name))
            if body is not None:
                found.append(clean_object(body))
            elif kind == "PersistentVolumeClaim":
                found.append(minimal_claim(name, namespace=meta.get("namespace")))
                missing.setdefault((kind, ns, name), []).append(_what(obj))
            elif not optional and kind != "Secret":
                missing.setdefault((kind, ns, name), []).append(_what(obj))
    for (kind, ns, name), users in missing.items():
        used_by = f"{kind} {ns}/{name} (used by {', '.join(dict.fromkeys(users))})"
        if kind == "PersistentVolumeClaim":
            warnings.append(
                f"{used_by}: no PersistentVolumeClaim object was played (its volume was made "
                "on first use): a minimal claim is emitted (ReadWriteOnce, 1Gi); set its size "
                "and storage class for a cluster"
            )
        else:
            warnings.append(f"{used_by}: not in kubeplay's store, left out")
    return found


def _selecting_services(
    out: Sequence[Mapping[str, Any]], *, stored: Mapping[ObjectKey, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The stored Services (as applied: the cluster allocates clusterIP and nodePorts)
    whose selector matches a pod of `out` in its namespace, cleaned."""
    labelled: list[tuple[str, Mapping[str, Any]]] = []
    for obj in out:
        if obj["kind"] == "Pod":
            meta = obj.get("metadata") or {}
        elif obj["kind"] in (*workloads_mod.KINDS, "DaemonSet", "Job"):
            meta = ((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}
        else:
            continue
        ns = (obj.get("metadata") or {}).get("namespace") or "default"
        labelled.append((ns, meta.get("labels") or {}))
    found = []
    for (kind, ns, _name), body in stored.items():
        if kind != "Service":
            continue
        selector = (body.get("spec") or {}).get("selector") or {}
        if selector and any(
            ns == pod_ns and all(labels.get(k) == v for k, v in selector.items())
            for pod_ns, labels in labelled
        ):
            found.append(clean_object(body))
    return found


def minimal_claim(name: str, *, namespace: str | None) -> dict[str, Any]:
    """The claim emitted for a claimName no PVC object defined (`namespace` None: the
    referencing object has none either)."""
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {
        "apiVersion": API_VERSIONS["PersistentVolumeClaim"],
        "kind": "PersistentVolumeClaim",
        "metadata": meta,
        "spec": copy.deepcopy(dict(MINIMAL_CLAIM_SPEC)),
    }


def _what(obj: Mapping[str, Any]) -> str:
    return f"{obj['kind'].lower()} {obj['metadata']['name']}"


def _missing_secrets(
    out: Sequence[Mapping[str, Any]],
    *,
    stored: Mapping[ObjectKey, Mapping[str, Any]],
) -> set[str]:
    """Secrets the pods refer to that the store does not have (left out as well)."""
    names: set[str] = set()
    for obj in out:
        if obj["kind"] in ("Pod", *workloads_mod.KINDS, "DaemonSet", "Job"):
            ns = obj["metadata"].get("namespace") or "default"
            for kind, name, optional in references(_pod_spec_of(obj)):
                if kind == "Secret" and not optional and ("Secret", ns, name) not in stored:
                    names.add(f"{ns}/{name}")
    return names


def _ref(obj: Mapping[str, Any]) -> str:
    meta = obj["metadata"]
    return f"{meta.get('namespace') or 'default'}/{meta['name']}"


def _dedupe(objects: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[tuple[str, str, str]] = set()
    out = []
    for obj in objects:
        meta = obj["metadata"]
        key = (obj["kind"], str(meta.get("namespace") or ""), str(meta.get("name")))
        if key not in seen:
            seen.add(key)
            out.append(obj)
    return out


def _apply_rank(obj: Mapping[str, Any]) -> tuple[int, str, str]:
    kind = obj["kind"]
    rank = APPLY_ORDER.index(kind) if kind in APPLY_ORDER else len(APPLY_ORDER)
    meta = obj["metadata"]
    return rank, str(meta.get("namespace") or ""), str(meta.get("name"))


apply_rank = _apply_rank  # for objects generated beside these (a store's Jobs and CronJobs)


# --- schema ----------------------------------------------------------------------------------


def check_schema(objects: Sequence[Mapping[str, Any]], *, kube_version: str = "") -> None:
    """Raise InvalidOutputError naming the first object (and field) that the strict schema of
    `kube_version` ("" = newest bundled) or the API server's rules refuse, as `play` checks
    its input. A bad version is a UsageError."""
    from kubeplay.errors import ManifestError
    from kubeplay.kube import validate
    from kubeplay.kube.objects import KubeObject

    version = validate.resolve_schema_version(kube_version)
    shown = ".".join(version.split(".")[:2])
    checked = [
        KubeObject(dict(obj), source="generated", doc_index=i)
        for i, obj in enumerate(objects, start=1)
    ]
    try:
        validate.validate(checked, kube_version=shown)
    except ManifestError as err:
        index = (err.doc_index or 1) - 1
        obj = checked[index] if index < len(checked) else checked[0]
        field = f"{err.path}: " if err.path else ""
        why = err.message.split("\n", 1)[0]
        raise InvalidOutputError(
            f"{obj.kind} {obj.namespace}/{obj.name}: generated object fails the "
            f"Kubernetes {shown} schema: {field}{why}"
        ) from err


# --- YAML ------------------------------------------------------------------------------------


def dump_kube(objects: Sequence[Mapping[str, Any]]) -> str:
    """Multi-document YAML: `---` between documents, keys in the order given, multi-line
    strings as literal blocks, no line folding."""
    import yaml

    base: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

    class Dumper(base):  # type: ignore[misc]
        pass

    def represent_str(dumper: Any, data: str) -> Any:
        style = "|" if "\n" in data else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)

    Dumper.add_representer(str, represent_str)
    docs = [
        yaml.dump(
            obj,
            Dumper=Dumper,
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=True,
            width=1 << 16,
        )
        for obj in objects
    ]
    return "---\n".join(docs)
