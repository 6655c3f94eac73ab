"""Hypothesis strategies: Kubernetes manifests built from the Kubernetes schema, then mutated.

`documents()` draws the text of one input (one to three YAML or JSON documents). Each object
starts from the strict OpenAPI schema bundled with kubernetes-validate (the one `validate`
uses): the fields a kind requires, a few of its optional fields picked from the schema with
values of the schema's types, and names and images likely enough to be valid that many
documents get through validation to the planner. Mutations then break it the ways people and
attackers do: a field deleted, a value of another type, huge and odd strings (control
characters, NUL, `/`, `=`, non-ASCII, 100,000 characters), deep nesting, shared values that
YAML writes as aliases (also an alias bomb and a node containing itself), and text-level damage
(an inserted character, a cut). Small bounded sizes keep a document cheap, so 10,000 of them
fit in the suite's time.
"""

from __future__ import annotations

import functools
import json
import random
from typing import Any

import yaml
from hypothesis import strategies as st

from kubeplay.kube import validate

# How deep the schema walk goes before it stops adding optional fields.
MAX_SCHEMA_DEPTH = 5
# Optional fields drawn per object.
MAX_OPTIONAL = 3
# Inputs left as the schema walk made them (no mutation, no damage): most reach the planner.
CLEAN_SHARE = 0.3

NAMES = ["web", "app", "db-1", "a", "x.y", "busybox"]
ODD_STRINGS = [
    "",
    " ",
    "a/b",
    "A=B",
    "a\nb",
    "\t",
    "\x00",
    "\x01",
    "\x7f",
    "é",
    "\u202e",
    "\ud7ff",
    "-1",
    "1e400",
    "0x1F",
    "1Gi",
    "100m",
    "-1Gi",
    ".inf",
    "NaN",
    "10.0.0.1",
    "::1",
    "*",
    "~",
    "null",
    "yes",
    "$(VAR)",
    "../../etc/passwd",
    "/",
    "a" * 64,
    "a" * 254,
    "a." * 130,
]
INTEGERS = [
    0,
    1,
    -1,
    2,
    80,
    65535,
    65536,
    2**31 - 1,
    2**31,
    -(2**31) - 1,
    2**32,
    2**63 - 1,
    2**63,
    -(2**63) - 1,
    2**64,
    10**30,
]
FLOATS = [0.0, 0.5, -1.5, 1e300, 1e-300, float("inf"), float("-inf")]
KINDS = {
    "Pod": ("v1", "io.k8s.api.core.v1.Pod"),
    "Deployment": ("apps/v1", "io.k8s.api.apps.v1.Deployment"),
    "ConfigMap": ("v1", "io.k8s.api.core.v1.ConfigMap"),
    "Secret": ("v1", "io.k8s.api.core.v1.Secret"),
    "PersistentVolumeClaim": ("v1", "io.k8s.api.core.v1.PersistentVolumeClaim"),
    "Namespace": ("v1", "io.k8s.api.core.v1.Namespace"),
}


@functools.cache
def definitions() -> dict[str, Any]:
    """The `$defs` of the newest bundled strict schema."""
    from kubernetes_validate import utils

    version = validate.resolve_schema_version("")
    path = f"kubernetes-json-schema/v{version}-local-strict/_definitions.json"
    defs: dict[str, Any] = utils.schema_contents(path, version)["$defs"]
    return defs


def _types(schema: dict[str, Any]) -> list[str]:
    kind = schema.get("type", "object" if "properties" in schema else "string")
    kinds = [kind] if isinstance(kind, str) else list(kind)
    return [k for k in kinds if k != "null"] or ["null"]


