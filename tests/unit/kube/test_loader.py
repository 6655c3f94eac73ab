"""Loading manifests: documents, Lists, positions for errors, and the sources they come from.

Cases follow what `kubectl apply -f` accepts: multi-document YAML, `kind: List`, a directory of
manifests, `-` for stdin. Positions are 1-based, as an editor shows them.
"""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pytest

from kubeplay.errors import ManifestError
from kubeplay.kube import loader

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: app
    image: nginx
"""


def _load(text: str) -> list[tuple[str, str, int, int]]:
    """(kind, name, doc_index, line) of each object loaded from `text`."""
    objects = loader.load_text(textwrap.dedent(text), source="pod.yaml")
    return [(o.kind, o.name, o.doc_index, o.line) for o in objects]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(POD, [("Pod", "web", 1, 1)], id="single-document"),
        pytest.param(
            POD + "---\n" + POD.replace("web", "db"),
            [("Pod", "web", 1, 1), ("Pod", "db", 2, 10)],
            id="multi-document",
        ),
        pytest.param(
            "---\n---\n# only a comment\n---\n" + POD + "---\n",
            [("Pod", "web", 3, 5)],
            id="empty-documents-skipped-but-counted",
        ),
        pytest.param("", [], id="empty-file"),
        pytest.param(
            """\
            # leading comment
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: settings}
            """,
            [("ConfigMap", "settings", 1, 2)],
            id="document-line-is-first-content-line",
        ),
        pytest.param(
            """\
            apiVersion: v1
            kind: List
            items:
            - apiVersion: v1
              kind: ConfigMap
              metadata: {name: a}
            - apiVersion: v1
              kind: Secret
              metadata: {name: b}
            """,
            [("ConfigMap", "a", 1, 4), ("Secret", "b", 1, 7)],
            id="list-flattened-items-keep-document-index",
        ),
        pytest.param(
            """\
            apiVersion: v1
            kind: PodList
            items:
            - {apiVersion: v1, kind: Pod, metadata: {name: a}}
            """,
            [("Pod", "a", 1, 4)],
            id="typed-list-flattened",
        ),
        pytest.param(
            "apiVersion: v1\nkind: List\nitems: []\n",
            [],
            id="empty-list",
        ),
        pytest.param(
            '{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev"}}',
            [("Namespace", "dev", 1, 1)],
            id="json-document",
        ),
    ],
)
def test_load_text_objects(text: str, expected: list[tuple[str, str, int, int]]) -> None:
    assert _load(text) == expected


def test_field_lines_point_at_keys_and_list_items() -> None:
    (pod,) = loader.load_text("---\n" + POD, source="pod.yaml")
    assert pod.line == 2
    assert pod.lines["spec.containers"] == 7
    assert pod.lines["spec.containers[0]"] == 8
    assert pod.lines["spec.containers[0].image"] == 9
    assert pod.line_of("spec.containers[0].livenessProbe.exec") == 8


def test_list_item_lines_are_relative_to_the_item() -> None:
    text = "apiVersion: v1\nkind: List\nitems:\n- " + POD.replace("\n", "\n  ")
    (pod,) = loader.load_text(text, source="list.yaml")
    assert pod.lines["spec.containers[0].image"] == 11
    assert "items" not in pod.lines


def test_timestamps_stay_strings_as_in_kubernetes() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {day: 2024-01-31}\n"
    (config,) = loader.load_text(text, source="c.yaml")
    assert config.body["data"] == {"day": "2024-01-31"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            POD + "---\nkind: Pod\nmetadata: [unclosed\n",
            "pod.yaml:12: document 2: invalid YAML: did not find expected ',' or ']'",
            id="bad-yaml-names-document-and-line",
        ),
        pytest.param(
            "apiVersion: v1\nkind: Pod\n  name: web\n",
            "pod.yaml:3: document 1: invalid YAML: mapping values are not allowed in this context",
            id="bad-yaml-indentation",
        ),
        pytest.param(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nkind: Service\n",
            "pod.yaml:4: document 1: kind: invalid YAML: duplicate key 'kind'",
            id="duplicate-key-rejected-like-kubectl",
        ),
        pytest.param(
            "- apiVersion: v1\n- kind: Pod\n",
            "pod.yaml:1: document 1: must be a mapping (a Kubernetes object), got a list",
            id="document-not-a-mapping",
        ),
        pytest.param(
            "kind: Pod\nmetadata: {name: web}\n",
            "pod.yaml:1: document 1: apiVersion: required",
            id="missing-api-version",
        ),
        pytest.param(
            "---\n---\napiVersion: v1\nmetadata: {name: web}\n",
            "pod.yaml:3: document 2: kind: required",
            id="missing-kind",
        ),
        pytest.param(
            "apiVersion: v1\nkind: 3\n",
            "pod.yaml:1: document 1: kind: must be a string, got 3",
            id="kind-not-a-string",
        ),
        pytest.param(
            "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1}\n",
            "pod.yaml:4: document 1: items[0].kind: required",
            id="list-item-missing-kind",
        ),
    ],
)
def test_load_text_errors(text: str, expected: str) -> None:
    with pytest.raises(ManifestError) as caught:
        loader.load_text(text, source="pod.yaml")
    assert str(caught.value) == expected


def test_bad_yaml_error_carries_position_fields() -> None:
    with pytest.raises(ManifestError) as caught:
        loader.load_text(POD + "---\nkind: [\n", source="pod.yaml")
    assert (caught.value.source, caught.value.doc_index, caught.value.line) == ("pod.yaml", 2, 11)


def test_directory_source_reads_manifests_sorted_not_recursive(tmp_path: Path) -> None:
    (tmp_path / "b.yml").write_text(POD.replace("web", "b"))
    (tmp_path / "a.yaml").write_text(POD.replace("web", "a"))
    (tmp_path / "c.json").write_text('{"apiVersion": "v1", "kind": "Namespace"}')
    (tmp_path / "notes.txt").write_text("not a manifest")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.yaml").write_text(POD)
    names = [name for name, _ in loader.read_sources([str(tmp_path)])]
    assert names == [str(tmp_path / n) for n in ("a.yaml", "b.yml", "c.json")]
    assert [o.name for o in loader.load([str(tmp_path)])] == ["a", "b", ""]


def test_file_source_keeps_its_path_as_name(tmp_path: Path) -> None:
    path = tmp_path / "pod.yaml"
    path.write_text(POD)
    (pod,) = loader.load([str(path)])
    assert (pod.source, pod.name) == (str(path), "web")


def _stdin(data: bytes) -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")


def test_stdin_source_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", _stdin(POD.encode()))
    (pod,) = loader.load(["-"])
    assert (pod.source, pod.name, pod.doc_index) == ("<stdin>", "web", 1)


def test_stdin_source_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", _stdin(POD.encode()))
    assert loader.read_sources(["-"]) == [("<stdin>", POD)]


def test_missing_path_is_named(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.yaml")
    with pytest.raises(ManifestError) as caught:
        loader.read_sources([missing])
    assert str(caught.value) == f"{missing}: no such file or directory"


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        pytest.param(["spec", "containers", 0, "image"], "spec.containers[0].image", id="nested"),
        pytest.param([], "", id="root"),
        pytest.param(["items", 2], "items[2]", id="list-item"),
    ],
)
def test_format_path(parts: list[str | int], expected: str) -> None:
    assert loader.format_path(parts) == expected


_BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else 'lol'}]\n"
    for prev, name in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            _BOMB + "apiVersion: v1\nkind: Pod\n",
            "document 1: invalid YAML: its aliases expand to more than 1000000 values",
            id="billion-laughs-alias-bomb-is-refused-before-construction",
        ),
        pytest.param(
            "a: &a [*a]\n",
            "document 1: invalid YAML: an alias refers to itself",
            id="recursive-alias-is-refused",
        ),
        pytest.param(
            "a: " + "[" * 5000 + "]" * 5000 + "\n",
            "document 1: invalid YAML: exceeded maximum nesting depth",
            id="deep-nesting-is-an-error-not-a-recursion-traceback",
        ),
        pytest.param(
            "\x00\x01binary",
            "document 1: invalid YAML: control characters are not allowed",
            id="control-characters-are-a-yaml-error",
        ),
    ],
)
def test_hostile_yaml_is_a_manifest_error(text: str, expected: str) -> None:
    with pytest.raises(ManifestError) as caught:
        loader.load_text(text, source="x.yaml")
    assert expected in str(caught.value)
    assert str(caught.value).startswith("x.yaml")


def test_binary_stdin_is_not_utf8(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", _stdin(b"\xff\xfe\x00binary"))
    with pytest.raises(ManifestError) as caught:
        loader.read_sources(["-"])
    assert str(caught.value) == "<stdin>: not UTF-8 text"


def test_a_file_larger_than_the_limit_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "MAX_SOURCE_BYTES", 1024 * 1024)
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * (1024 * 1024) + "\n")
    with pytest.raises(ManifestError) as caught:
        loader.read_sources([str(big)])
    assert str(caught.value).startswith(f"{big}: larger than 1 MiB: not a manifest")
