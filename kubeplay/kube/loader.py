"""Loader: Kubernetes manifests (YAML or JSON text) -> KubeObjects that know where they came from.

`services` calls `load(paths)` for `play` and `watch`; tests call `load_text` with a string.
Only `read_sources` touches the file system (files, a directory's *.yaml/*.yml/*.json, or "-" for
stdin); parsing works on text. Each object keeps its source, 1-based document index (empty
documents count, as a person counts "---"), the line where it starts and the line of every field
path, so later errors point at the input. `kind: List` (and any `*List`) is flattened. Parsing
follows what kubectl accepts: duplicate keys are an error, timestamps stay strings.

Hostile input is refused before it costs time or memory (exit 2, naming file and document):
the input is read up to MAX_INPUT_BYTES in all; nesting deeper than MAX_DEPTH levels stops the
parser; a document larger than MAX_DOCUMENT_BYTES (the API server's request limit), as written
or once its aliases are expanded, is refused, as are more than MAX_ALIASES aliases in one
document or aliases that add more than MAX_ALIASED_NODES nodes (go-yaml's "excessive
aliasing"), and an alias inside the node it names (recursive).
In a directory, an entry with a manifest's name that is not a regular file (a FIFO, a socket,
a device, a symbolic link loop or a dangling link) is an error naming it: never read, never
skipped silently.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import yaml
import yaml._yaml as _yaml_c

from kubeplay.errors import ManifestError
from kubeplay.kube.objects import KubeObject

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"

# All the text one command reads, over every file, directory and stdin.
MAX_INPUT_BYTES = 32 * 1024 * 1024
# One document, as written and once its aliases are expanded: the API server's limit on a
# request body (apiserver MaxRequestBodyBytes, 3 MiB).
MAX_DOCUMENT_BYTES = 3 * 1024 * 1024
# Nesting of mappings and lists (expanded); the deepest Kubernetes field is ~20 levels down.
MAX_DEPTH = 100
# Alias uses in one document, and the nodes (mappings, lists, scalars) they may add to it once
# expanded: a bomb within the byte limit could still hold half a million nodes.
MAX_ALIASES = 1000
MAX_ALIASED_NODES = 20_000


class _KubeYamlLoader(
    yaml.composer.Composer,
    _yaml_c.CParser,
    yaml.constructor.SafeConstructor,
    yaml.resolver.Resolver,
):
    """SafeLoader without the timestamp resolver: Kubernetes reads `2024-01-01` as a string.

    libyaml's C parser (as in CSafeLoader, ~10 times faster) feeds PyYAML's composer, which
    counts nesting: past MAX_DEPTH it stops (it recurses per level)."""

    def __init__(self, stream: str) -> None:
        _yaml_c.CParser.__init__(self, stream)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)
        yaml.composer.Composer.__init__(self)
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                event: Any = self.peek_event()
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {MAX_DEPTH} levels deep", event.start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


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
    """Read each path (a file, a directory's manifests sorted by name, or "-") as (name, text),
    at most MAX_INPUT_BYTES in all."""
    sources: list[tuple[str, str]] = []
    budget = [MAX_INPUT_BYTES]
    for path in paths:
        if path == STDIN:
            sources.append(("<stdin>", _read_limited(sys.stdin, "<stdin>", budget)))
        elif os.path.isdir(path):
            names = sorted(n for n in os.listdir(path) if n.endswith(MANIFEST_SUFFIXES))
            files = [os.path.join(path, n) for n in names]
            sources.extend((f, _read_file(f, budget)) for f in files if _is_manifest_file(f))
        else:
            sources.append((path, _read_file(path, budget)))
    return sources


def _is_manifest_file(path: str) -> bool:
    """Whether a directory entry is a file to read: regular files (or links to one) yes,
    subdirectories no (not recursive, as kubectl without -R); anything else is an error."""
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        if os.path.islink(path):
            why = "a symbolic link loop" if err.errno == errno.ELOOP else "a dangling symbolic link"
            raise ManifestError(f"not a manifest file: {why}", source=path) from err
        raise ManifestError(f"cannot read: {err.strerror or err}", source=path) from err
    if stat.S_ISDIR(mode):
        return False
    if not stat.S_ISREG(mode):
        raise ManifestError(f"not a manifest file: {_file_type(mode)}", source=path)
    return True


def _file_type(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _read_file(path: str, budget: list[int]) -> str:
    try:
        with open(path, encoding="utf-8") as stream:
            return _read_limited(stream, path, budget)
    except FileNotFoundError as err:
        raise ManifestError("no such file or directory", source=path) from err
    except UnicodeDecodeError as err:
        raise ManifestError("not UTF-8 text", source=path) from err
    except OSError as err:
        raise ManifestError(f"cannot read: {err.strerror or err}", source=path) from err


def _read_limited(stream: TextIO, source: str, budget: list[int]) -> str:
    """The stream's text, taking it from `budget` (characters left of MAX_INPUT_BYTES)."""
    text = stream.read(budget[0] + 1)
    if len(text) > budget[0]:
        raise ManifestError(
            f"input too large: more than {MAX_INPUT_BYTES} bytes in all", source=source
        )
    budget[0] -= len(text)
    return text


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
            _check_bounds(node, source=source, doc_index=doc_index)
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
    except yaml.reader.ReaderError as err:
        # go-yaml's words (libyaml's are "control characters are not allowed" too).
        raise ManifestError(
            f"invalid YAML: control characters are not allowed (#x{err.character:04x})",
            source=source,
            doc_index=max(doc_index, 1),
            line=text.encode()[: err.position].count(b"\n") + 1,  # a byte offset
        ) from err
    except UnicodeEncodeError as err:  # a lone surrogate: only from a str made in memory
        raise ManifestError("not valid Unicode text", source=source) from err
    except yaml.YAMLError as err:
        raise ManifestError(
            f"invalid YAML: {err}", source=source, doc_index=max(doc_index, 1)
        ) from err
    finally:
        if loader is not None:
            loader.dispose()
    return objects


def _check_bounds(root: yaml.Node, *, source: str, doc_index: int) -> None:
    """Refuse a document whose expansion is recursive or too big (size, depth, aliases).

    Aliases share nodes, so the composed graph is walked once (iteratively, memoizing each
    node's expanded JSON-ish size and depth): a billion-laughs bomb costs its written size."""

    def fail(message: str, node: yaml.Node) -> ManifestError:
        return ManifestError(message, source=source, doc_index=doc_index, line=_line(node))

    written = root.end_mark.index - root.start_mark.index
    if written > MAX_DOCUMENT_BYTES:
        raise fail(f"document too large: {written} bytes, at most {MAX_DOCUMENT_BYTES}", root)
    done: dict[int, tuple[int, int, int]] = {}  # id(node) -> expanded (size, depth, nodes)
    open_nodes: set[int] = set()
    aliases = 0
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        children = _children(node)
        if children_done:
            open_nodes.discard(key)
            size = 2 + sum(done[id(c)][0] + 1 for c in children)
            depth = 1 + max((done[id(c)][1] for c in children), default=0)
            nodes = 1 + sum(done[id(c)][2] for c in children)
            if size > MAX_DOCUMENT_BYTES:
                raise fail(
                    f"document too large once its aliases are expanded: more than "
                    f"{MAX_DOCUMENT_BYTES} bytes",
                    node,
                )
            if depth > MAX_DEPTH:
                raise fail(
                    f"nested more than {MAX_DEPTH} levels deep once its aliases are expanded",
                    node,
                )
            if nodes - len(done) > MAX_ALIASED_NODES:
                raise fail(
                    f"too many aliased nodes: its aliases add more than {MAX_ALIASED_NODES} "
                    "nodes to the document",
                    node,
                )
            done[key] = (size, depth, nodes)
            continue
        if key in done:  # met again: an alias
            aliases += 1
            if aliases > MAX_ALIASES:
                raise fail(f"too many aliases: more than {MAX_ALIASES} in one document", node)
            continue
        if key in open_nodes:
            raise fail(
                f"invalid YAML: recursive alias: the node at line {_line(node)} contains itself",
                node,
            )
        if not children:
            done[key] = (len(str(node.value)) + 2, 0, 1)
            continue
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in reversed(children))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


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
