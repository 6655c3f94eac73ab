"""The API server's rules for pod volumes and volumeMounts that the schema cannot express.

`kube.validate` calls `check_pod_volumes(spec, prefix)` for every pod spec and turns the
(path, message) pairs into errors, so a bad volume is refused before anything is created.
Messages follow pkg/apis/core/validation (ValidateVolumes, ValidateVolumeMounts,
validateMountPropagation, validateLocalDescendingPath, IsConfigMapKey). Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
HOST_PATH_TYPES = (
    "",
    "DirectoryOrCreate",
    "Directory",
    "FileOrCreate",
    "File",
    "Socket",
    "CharDevice",
    "BlockDevice",
)
MEDIA = ("", "Memory")
PROPAGATIONS = ("None", "HostToContainer", "Bidirectional")
VOLUME_FIELD_PATHS = (
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "metadata.labels",
    "metadata.annotations",
)
RESOURCES = tuple(
    f"{group}.{name}"
    for group in ("limits", "requests")
    for name in ("cpu", "memory", "ephemeral-storage")
)

Problems = Iterator[tuple[str, str]]


def check_pod_volumes(spec: Mapping[str, Any], prefix: str) -> list[tuple[str, str]]:
    """(field path, message) for every volume or volumeMount the API server would refuse."""
    problems = list(_check_volumes(spec, prefix))
    names = {v.get("name") for v in spec.get("volumes") or ()}
    for group in ("initContainers", "containers"):
        for i, ctr in enumerate(spec.get(group) or ()):
            security = ctr.get("securityContext") or {}
            privileged = bool(security.get("privileged"))
            problems.extend(
                _check_mounts(ctr, f"{prefix}.{group}[{i}]", names=names, privileged=privileged)
            )
    return problems


def _check_volumes(spec: Mapping[str, Any], prefix: str) -> Problems:
    seen: set[str] = set()
    for i, volume in enumerate(spec.get("volumes") or ()):
        path = f"{prefix}.volumes[{i}]"
        name = str(volume.get("name") or "")
        if not _LABEL.fullmatch(name) or len(name) > 63:
            yield f"{path}.name", f"invalid name {name!r}: must be a DNS-1123 label"
        elif name in seen:
            yield f"{path}.name", f"Duplicate value: {name!r}"
        seen.add(name)
        sources = [k for k in volume if k != "name" and volume[k] is not None]
        if not sources:
            yield path, "must specify a volume type"
            continue
        if len(sources) > 1:
            yield f"{path}.{sources[1]}", "may not specify more than 1 volume type"
            continue
        source = sources[0]
        yield from _check_source(source, volume[source] or {}, f"{path}.{source}")


def _check_source(source: str, body: Mapping[str, Any], path: str) -> Problems:
    if source == "hostPath":
        kind = body.get("type") or ""
        if kind not in HOST_PATH_TYPES:
            allowed = ", ".join(repr(t) for t in HOST_PATH_TYPES)
            yield f"{path}.type", f"Unsupported value: {kind!r}: supported values: {allowed}"
        if ".." in str(body.get("path") or "").split("/"):
            yield f"{path}.path", "must not contain '..'"
    elif source == "emptyDir":
        medium = body.get("medium") or ""
        if medium not in MEDIA:
            yield (
                f"{path}.medium",
                f"Unsupported value: {medium!r}: kubeplay supports '' and Memory",
            )
        yield from _check_quantity(body.get("sizeLimit"), f"{path}.sizeLimit")
    elif source in ("configMap", "secret", "downwardAPI", "projected"):
        yield from _check_mode(body.get("defaultMode"), f"{path}.defaultMode")
        if source == "projected":
            yield from _check_projected(body, path)
        elif source == "downwardAPI":
            yield from _check_downward(body, path)
        else:
            yield from _check_key_items(body, path)


def _check_quantity(value: Any, path: str) -> Problems:
    if value is None:
        return
    from kubeplay.kube import apirules

    problem = apirules.quantity_problem(value)
    if problem:
        yield path, problem


def _check_mode(mode: Any, path: str) -> Problems:
    if mode is not None and not 0 <= int(mode) <= 0o777:
        yield (
            path,
            f"Invalid value: {mode}: must be a number between 0 and 0777 (octal), both inclusive",
        )


def _check_item_path(value: str, path: str) -> Problems:
    if value.startswith("/"):
        yield path, "must be a relative path"
    elif ".." in value.split("/"):
        yield path, "must not contain '..'"
    elif value.startswith(".."):
        yield path, "must not start with '..'"
    elif not value:
        yield path, "Required value"


def _check_key_items(body: Mapping[str, Any], path: str) -> Problems:
    for j, item in enumerate(body.get("items") or ()):
        item_path = f"{path}.items[{j}]"
        key = str(item.get("key") or "")
        if not _CONFIG_KEY.fullmatch(key) or key in (".", "..") or key.startswith(".."):
            yield (
                f"{item_path}.key",
                f"invalid key {key!r}: a valid config key must consist of alphanumeric "
                "characters, '-', '_' or '.'",
            )
        yield from _check_item_path(str(item.get("path") or ""), f"{item_path}.path")
        yield from _check_mode(item.get("mode"), f"{item_path}.mode")


def _check_downward(body: Mapping[str, Any], path: str) -> Problems:
    for j, item in enumerate(body.get("items") or ()):
        item_path = f"{path}.items[{j}]"
        yield from _check_item_path(str(item.get("path") or ""), f"{item_path}.path")
        yield from _check_mode(item.get("mode"), f"{item_path}.mode")
        field = item.get("fieldRef")
        resource = item.get("resourceFieldRef")
        if bool(field) == bool(resource):
            yield item_path, "fieldRef and resourceFieldRef: exactly one must be set"
            continue
        if field:
            fp = str(field.get("fieldPath") or "")
            if fp not in VOLUME_FIELD_PATHS and not re.fullmatch(
                r"metadata\.(labels|annotations)\['[^']+'\]", fp
            ):
                allowed = ", ".join(VOLUME_FIELD_PATHS)
                yield (
                    f"{item_path}.fieldRef.fieldPath",
                    f"Unsupported value: {fp!r}: supported values: {allowed}",
                )
        if resource:
            if not resource.get("containerName"):
                yield f"{item_path}.resourceFieldRef.containerName", "Required value"
            if resource.get("resource") not in RESOURCES:
                yield (
                    f"{item_path}.resourceFieldRef.resource",
                    f"Unsupported value: {resource.get('resource')!r}: "
                    f"supported values: {', '.join(RESOURCES)}",
                )
            yield from _check_quantity(
                resource.get("divisor"), f"{item_path}.resourceFieldRef.divisor"
            )


def _check_projected(body: Mapping[str, Any], path: str) -> Problems:
    paths: dict[str, str] = {}
    for j, entry in enumerate(body.get("sources") or ()):
        entry_path = f"{path}.sources[{j}]"
        kinds = [k for k in entry if entry[k] is not None]
        if len(kinds) != 1:
            yield entry_path, "exactly one source type must be specified"
            continue
        kind = kinds[0]
        sub = entry[kind] or {}
        if kind in ("configMap", "secret"):
            yield from _check_key_items(sub, f"{entry_path}.{kind}")
        elif kind == "downwardAPI":
            yield from _check_downward(sub, f"{entry_path}.{kind}")
        for k, item in enumerate(sub.get("items") or ()):
            item_path = str(item.get("path") or "")
            if item_path in paths:
                yield (
                    f"{entry_path}.{kind}.items[{k}].path",
                    f"conflicting duplicate paths (also {paths[item_path]})",
                )
            paths.setdefault(item_path, f"{entry_path}.{kind}.items[{k}].path")


def _check_mounts(
    ctr: Mapping[str, Any], path: str, *, names: set[Any], privileged: bool
) -> Problems:
    mount_paths: dict[str, int] = {}
    for j, mount in enumerate(ctr.get("volumeMounts") or ()):
        mpath = f"{path}.volumeMounts[{j}]"
        name = mount.get("name")
        if name not in names:
            yield f"{mpath}.name", f"Not found: {name!r}"
        target = str(mount.get("mountPath") or "")
        if not target:
            yield f"{mpath}.mountPath", "Required value"
        elif target in mount_paths:
            yield f"{mpath}.mountPath", f"Invalid value: {target!r}: must be unique"
        mount_paths.setdefault(target, j)
        sub_path = mount.get("subPath")
        if sub_path:
            yield from _check_item_path(str(sub_path), f"{mpath}.subPath")
        if sub_path and mount.get("subPathExpr"):
            yield f"{mpath}.subPathExpr", "subPathExpr and subPath are mutually exclusive"
        propagation = mount.get("mountPropagation")
        if propagation is not None and propagation not in PROPAGATIONS:
            allowed = ", ".join(PROPAGATIONS)
            yield (
                f"{mpath}.mountPropagation",
                f"Unsupported value: {propagation!r}: supported values: {allowed}",
            )
        elif propagation == "Bidirectional" and not privileged:
            yield (
                f"{mpath}.mountPropagation",
                "Forbidden: Bidirectional mount propagation is available only to privileged "
                "containers",
            )
