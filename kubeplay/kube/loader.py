"""Loader: Kubernetes manifests (YAML or JSON text) -> KubeObjects that know where they came from.

`services` calls `load(paths)` for `play` and `watch`; tests call `load_text` with a string.
Only `read_sources` touches the file system (files, a directory's *.yaml/*.yml/*.json, or "-" for
stdin); parsing works on text. Each object keeps its source, 1-based document index (empty
documents count, as a person counts "---"), the line where it starts and the line of every field
path, so later errors point at the input. `kind: List` (and any `*List`) is flattened. Parsing
follows what kubectl accepts: duplicate keys are an error, timestamps stay strings.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import yaml

from kubeplay.errors import ManifestError
from kubeplay.kube.objects import KubeObject

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"
# The largest source (file or stdin) read: the API server takes at most 3 MiB a request, so a
# bigger manifest is a mistake (a log, a disk image), not an application.
MAX_SOURCE_BYTES = 16 * 1024 * 1024
# The most YAML nodes one document may stand for once its aliases are followed: a "billion
# laughs" document is a few lines of anchors that expand to gigabytes.
MAX_DOCUMENT_NODES = 1_000_000


# libyaml's parser when PyYAML has it (4x faster on a 50-document file), same nodes and marks.
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _KubeYamlLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """SafeLoader without the timestamp resolver: Kubernetes reads `2024-01-01` as a string."""


_KubeYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def format_path(parts: Sequence[str | int]) -> str:
    """Render a field path the way errors show it: `spec.containers[0].image`."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def read_sources(paths: Sequence[str]) -> list[tuple[str, str]]:
    """Read each path (a file, a directory's manifests sorted by name, or "-") as (name, text)."""
    sources: list[tuple[str, str]] = []
    for path in paths:
        if path == STDIN:
            data = sys.stdin.buffer.read(MAX_SOURCE_BYTES + 1)
            sources.append(("<stdin>", _decode(data, "<stdin>")))
        elif os.path.isdir(path):
            names = sorted(n for n in os.listdir(path) if n.endswith(MANIFEST_SUFFIXES))
            files = [os.path.join(path, n) for n in names]
            sources.extend((f, _read_file(f)) for f in files if os.path.isfile(f))
        else:
            sources.append((path, _read_file(path)))
    return sources


def _read_file(path: str) -> str:
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_SOURCE_BYTES + 1)
    except FileNotFoundError as err:
        raise ManifestError("no such file or directory", source=path) from err
    except OSError as err:
        raise ManifestError(f"cannot read: {err.strerror or err}", source=path) from err
    return _decode(data, path)


