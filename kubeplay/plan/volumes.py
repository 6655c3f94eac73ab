"""Pod volumes and container volumeMounts, resolved as the kubelet resolves them. Pure.

`compile_volumes` turns `spec.volumes` into VolumePlans; `compile_mounts` turns a container's
`volumeMounts` into MountPlans (subPathExpr expanded from the container's env, propagation
mapped to the OCI option, configMap/secret/downwardAPI/projected always read-only, as the
kubelet mounts them). `compute_files` decides the files of a configMap, secret, downwardAPI or
projected volume from the objects' data (the engine fetches it), with the kubelet's messages
for what is missing. `oci_mounts` gives the runtime-spec mount entries for resolved host paths.
No I/O here: the engine makes the directories, tmpfs and binds (`engine.volumes`).

Sources: pkg/volume/{hostpath,emptydir,configmap,secret,downwardapi,projected},
pkg/volume/util/atomic_writer.go, pkg/kubelet/kubelet_pods.go (makeMounts, subPathExpr),
pkg/apis/core/validation (volume and mount rules), containerd's CRI mount options.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from kubeplay.errors import KubeplayError
from kubeplay.plan import command as command_mod

if TYPE_CHECKING:  # decimal is imported where a quantity is computed: `get pods` needs none
    from decimal import Decimal


class VolumeError(KubeplayError):
    """A volume cannot be set up (missing object or key, bad expanded subPath...).

    Messages are the kubelet's, so a user can search for them.
    """


class VolumeSourceMissing(VolumeError):
    """A ConfigMap or Secret a volume needs is not stored (yet) and is not optional: the
    kubelet keeps the pod in ContainerCreating and retries (FailedMount) until it appears.
    `volume` names the pod's volume, `detail` is the kubelet's `configmap "x" not found`."""

    def __init__(self, message: str, *, volume: str = "", detail: str = "") -> None:
        self.volume = volume
        self.detail = detail or message
        super().__init__(message)


class VolumeKind(StrEnum):
    HOST_PATH = "hostPath"
    EMPTY_DIR = "emptyDir"
    PVC = "persistentVolumeClaim"
    # configMap, secret, downwardAPI and projected: files written by kubeplay (atomic writer).
    FILES = "files"
    # A volume type kubeplay does not implement (nfs, csi, ...): warned, never mounted.
    UNSUPPORTED = "unsupported"


# mountPropagation -> the OCI bind option (containerd's CRI does the same mapping).
PROPAGATION: Mapping[str, str] = {
    "None": "rprivate",
    "HostToContainer": "rslave",
    "Bidirectional": "rshared",
}

DEFAULT_MODE = 0o644  # API default of defaultMode (420) for every file-backed volume

# Volume sources that hold files kubeplay writes; secret, downwardAPI and projected are on a
# tmpfs (kubelet wraps them in a medium: Memory emptyDir), configMap on disk.
FILE_SOURCES = ("configMap", "secret", "downwardAPI", "projected")
_ON_TMPFS = ("secret", "downwardAPI", "projected")


@dataclass(frozen=True, slots=True)
class ItemPlan:
    """One file of a file-backed volume: a key of an object, or a downward API field."""

    path: str
    key: str = ""
    mode: int | None = None
    field_path: str = ""  # downwardAPI fieldRef
    resource: str = ""  # downwardAPI resourceFieldRef: limits.cpu, requests.memory...
    container_name: str = ""
    divisor: str = ""
    # resourceFieldRef: the container's value as written ("" = unset: node capacity).
    quantity: str = ""


@dataclass(frozen=True, slots=True)
class SourcePlan:
    """One source of a file-backed volume: configMap, secret, downwardAPI (or a projection
    of one of them); `items` empty = every key of the object."""

    kind: str  # configMap | secret | downwardAPI | serviceAccountToken
    name: str = ""
    items: tuple[ItemPlan, ...] = ()
    optional: bool = False


@dataclass(frozen=True, slots=True)
class VolumePlan:
    name: str
    kind: VolumeKind
    source: str  # the manifest's volume source key (hostPath, emptyDir, configMap...)
    host_path: str = ""
    host_path_type: str = ""
    medium: str = ""  # emptyDir: "" (disk) or "Memory"
    size_limit: int | None = None  # emptyDir sizeLimit in bytes
    claim_name: str = ""
    read_only: bool = False  # persistentVolumeClaim.readOnly
    default_mode: int = DEFAULT_MODE
    sources: tuple[SourcePlan, ...] = ()

    @property
    def on_tmpfs(self) -> bool:
        """Backed by a tmpfs kubeplay mounts: emptyDir Memory, secret, downwardAPI, projected."""
        if self.kind == VolumeKind.EMPTY_DIR:
            return self.medium == "Memory"
        return self.kind == VolumeKind.FILES and self.source in _ON_TMPFS

    @property
    def owned_by_fs_group(self) -> bool:
        """The kubelet applies fsGroup to every volume type but hostPath."""
        return self.kind in (VolumeKind.EMPTY_DIR, VolumeKind.FILES, VolumeKind.PVC)


@dataclass(frozen=True, slots=True)
class MountPlan:
    volume: str
    path: str  # mountPath inside the container
    read_only: bool = False
    sub_path: str = ""  # relative to the volume, subPathExpr already expanded
    propagation: str = "rprivate"
    # A subPathExpr that needs env resolved at creation (valueFrom, envFrom): expanded then
    # by `expand_deferred_sub_paths`; sub_path is "" until that.
    sub_path_expr: str = ""


@dataclass(frozen=True, slots=True)
class FileEntry:
    """A file the atomic writer puts in a volume: path relative to the volume root."""

    path: str
    data: bytes
    mode: int


@dataclass(frozen=True, slots=True)
class PodFacts:
    """What downwardAPI volume files may show of the pod, plus the node's capacity
    (the default for a resource limit the container does not set)."""

    name: str
    namespace: str
    uid: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    node_cpus: int = 1
    node_memory: int = 0
    node_ephemeral_storage: int = 0


# --- compiling ------------------------------------------------------------------------------


def parse_quantity(value: Any) -> Decimal:
    """A Kubernetes quantity ("64Mi", "500m") with the official client's parser (pure)."""
    from kubernetes.utils import parse_quantity as parse

    result: Decimal = parse(value)  # type: ignore[no-untyped-call]
    return result