class Builder:
    """Builds and mutates manifests with one seeded `random.Random`: hypothesis draws the seed
    (derandomized), the walk over the schema is plain Python, so a document costs far less
    than nested hypothesis draws would, and the same seed always gives the same document."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.defs = definitions()

    def string(self, field: str) -> str:
        rng = self.rng
        if field in ("name", "containerName", "serviceAccountName", "claimName"):
            return rng.choice(NAMES)
        if field == "image":
            return "busybox"
        pick = rng.random()
        if pick < 0.4:
            return rng.choice(NAMES)
        if pick < 0.8:
            return rng.choice(ODD_STRINGS)
        return "".join(chr(rng.choice(_CODEPOINTS)) for _ in range(rng.randrange(12)))

    def integer(self) -> int:
        if self.rng.random() < 0.6:
            return self.rng.randint(-3, 100)
        return self.rng.choice(INTEGERS)

    def value(self, schema: dict[str, Any], field: str = "", depth: int = 0) -> Any:
        """A value that the schema's types allow (not necessarily the API server's rules)."""
        rng = self.rng
        if "$ref" in schema:
            schema = self.defs[schema["$ref"].rsplit("/", 1)[-1]]
        for combinator in ("oneOf", "anyOf", "allOf"):
            if schema.get(combinator):
                rest = {k: v for k, v in schema.items() if k != combinator}
                return self.value({**rest, **rng.choice(schema[combinator])}, field, depth)
        if schema.get("enum"):
            return rng.choice([v for v in schema["enum"] if v is not None] or [None])
        kind = rng.choice(_types(schema))
        if kind == "object":
            return self.object(schema, depth)
        if kind == "array":
            if depth >= MAX_SCHEMA_DEPTH:
                return []
            item = schema.get("items", {"type": "string"})
            return [self.value(item, field, depth + 1) for _ in range(rng.randrange(3))]
        if kind == "integer":
            return self.integer()
        if kind == "number":
            return self.integer() if rng.random() < 0.5 else rng.choice(FLOATS)
        if kind == "boolean":
            return rng.random() < 0.5
        if kind == "null":
            return None
        return self.string(field)

    def object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        rng = self.rng
        properties: dict[str, Any] = schema.get("properties") or {}
        if not properties:
            extra = schema.get("additionalProperties")
            if not isinstance(extra, dict) or depth >= MAX_SCHEMA_DEPTH:
                return {}
            keys = [rng.choice(NAMES + ODD_STRINGS) for _ in range(rng.randrange(3))]
            return {k: self.value(extra, "", depth + 1) for k in keys}
        required = [k for k in schema.get("required", ()) if k in properties]
        optional = sorted(k for k in properties if k not in required)
        picked: list[str] = []
        if optional and depth < MAX_SCHEMA_DEPTH:
            picked = rng.sample(optional, min(len(optional), rng.randrange(MAX_OPTIONAL + 1)))
        return {k: self.value(properties[k], k, depth + 1) for k in [*required, *picked]}

    def pod_spec(self) -> dict[str, Any]:
        spec = self.object(self.defs["io.k8s.api.core.v1.PodSpec"], 1)
        containers = []
        for i in range(self.rng.randint(1, 2)):
            container = self.object(self.defs["io.k8s.api.core.v1.Container"], 2)
            container.update(name=f"c{i}", image=container.get("image") or "busybox")
            containers.append(container)
        spec["containers"] = containers
        return spec

    def kube_object(self) -> dict[str, Any]:
        """One object of a kind kubeplay plays, from the schema, close enough to valid."""
        kind = self.rng.choice(sorted(KINDS))
        api_version, definition = KINDS[kind]
        body = self.object(self.defs[definition], 0)
        meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        meta["name"] = self.rng.choice(NAMES[:4])
        body.update(apiVersion=api_version, kind=kind, metadata=meta)
        body.pop("status", None)
        if kind == "Pod":
            body["spec"] = self.pod_spec()
        elif kind == "Deployment":
            labels = {"app": "web"}
            body["spec"] = {
                "replicas": self.rng.choice([0, 1, 2]),
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": self.pod_spec()},
            }
        return body

    # --- mutations ----------------------------------------------------------------------------

    def mutated(self, body: dict[str, Any]) -> dict[str, Any]:
        """`body` with up to three mutations at paths drawn from it."""
        rng = self.rng
        for _ in range(rng.randrange(4)):
            paths = _paths(body)
            if not paths:
                break
            path = rng.choice(paths)
            parent, key = _parent(body, path), path[-1]
            how = rng.choice(["delete", "replace", "odd", "deep", "share", "bomb", "recursive"])
            if how == "delete":
                del parent[key]
            elif how == "replace":
                parent[key] = rng.choice(REPLACEMENTS)
            elif how == "odd":
                parent[key] = self.string("")
            elif how == "deep":
                parent[key] = _deep(rng.choice([20, 60, 99, 101, 150]))
            elif how == "share":
                other = rng.choice(paths)
                parent[key] = _parent(body, other)[other[-1]]
            elif how == "bomb":
                parent[key] = _bomb(rng.randint(1, 9))
            else:
                node: list[Any] = ["self"]
                node.append(node)  # a list that contains itself: a recursive YAML alias
                parent[key] = node
        return body

    def damaged(self, text: str) -> str:
        """Text-level damage: an inserted odd character, or a cut."""
        rng = self.rng
        how = rng.choice(["none", "none", "none", "char", "cut"])
        if how == "none" or not text:
            return text
        at = rng.randrange(len(text))
        if how == "cut":
            return text[:at]
        return text[:at] + rng.choice(DAMAGE) + text[at:]

    def documents(self) -> tuple[str, int]:
        """(text, number of documents): one to three objects, each mutated, YAML or JSON."""
        count = self.rng.randint(1, 3)
        clean = self.rng.random() < CLEAN_SHARE
        parts = []
        for _ in range(count):
            body = self.kube_object()
            parts.append(
                dump(body if clean else self.mutated(body), as_json=self.rng.random() < 0.3)
            )
        text = "\n---\n".join(parts)
        return (text if clean else self.damaged(text)), count


# Printable and unprintable code points, ASCII and beyond, for drawn strings.
_CODEPOINTS = [*range(0x20, 0x7F), 0x0, 0x1, 0x9, 0xA, 0x1B, 0x7F, 0x85, 0xE9, 0x202E, 0x1F600]
DAMAGE = ["\x00", "\x01", "\x1b", "\t", "\ufeff", "&", "*", "!", "{", "\\"]


def documents() -> st.SearchStrategy[tuple[str, int]]:
    """The hypothesis strategy: a seed, then `Builder.documents`."""
    return st.integers(min_value=0, max_value=2**64 - 1).map(
        lambda seed: Builder(random.Random(seed)).documents()
    )


def _paths(value: Any) -> list[tuple[Any, ...]]:
    """A path to each value inside `value` (not the root); a shared or recursive list or
    mapping is entered once, so a bomb costs its size as written."""
    found: list[tuple[Any, ...]] = []
    seen: set[int] = set()
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    while stack:
        node, at = stack.pop()
        if isinstance(node, dict | list):
            if id(node) in seen:
                continue
            seen.add(id(node))
        items = (
            list(node.items())
            if isinstance(node, dict)
            else list(enumerate(node))
            if isinstance(node, list)
            else []
        )
        for key, child in items:
            found.append((*at, key))
            stack.append((child, (*at, key)))
    return sorted(found, key=repr)


def _parent(body: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        body = body[key]
    return body


def _deep(depth: int) -> Any:
    value: Any = "leaf"
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


def _bomb(levels: int) -> Any:
    value: Any = ["lol"] * 9
    for _ in range(levels):
        value = [value] * 9  # one list shared nine times: YAML writes it as aliases
    return value


REPLACEMENTS: list[Any] = [
    None,
    True,
    0,
    -1,
    2**31,
    2**63,
    1.5,
    float("nan"),
    "",
    "x" * 5_000,
    "\x00",
    "a\nb",
    "é" * 10,
    [],
    [None],
    [[]],
    {},
    {"": None},
    {"k": [1, "a", None]},
]


class _Dumper(yaml.CSafeDumper):
    """libyaml's SafeDumper: shared values become anchors and aliases, floats include nan
    and inf; in C, as emitting is most of the time a document takes to make."""


def _shares(value: Any) -> bool:
    """Whether a list or mapping appears twice in `value` (shared, or inside itself)."""
    seen: set[int] = set()
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict | list):
            if id(node) in seen:
                return True
            seen.add(id(node))
            stack.extend(node.values() if isinstance(node, dict) else node)
    return False


def dump(body: Any, *, as_json: bool) -> str:
    """YAML (shared values as anchors and aliases), or JSON when nothing is shared."""
    if as_json and not _shares(body):
        return json.dumps(body, allow_nan=True)
    return yaml.dump(body, Dumper=_Dumper, allow_unicode=True, width=1000, sort_keys=False)
