"""Compiled strict schemas: one kind's schema with only the definitions it reaches, and a
small checker that says whether an object is valid, without jsonschema.

kubernetes-validate's strict schemas use a handful of keywords (type, properties,
additionalProperties, required, items, enum of strings, oneOf, $ref; and format, which kubeplay
asserts for int32 and int64 as the API server's ranges, `apirules.fits_format`).
`compile_schema` keeps exactly those and refuses (returns None) a schema using any other, so
`is_valid` is exact for what it accepts: valid here means jsonschema finds no error.
An invalid object goes to jsonschema for its error message (`validate.check_schema`), so the
messages are the same. Pure: callers read the schema files and cache the result (a state
adapter keeps it on disk per kubernetes-validate and Kubernetes version).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kubeplay.kube import apirules

# Keywords that only annotate (jsonschema asserts no format without a format checker).
_ANNOTATIONS = frozenset({"description", "default", "title", "example", "$schema", "$id"})
# Bump when what `compile_schema` keeps changes: the on-disk cache is keyed by it.
COMPILE_VERSION = "2"
_DEFS = "#/$defs/"
_GROUP = re.compile(r"^([^./]*)(?:\.[^/]*)?/")


def schema_filename(kind: str, api_version: str) -> str:
    """The kind's file in kubernetes-validate's schema directory (as its `validate()` names
    it): `pod-v1.json`, `deployment-apps-v1.json`."""
    group = _GROUP.sub(r"\1-", api_version)
    return f"{kind.lower()}-{group}.json"


def compile_schema(schema: Mapping[str, Any], definitions: Mapping[str, Any]) -> Any:
    """`{"root": ..., "defs": {name: ...}}` with the validation keywords of `schema` and of
    every definition it reaches (`definitions`: the `$defs` of `_definitions.json`); None
    when a keyword outside those `is_valid` implements appears."""
    defs: dict[str, Any] = {}
    todo: list[str] = []

    def ref_name(ref: Any) -> str | None:
        if not isinstance(ref, str) or _DEFS not in ref:
            return None
        return ref.split(_DEFS, 1)[1]

    def strip(node: Any) -> Any:
        if not isinstance(node, Mapping):
            raise _Unsupported
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _ANNOTATIONS or key.startswith("x-"):
                continue
            if key == "$ref":
                name = ref_name(value)
                if name is None or name not in definitions:
                    raise _Unsupported
                if name not in defs:
                    defs[name] = None
                    todo.append(name)
                out[key] = name
            elif key == "type":
                types = [value] if isinstance(value, str) else value
                if not isinstance(types, list) or not set(types) <= _TYPES.keys():
                    raise _Unsupported
                out[key] = types
            elif key == "properties":
                out[key] = {prop: strip(sub) for prop, sub in value.items()}
            elif key == "additionalProperties":
                out[key] = value if isinstance(value, bool) else strip(value)
            elif key == "items":
                out[key] = strip(value)
            elif key == "required":
                out[key] = list(value)
            elif key == "enum":
                if not all(v is None or isinstance(v, str) for v in value):
                    raise _Unsupported
                out[key] = list(value)
            elif key == "oneOf":
                out[key] = [strip(sub) for sub in value]
            elif key == "format":
                if value in apirules.INT_FORMATS:
                    out[key] = value
            else:
                raise _Unsupported
        return out

    try:
        root = strip(schema)
        while todo:
            name = todo.pop()
            defs[name] = strip(definitions[name])
    except (_Unsupported, AttributeError, TypeError):
        return None
    return {"root": root, "defs": defs}


class _Unsupported(Exception):
    """A keyword or shape `is_valid` does not implement."""


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


_TYPES: dict[str, Any] = {
    "string": lambda v: isinstance(v, str),
    "integer": _is_integer,
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


def is_valid(instance: Any, compiled: Mapping[str, Any]) -> bool:
    """True when `instance` meets the compiled schema (jsonschema would raise nothing)."""
    return _check(instance, compiled["root"], compiled["defs"])


def _check(value: Any, node: Mapping[str, Any], defs: Mapping[str, Any]) -> bool:
    ref = node.get("$ref")
    if ref is not None and not _check(value, defs[ref], defs):
        return False
    types = node.get("type")
    if types is not None and not any(_TYPES[t](value) for t in types):
        return False
    enum = node.get("enum")  # strings and null only: nothing else equals them
    if enum is not None and not ((value is None or isinstance(value, str)) and value in enum):
        return False
    fmt = node.get("format")
    if fmt is not None and not apirules.fits_format(value, fmt):
        return False
    one_of = node.get("oneOf")
    if one_of is not None and sum(_check(value, sub, defs) for sub in one_of) != 1:
        return False
    if isinstance(value, dict):
        return _check_object(value, node, defs)
    items = node.get("items")
    if isinstance(value, list) and items is not None:
        return all(_check(item, items, defs) for item in value)
    return True


def _check_object(value: dict[Any, Any], node: Mapping[str, Any], defs: Mapping[str, Any]) -> bool:
    required = node.get("required")
    if required is not None and any(k not in value for k in required):
        return False
    props = node.get("properties") or {}
    extra = node.get("additionalProperties", True)
    for key, item in value.items():
        if not isinstance(key, str):
            return False
        sub = props.get(key)
        if sub is None:
            if extra is True:
                continue
            if extra is False:
                return False
            sub = extra
        if not _check(item, sub, defs):
            return False
    return True