def _quantity(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return int(parse_quantity(str(value)))


def _mode(value: Any) -> int | None:
    return None if value is None else int(value)


def _key_items(raw: Iterable[Mapping[str, Any]]) -> tuple[ItemPlan, ...]:
    return tuple(
        ItemPlan(path=str(i["path"]), key=str(i["key"]), mode=_mode(i.get("mode"))) for i in raw
    )


def _resource_quantity(spec: Mapping[str, Any], container: str, resource: str) -> str:
    """The value of `resource` (limits.cpu...) the named container sets: "" for an unset
    limit (the node's capacity), "0" for an unset request without a limit."""
    group, _, name = resource.partition(".")
    for ctr in (*(spec.get("initContainers") or ()), *(spec.get("containers") or ())):
        if ctr.get("name") == container:
            value = ((ctr.get("resources") or {}).get(group) or {}).get(name)
            if value is None and group == "requests":  # requests default to limits
                value = ((ctr.get("resources") or {}).get("limits") or {}).get(name)
            if value is None:
                return "0" if group == "requests" else ""
            return str(value)
    return ""


def _downward_items(
    raw: Iterable[Mapping[str, Any]], spec: Mapping[str, Any]
) -> tuple[ItemPlan, ...]:
    items = []
    for i in raw:
        field = i.get("fieldRef") or {}
        res = i.get("resourceFieldRef") or {}
        resource = str(res.get("resource") or "")
        container = str(res.get("containerName") or "")
        items.append(
            ItemPlan(
                path=str(i["path"]),
                mode=_mode(i.get("mode")),
                field_path=str(field.get("fieldPath") or ""),
                resource=resource,
                container_name=container,
                divisor=str(res.get("divisor") or ""),
                quantity=_resource_quantity(spec, container, resource) if resource else "",
            )
        )
    return tuple(items)


def _projection(kind: str, body: Mapping[str, Any], spec: Mapping[str, Any]) -> SourcePlan:
    if kind == "downwardAPI":
        return SourcePlan(kind=kind, items=_downward_items(body.get("items") or (), spec))
    # a secret volume names its Secret `secretName`; a projected secret source, `name`
    name = body.get("secretName") or body.get("name")
    return SourcePlan(
        kind=kind,
        name=str(name or ""),
        items=_key_items(body.get("items") or ()),
        optional=bool(body.get("optional")),
    )


def _volume(raw: Mapping[str, Any], spec: Mapping[str, Any]) -> VolumePlan:
    name = str(raw["name"])
    source = next((k for k in raw if k != "name" and raw[k] is not None), "")
    body = raw.get(source) or {}
    if source == "hostPath":
        return VolumePlan(
            name=name,
            kind=VolumeKind.HOST_PATH,
            source=source,
            host_path=posixpath.normpath(str(body["path"])),
            host_path_type=str(body.get("type") or ""),
        )
    if source == "emptyDir":
        return VolumePlan(
            name=name,
            kind=VolumeKind.EMPTY_DIR,
            source=source,
            medium=str(body.get("medium") or ""),
            size_limit=_quantity(body.get("sizeLimit")),
        )
    if source == "persistentVolumeClaim":
        return VolumePlan(
            name=name,
            kind=VolumeKind.PVC,
            source=source,
            claim_name=str(body["claimName"]),
            read_only=bool(body.get("readOnly")),
        )
    if source in ("configMap", "secret", "downwardAPI"):
        return VolumePlan(
            name=name,
            kind=VolumeKind.FILES,
            source=source,
            default_mode=_default_mode(body),
            sources=(_projection(source, body, spec),),
        )
    if source == "projected":
        parts = []
        for entry in body.get("sources") or ():
            kind = next((k for k in entry if entry[k] is not None), "")
            parts.append(_projection(kind, entry[kind] or {}, spec))
        return VolumePlan(
            name=name,
            kind=VolumeKind.FILES,
            source=source,
            default_mode=_default_mode(body),
            sources=tuple(parts),
        )
    return VolumePlan(name=name, kind=VolumeKind.UNSUPPORTED, source=source)


def _default_mode(body: Mapping[str, Any]) -> int:
    mode = body.get("defaultMode")
    return DEFAULT_MODE if mode is None else int(mode)


def compile_volumes(spec: Mapping[str, Any]) -> tuple[VolumePlan, ...]:
    """`spec.volumes` of a validated pod spec, in manifest order."""
    return tuple(_volume(v, spec) for v in spec.get("volumes") or ())


def compile_mounts(
    container: Mapping[str, Any],
    *,
    volumes: Sequence[VolumePlan],
    env: Sequence[tuple[str, str]],
    where: str,
    defer_sub_path_expr: bool = False,
) -> tuple[MountPlan, ...]:
    """A container's volumeMounts; `env` is what `$(VAR)` in subPathExpr expands from.

    Mounts of unsupported volume types are left out (the volume itself is warned about).
    Raises VolumeError when subPathExpr names a variable with no value, or expands to an
    absolute path or one with `..`, as kubelet's makeMounts does. `defer_sub_path_expr`: the
    container's env is only known at creation (valueFrom, envFrom), so subPathExpr is kept
    for `expand_deferred_sub_paths`.
    """
    by_name = {v.name: v for v in volumes}
    values = dict(env)
    mounts = []
    for i, raw in enumerate(container.get("volumeMounts") or ()):
        volume = by_name.get(str(raw["name"]))
        if volume is None or volume.kind == VolumeKind.UNSUPPORTED:
            continue
        sub_path = str(raw.get("subPath") or "")
        sub_path_expr = ""
        if raw.get("subPathExpr") and defer_sub_path_expr:
            sub_path_expr = str(raw["subPathExpr"])
        elif raw.get("subPathExpr"):
            sub_path = expand_sub_path_expr(
                str(raw["subPathExpr"]), values, where=f"{where}.volumeMounts[{i}].subPathExpr"
            )
        read_only = (
            bool(raw.get("readOnly"))
            or volume.kind == VolumeKind.FILES  # the kubelet mounts these read-only
            or volume.read_only
        )
        mounts.append(
            MountPlan(
                volume=volume.name,
                path=str(raw["mountPath"]),
                read_only=read_only,
                sub_path=posixpath.normpath(sub_path) if sub_path else "",
                propagation=PROPAGATION[str(raw.get("mountPropagation") or "None")],
                sub_path_expr=sub_path_expr,
            )
        )
    return tuple(mounts)


def expand_sub_path_expr(expr: str, env: Mapping[str, str], *, where: str) -> str:
    """kubelet's ExpandContainerVolumeMounts and makeMounts' checks: `$(VAR)` from the
    container's env (not the image's); a variable unset or empty is an error, and so is an
    absolute result or one with `..`."""
    missing: set[str] = set()

    def lookup(name: str) -> str:
        if not env.get(name):
            missing.add(name)
        return env.get(name, "")

    sub_path = command_mod.expand(expr, lookup)
    if missing:
        raise VolumeError(f"{where}: missing value for {', '.join(sorted(missing))}")
    problem = check_relative_path(sub_path)
    if problem:
        raise VolumeError(f"{where}: expanded to {sub_path!r}: {problem}")
    return sub_path


def expand_deferred_sub_paths(
    mounts: Sequence[MountPlan], env: Mapping[str, str], *, where: str
) -> tuple[MountPlan, ...]:
    """Mounts with their deferred subPathExpr expanded from the env resolved at creation."""
    return tuple(
        replace(
            m,
            sub_path=posixpath.normpath(
                expand_sub_path_expr(
                    m.sub_path_expr, env, where=f"{where}: volumeMount {m.path}: subPathExpr"
                )
            ),
        )
        if m.sub_path_expr
        else m
        for m in mounts
    )


def check_relative_path(path: str) -> str:
    """Why `path` may not name a file inside a volume ("" = fine): the API server's
    validateLocalDescendingPath (relative, no `..` element)."""
    if path.startswith("/"):
        return "must be a relative path"
    if ".." in path.split("/"):
        return "must not contain '..'"
    return ""


# --- files of configMap, secret, downwardAPI and projected volumes ---------------------------

_KIND_NAMES = {"configMap": "configmap", "secret": "secret"}


def compute_files(
    volume: VolumePlan,
    *,
    objects: Mapping[tuple[str, str], Mapping[str, bytes] | None],
    pod: PodFacts,
) -> tuple[FileEntry, ...]:
    """The files of a file-backed volume.

    `objects` maps (kind, name) of every configMap/secret the volume names to its data, or
    None when the object does not exist. Raises VolumeError with the kubelet's message for a
    missing required object or key. Later sources of a projected volume win a clashing path.
    """
    files: dict[str, FileEntry] = {}
    for source in volume.sources:
        for entry in _source_files(source, objects=objects, pod=pod, volume=volume):
            files[entry.path] = entry
    return tuple(files.values())


def _source_files(
    source: SourcePlan,
    *,
    objects: Mapping[tuple[str, str], Mapping[str, bytes] | None],
    pod: PodFacts,
    volume: VolumePlan,
) -> list[FileEntry]:
    if source.kind == "downwardAPI":
        return [
            FileEntry(
                path=item.path,
                data=downward_value(item, pod).encode(),
                mode=volume.default_mode if item.mode is None else item.mode,
            )
            for item in source.items
        ]
    if source.kind not in _KIND_NAMES:
        return []  # serviceAccountToken: warned at validation, no file
    label = _KIND_NAMES[source.kind]
    data = objects.get((source.kind, source.name))
    if data is None:
        if source.optional:
            return []
        raise VolumeSourceMissing(f'{label} "{source.name}" not found')
    if not source.items:
        return [
            FileEntry(path=k, data=v, mode=volume.default_mode) for k, v in sorted(data.items())
        ]
    entries = []
    for item in source.items:
        if item.key not in data:
            if source.optional:
                continue
            what = "config" if source.kind == "configMap" else "secret"
            raise VolumeError(f"{label} references non-existent {what} key: {item.key}")
        mode = volume.default_mode if item.mode is None else item.mode
        entries.append(FileEntry(path=item.path, data=data[item.key], mode=mode))
    return entries


def _quoted(mapping: Mapping[str, str]) -> str:
    """kubelet's formatMap: `key="value"` lines (Go %q), sorted, no final newline."""
    import json

    return "\n".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in sorted(mapping.items()))


