"""The field tables and the support doc stay true.

- every field of the Pod schema (PodSpec, Container, security contexts, volumes, mounts...) of
  the newest bundled Kubernetes is in `kube/fields.py`: implemented, or with a message, so no
  field is ever dropped silently;
- docs/kubernetes-support.md lists every PodSpec and Container field, and every test it names
  (`path::test`) exists; each row that says supported names at least one test.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from kubeplay.kube import fields, validate

REPO = Path(__file__).resolve().parents[3]
DOC = REPO / "docs" / "kubernetes-support.md"
# A test reference in the doc: `tests/unit/plan/test_x.py::test_y` or a whole file.
TEST_REF = re.compile(r"`((?:tests|e2e)/[\w/]+\.py)(?:::(\w+))?`")


def _definitions() -> dict[str, Any]:
    from kubernetes_validate import utils

    version = validate.resolve_schema_version("")
    path = f"kubernetes-json-schema/v{version}-local-strict/_definitions.json"
    defs: dict[str, Any] = utils.schema_contents(path, version)["$defs"]
    return defs


def _resolve(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    for holder in (schema, *schema.get("allOf", ()), *schema.get("anyOf", ())):
        if "$ref" in holder:
            resolved: Mapping[str, Any] = defs[holder["$ref"].rsplit("/", 1)[-1]]
            return resolved
    return schema


def _uncovered(schema: Mapping[str, Any], pattern: str, defs: Mapping[str, Any]) -> Iterator[str]:
    """Schema field paths the tables neither implement nor give a message."""
    schema = _resolve(schema, defs)
    if "items" in schema:
        yield from _uncovered(schema["items"], f"{pattern}[*]", defs)
        return
    for key, sub in (schema.get("properties") or {}).items():
        path = f"{pattern}.{key}" if pattern else key
        if path in fields.MESSAGES:
            continue
        if path not in fields.IMPLEMENTED:
            yield path
        elif path in fields.PARENTS:  # the walk descends: each child must be named
            yield from _uncovered(sub, path, defs)


def test_every_pod_schema_field_is_implemented_or_has_a_message() -> None:
    defs = _definitions()
    assert list(_uncovered(defs["io.k8s.api.core.v1.Pod"], "", defs)) == []


def test_the_walk_finds_an_unlisted_field(monkeypatch: pytest.MonkeyPatch) -> None:
    defs = _definitions()
    messages = dict(fields.MESSAGES)
    del messages["spec.hostUsers"]
    monkeypatch.setattr(fields, "MESSAGES", messages)
    assert list(_uncovered(defs["io.k8s.api.core.v1.Pod"], "", defs)) == ["spec.hostUsers"]


def _section(title: str) -> str:
    text = DOC.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def _first_cells(section: str) -> str:
    return "\n".join(line.split("|")[1] for line in section.splitlines() if line.startswith("| "))


@pytest.mark.parametrize(
    ("definition", "section"),
    [
        pytest.param("io.k8s.api.core.v1.PodSpec", "Pod", id="pod-spec"),
        pytest.param("io.k8s.api.core.v1.PodSecurityContext", "Pod", id="pod-security-context"),
        pytest.param("io.k8s.api.core.v1.Volume", "Pod", id="volume-sources"),
        pytest.param("io.k8s.api.core.v1.Container", "Container", id="container"),
        pytest.param("io.k8s.api.core.v1.SecurityContext", "Container", id="security-context"),
        pytest.param("io.k8s.api.core.v1.VolumeMount", "Container", id="volume-mount"),
        pytest.param("io.k8s.api.core.v1.ResourceRequirements", "Container", id="resources"),
    ],
)
def test_support_doc_lists_every_field(definition: str, section: str) -> None:
    names = _first_cells(_section(section))
    missing = [
        name
        for name in _definitions()[definition]["properties"]
        if not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", names)
    ]
    assert missing == []


def _defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def test_every_test_the_doc_names_exists() -> None:
    refs = TEST_REF.findall(DOC.read_text())
    assert refs
    missing = []
    for file, name in refs:
        path = REPO / file
        if not path.is_file() or (name and name not in _defined_tests(path)):
            missing.append(f"{file}::{name}" if name else file)
    assert missing == []


def test_every_supported_row_names_a_test() -> None:
    rows = [line for line in DOC.read_text().splitlines() if line.startswith("| ")]
    untested = [
        row.split("|")[1].strip()
        for row in rows
        if len(cells := row.split("|")) > 3
        and cells[2].strip().startswith("supported")
        and not TEST_REF.search(row)
    ]
    assert untested == []
