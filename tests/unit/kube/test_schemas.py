"""Compiled strict schemas: the small checker must agree with jsonschema on every object,
so that skipping jsonschema for a valid object never accepts what the API server refuses."""

from __future__ import annotations

import functools
import json
import textwrap
from typing import Any

import jsonschema
import pytest
import yaml

from kubeplay.errors import ManifestError
from kubeplay.kube import loader, schemas, validate


@functools.cache
def _definitions(version: str) -> dict[str, Any]:
    path = validate.schema_root() / f"v{version}-local-strict" / "_definitions.json"
    return dict(json.loads(path.read_text())["$defs"])


def _compiled(version: str, kind: str, api_version: str) -> Any:
    path = validate.schema_root() / f"v{version}-local-strict"
    try:
        schema = json.loads((path / schemas.schema_filename(kind, api_version)).read_text())
    except FileNotFoundError:
        return None
    return schemas.compile_schema(schema, _definitions(version))


def _jsonschema_valid(kind: str, api_version: str, body: Any) -> bool:
    version = validate.resolve_schema_version("")
    validator = validate._validator(version, kind, api_version)
    try:
        validator.validate(body)
    except jsonschema.ValidationError:
        return False
    return True


POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {"containers": [{"name": "app", "image": "nginx"}]},
}


def _with(path: str, value: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    body = json.loads(json.dumps(base or POD))
    *parents, last = path.split(".")
    node: Any = body
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return body


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        pytest.param(POD, True, id="minimal-pod"),
        pytest.param(_with("spec.restartPolicy", "Never"), True, id="restart-policy"),
        pytest.param(_with("kind", "Pods"), False, id="kind-not-in-enum"),
        pytest.param(_with("apiVersion", 1), False, id="enum-of-strings-refuses-integer"),
        pytest.param(_with("spec.restartPolicy", None), True, id="null-restart-policy-is-unset"),
        pytest.param(_with("spec.hostname", 5), False, id="string-field-refuses-integer"),
        pytest.param(
            _with("spec.terminationGracePeriodSeconds", 1.0), True, id="integral-float-is-integer"
        ),
        pytest.param(
            _with("spec.terminationGracePeriodSeconds", 1.5), False, id="fraction-is-not-integer"
        ),
        pytest.param(
            _with("spec.terminationGracePeriodSeconds", True), False, id="boolean-is-not-integer"
        ),
        pytest.param(_with("spec.hostNetwork", "yes"), False, id="boolean-field-refuses-string"),
        pytest.param(_with("spec.bogus", 1), False, id="unknown-field-strict"),
        pytest.param(_with("metadata.labels.app", 1), False, id="label-values-are-strings"),
        pytest.param(_with("spec.containers", []), True, id="empty-containers-left-to-rules"),
        pytest.param(
            _with("spec.containers", {"name": "a"}), False, id="list-field-refuses-object"
        ),
        pytest.param(
            _with("spec.containers.0", {"image": "x"}), False, id="container-name-required"
        ),
        pytest.param(
            _with("spec.containers.0.ports", [{"containerPort": "http"}]),
            False,
            id="container-port-is-integer",
        ),
        pytest.param(
            _with(
                "spec.containers.0.livenessProbe",
                {"httpGet": {"port": "http", "path": "/"}},
            ),
            True,
            id="int-or-string-port-as-name",
        ),
        pytest.param(
            _with("spec.containers.0.livenessProbe", {"httpGet": {"port": 8080}}),
            True,
            id="int-or-string-port-as-number",
        ),
        pytest.param(
            _with("spec.containers.0.livenessProbe", {"httpGet": {"port": None}}),
            False,
            id="int-or-string-null-matches-both-one-of",
        ),
        pytest.param(
            _with("spec.containers.0.livenessProbe", {"httpGet": {"port": 1.5}}),
            False,
            id="int-or-string-refuses-fraction",
        ),
        pytest.param(
            _with("spec.containers.0.resources", {"limits": {"memory": "64Mi", "cpu": 1}}),
            True,
            id="quantity-string-or-number",
        ),
        pytest.param(
            _with("metadata.annotations", {"when": yaml.safe_load("2024-01-01")}),
            False,
            id="yaml-date-is-not-a-string",
        ),
        pytest.param(
            _with("spec.activeDeadlineSeconds", 2**63),
            False,
            id="int64-format-out-of-range",
        ),
        pytest.param(
            _with("spec.containers.0.ports", [{"containerPort": 2**31}]),
            False,
            id="int32-format-out-of-range",
        ),
        pytest.param(
            _with("spec.containers.0.ports", [{"containerPort": 2**31 - 1}]),
            True,
            id="int32-format-at-its-maximum",
        ),
    ],
)
def test_compiled_schema_agrees_with_jsonschema(body: dict[str, Any], valid: bool) -> None:
    version = validate.resolve_schema_version("")
    compiled = _compiled(version, "Pod", "v1")
    assert _jsonschema_valid("Pod", "v1", body) is valid
    assert schemas.is_valid(body, compiled) is valid