def _subscript(field_path: str, prefix: str) -> str | None:
    """`metadata.labels['k']` -> `k` for prefix `metadata.labels`."""
    if field_path.startswith(prefix + "['") and field_path.endswith("']"):
        return field_path[len(prefix) + 2 : -2]
    return None


def downward_value(item: ItemPlan, pod: PodFacts) -> str:
    """The content of one downwardAPI file (kubelet's fieldpath.ExtractFieldPathAsString and
    resource.ExtractContainerResourceValue)."""
    if item.resource:
        return _resource_value(item, pod)
    path = item.field_path
    simple = {
        "metadata.name": pod.name,
        "metadata.namespace": pod.namespace,
        "metadata.uid": pod.uid,
    }
    if path in simple:
        return simple[path]
    if path == "metadata.labels":
        return _quoted(pod.labels)
    if path == "metadata.annotations":
        return _quoted(pod.annotations)
    for prefix, values in (
        ("metadata.labels", pod.labels),
        ("metadata.annotations", pod.annotations),
    ):
        key = _subscript(path, prefix)
        if key is not None:
            return values.get(key, "")
    raise VolumeError(f"unsupported fieldPath: {path}")


def _resource_value(item: ItemPlan, pod: PodFacts) -> str:
    import math
    from decimal import Decimal

    name = item.resource.partition(".")[2]
    capacity = {
        "cpu": Decimal(pod.node_cpus),
        "memory": Decimal(pod.node_memory),
        "ephemeral-storage": Decimal(pod.node_ephemeral_storage),
    }
    if name not in capacity:
        raise VolumeError(f"unsupported container resource: {item.resource}")
    value = parse_quantity(item.quantity) if item.quantity else capacity[name]
    divisor = parse_quantity(item.divisor) if item.divisor else Decimal(1)
    if divisor == 0:
        raise VolumeError(f"{item.resource}: divisor must not be zero")
    # kubelet: cpu rounds up to the divisor (ceil); memory and storage likewise.
    return str(math.ceil(value / divisor))