def _decode(data: bytes, source: str) -> str:
    if len(data) > MAX_SOURCE_BYTES:
        raise ManifestError(
            f"larger than {MAX_SOURCE_BYTES // (1024 * 1024)} MiB: not a manifest "
            "(the API server takes at most 3 MiB a request)",
            source=source,
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ManifestError("not UTF-8 text", source=source) from err


def load(paths: Sequence[str]) -> list[KubeObject]:
    """Read and parse every path, in the order given."""
    objects: list[KubeObject] = []
    for source, text in read_sources(paths):
        objects.extend(load_text(text, source=source))
    return objects


def load_text(text: str, *, source: str) -> list[KubeObject]:
    """Parse a multi-document YAML (or JSON) text into KubeObjects, flattening Lists."""
    objects: list[KubeObject] = []
    doc_index = 0
    loader: _KubeYamlLoader | None = None
    try:
        loader = _KubeYamlLoader(text)
        while loader.check_node():
            doc_index += 1
            node = loader.get_node()
            if node is None or _is_empty(node):
                continue
            _check_expansion(node, source=source, doc_index=doc_index)
            _check_duplicate_keys(node, "", source=source, doc_index=doc_index)
            body = loader.construct_document(node)
            objects.extend(_objects_of(body, node, source=source, doc_index=doc_index))
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context or "cannot parse"
        raise ManifestError(
            f"invalid YAML: {problem}",
            source=source,
            doc_index=max(doc_index, 1),
            line=mark.line + 1 if mark else None,
        ) from err
    except yaml.YAMLError as err:
        problem = getattr(err, "reason", "") or str(err).splitlines()[0]
        raise ManifestError(
            f"invalid YAML: {problem}", source=source, doc_index=max(doc_index, 1)
        ) from err
    except RecursionError as err:
        raise ManifestError(
            "invalid YAML: nested too deeply", source=source, doc_index=max(doc_index, 1)
        ) from err
    finally:
        if loader is not None:
            loader.dispose()
    return objects


def _check_expansion(node: yaml.Node, *, source: str, doc_index: int) -> None:
    """Refuse a document whose aliases expand past MAX_DOCUMENT_NODES, or refer to
    themselves, before anything constructs it."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(current: yaml.Node) -> int:
        key = id(current)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise ManifestError(
                "invalid YAML: an alias refers to itself",
                source=source,
                doc_index=doc_index,
                line=_line(current),
            )
        active.add(key)
        total = 1
        if isinstance(current, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in current.value)
        elif isinstance(current, yaml.SequenceNode):
            total += sum(size(item) for item in current.value)
        active.discard(key)
        if total > MAX_DOCUMENT_NODES:
            raise ManifestError(
                f"invalid YAML: its aliases expand to more than {MAX_DOCUMENT_NODES} values "
                "(a YAML bomb?)",
                source=source,
                doc_index=doc_index,
                line=_line(current),
            )
        sizes[key] = total
        return total

    size(node)


def _is_empty(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _objects_of(body: Any, node: yaml.Node, *, source: str, doc_index: int) -> list[KubeObject]:
    """The objects of one document: itself, or the items of a List."""
    _check_object(body, "", source=source, doc_index=doc_index, line=_line(node))
    kind = body["kind"]
    if not (kind.endswith("List") and "items" in body):
        return [_object(body, node, source=source, doc_index=doc_index)]
    items, items_node = body["items"], _child(node, "items")
    if items is None:
        return []
    if not isinstance(items, list) or not isinstance(items_node, yaml.SequenceNode):
        raise ManifestError(
            f"must be a list, got {type(items).__name__}",
            source=source,
            doc_index=doc_index,
            kind=kind,
            path="items",
            line=_line(items_node or node),
        )
    objects = []
    for i, (item, item_node) in enumerate(zip(items, items_node.value, strict=True)):
        line = _line(item_node)
        _check_object(item, f"items[{i}]", source=source, doc_index=doc_index, line=line)
        objects.append(_object(item, item_node, source=source, doc_index=doc_index))
    return objects


def _check_object(body: Any, prefix: str, *, source: str, doc_index: int, line: int) -> None:
    """A document (or List item) must be a mapping with string apiVersion and kind."""
    problem: tuple[str, str] | None = None
    if not isinstance(body, dict):
        got = "a list" if isinstance(body, list) else f"{type(body).__name__} {body!r}"
        problem = (prefix, f"must be a mapping (a Kubernetes object), got {got}")
    else:
        for field in ("apiVersion", "kind"):
            value = body.get(field)
            path = f"{prefix}.{field}" if prefix else field
            if value is None or value == "":
                problem = (path, "required")
            elif not isinstance(value, str):
                problem = (path, f"must be a string, got {value!r}")
            if problem:
                break
    if problem:
        path, message = problem
        raise ManifestError(message, source=source, doc_index=doc_index, path=path, line=line)


def _object(body: dict[str, Any], node: yaml.Node, *, source: str, doc_index: int) -> KubeObject:
    lines: dict[str, int] = {}
    _collect_lines(node, "", lines=lines)
    return KubeObject(body, source=source, doc_index=doc_index, line=_line(node), lines=lines)


def _collect_lines(node: yaml.Node, path: str, *, lines: dict[str, int]) -> None:
    """Map every field path under `node` to the 1-based line of its key (or list item)."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key == "<<":
                continue
            child = f"{path}.{key}" if path else key
            lines.setdefault(child, _line(key_node))
            _collect_lines(value_node, child, lines=lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            child = f"{path}[{i}]"
            lines.setdefault(child, _line(item))
            _collect_lines(item, child, lines=lines)


def _check_duplicate_keys(
    node: yaml.Node, path: str, *, source: str, doc_index: int, seen: set[int] | None = None
) -> None:
    """kubectl refuses a key given twice in one mapping; PyYAML would keep the last silently."""
    seen = set() if seen is None else seen
    if id(node) in seen:  # an alias met again (or a recursive one)
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        keys: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = f"{path}.{key}" if path else key
            if key in keys and key != "<<":
                raise ManifestError(
                    f"invalid YAML: duplicate key {key!r}",
                    source=source,
                    doc_index=doc_index,
                    path=child,
                    line=_line(key_node),
                )
            keys.add(key)
            _check_duplicate_keys(value_node, child, source=source, doc_index=doc_index, seen=seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            child = f"{path}[{i}]"
            _check_duplicate_keys(item, child, source=source, doc_index=doc_index, seen=seen)


def _child(node: yaml.Node, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.value == key:
                return value_node  # type: ignore[no-any-return]
    return None


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1