def test_every_bundled_kind_of_the_newest_version_compiles() -> None:
    version = validate.resolve_schema_version("")
    directory = validate.schema_root() / f"v{version}-local-strict"
    names = sorted(p.name for p in directory.glob("*.json") if not p.name.startswith("_"))
    assert len(names) > 100
    refused = [
        name
        for name in names
        if schemas.compile_schema(json.loads((directory / name).read_text()), _definitions(version))
        is None
    ]
    assert refused == []


@pytest.mark.parametrize(
    "schema",
    [
        pytest.param({"type": "string", "pattern": "^a"}, id="pattern-is-not-implemented"),
        pytest.param({"type": "integer", "minimum": 0}, id="minimum-is-not-implemented"),
        pytest.param({"enum": [1, 2]}, id="enum-of-numbers-is-not-implemented"),
        pytest.param({"$ref": "#/$defs/missing"}, id="dangling-reference"),
        pytest.param({"type": "date"}, id="unknown-type"),
    ],
)
def test_compile_refuses_what_the_checker_does_not_implement(schema: dict[str, Any]) -> None:
    assert schemas.compile_schema({"properties": {"spec": schema}}, {}) is None


def test_property_names_that_look_like_keywords_are_properties() -> None:
    compiled = schemas.compile_schema(
        {
            "properties": {"$ref": {"type": "string"}, "pattern": {"type": "integer"}},
            "additionalProperties": False,
        },
        {},
    )
    assert compiled is not None
    assert schemas.is_valid({"$ref": "x", "pattern": 1}, compiled)
    assert not schemas.is_valid({"$ref": 1}, compiled)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: w\nspec:\n  bogus: 1\n",
            id="unknown-field",
        ),
        pytest.param(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: w\nspec:\n  containers:\n"
            "  - name: a\n    image: x\n    ports:\n    - containerPort: http\n",
            id="wrong-type",
        ),
        pytest.param(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: w\nspec:\n  containers:\n  - image: x\n",
            id="required-field",
        ),
        pytest.param(
            "apiVersion: v9\nkind: Pod\nmetadata:\n  name: w\n", id="unsupported-api-version"
        ),
        pytest.param("apiVersion: v1\nkind: Container\nname: a\n", id="nested-type-is-not-a-kind"),
    ],
)
def test_validation_with_compiled_schemas_gives_the_same_errors(text: str) -> None:
    objects = loader.load_text(textwrap.dedent(text), source="pod.yaml")
    with pytest.raises(ManifestError) as plain:
        validate.validate(objects)
    with pytest.raises(ManifestError) as fast:
        validate.validate(objects, compiled=_compiled)
    assert str(fast.value) == str(plain.value)
    assert fast.value.path == plain.value.path


def test_bundled_versions_are_kubernetes_validates() -> None:
    from kubernetes_validate import utils

    assert validate.bundled_versions() == list(dict.fromkeys(utils.all_versions()))