# --- OCI mount entries ------------------------------------------------------------------------


def oci_mounts(
    mounts: Sequence[MountPlan], sources: Mapping[str, str]
) -> tuple[list[dict[str, Any]], str]:
    """Runtime-spec mounts for `mounts`, and the rootfs propagation they need ("" = runc's
    default). `sources` maps a mount's container path to the host path the engine prepared
    (the volume's directory, or the bind of its resolved subPath). As containerd's CRI: a
    Bidirectional mount makes the rootfs rshared, a HostToContainer one rslave."""
    entries = []
    for m in mounts:
        options = ["rbind", m.propagation, "ro" if m.read_only else "rw"]
        entries.append(
            {"destination": m.path, "type": "bind", "source": sources[m.path], "options": options}
        )
    kinds = {m.propagation for m in mounts}
    rootfs = "rshared" if "rshared" in kinds else "rslave" if "rslave" in kinds else ""
    return entries, rootfs


# --- store codec ------------------------------------------------------------------------------


def volume_from_dict(raw: Mapping[str, Any]) -> VolumePlan:
    raw = dict(raw)
    raw["kind"] = VolumeKind(raw["kind"])
    raw["sources"] = tuple(
        SourcePlan(**{**s, "items": tuple(ItemPlan(**i) for i in s.get("items") or ())})
        for s in raw.get("sources") or ()
    )
    return VolumePlan(**raw)


def mount_from_dict(raw: Mapping[str, Any]) -> MountPlan:
    return MountPlan(**raw)
