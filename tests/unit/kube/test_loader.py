"""Loading manifests: documents, Lists, positions for errors, and the sources they come from.

Cases follow what `kubectl apply -f` accepts: multi-document YAML, `kind: List`, a directory of
manifests, `-` for stdin. Positions are 1-based, as an editor shows them.
"""

from __future__ import annotations

import io
import os
import socket
import textwrap
from collections.abc import Callable
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


def test_stdin_source_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(POD))
    (pod,) = loader.load(["-"])
    assert (pod.source, pod.name, pod.doc_index) == ("<stdin>", "web", 1)


def test_stdin_source_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(POD))
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


def _laughs(levels: int, width: int = 9) -> str:
    """A billion-laughs document: each level lists the previous one `width` times."""
    lines = [f"  l0: &l0 [{', '.join(['lol'] * width)}]"]
    for i in range(1, levels):
        lines.append(f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]")
    return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n" + "\n".join(lines)


def _chain(levels: int, depth: int) -> str:
    """Anchors each `depth` levels deep whose innermost value is the previous anchor: small as
    written, nested `levels * depth` levels once expanded."""
    docs = ["a0: &a0 x"]
    for i in range(1, levels):
        docs.append(f"a{i}: &a{i} " + "[" * depth + f"*a{i - 1}" + "]" * depth)
    return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n" + "\n".join(docs)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            _laughs(10),
            "pod.yaml:9: document 1: too many aliased nodes: its aliases add more than 20000 "
            "nodes to the document",
            id="alias-bomb-billion-laughs",
        ),
        pytest.param(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n"
            f"  big: &big {'x' * 100_000}\n"
            "  copies: [" + ", ".join(["*big"] * 40) + "]\n",
            "pod.yaml:6: document 1: document too large once its aliases are expanded: "
            "more than 3145728 bytes",
            id="alias-expanded-bytes-limit",
        ),
        pytest.param(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n"
            + "".join(f"  k{i}: &a{i} v\n" for i in range(2))
            + "  list: ["
            + ", ".join(["*a0"] * 1001)
            + "]\n",
            "pod.yaml:5: document 1: too many aliases: more than 1000 in one document",
            id="alias-count-limit-like-go-yaml-excessive-aliasing",
        ),
        pytest.param(
            "a: &a [*a]\n",
            "pod.yaml:1: document 1: invalid YAML: recursive alias: the node at line 1 "
            "contains itself",
            id="recursive-alias-in-a-list",
        ),
        pytest.param(
            "apiVersion: v1\nkind: Pod\nmetadata: &m {name: p, labels: *m}\n",
            "pod.yaml:3: document 1: invalid YAML: recursive alias: the node at line 3 "
            "contains itself",
            id="recursive-alias-in-a-mapping",
        ),
        pytest.param(
            "apiVersion: v1\nkind: Pod\nspec: " + "[" * 1000 + "]" * 1000 + "\n",
            "pod.yaml:3: document 1: invalid YAML: exceeded maximum nesting depth",
            id="nesting-1000-levels-flow-libyaml-limit",
        ),
        pytest.param(
            "apiVersion: v1\nkind: Pod\nspec:\n"
            + "".join(" " * i + f"k{i}:\n" for i in range(1, 200))
            + " " * 200
            + "v: 1\n",
            "pod.yaml:102: document 1: invalid YAML: nested more than 100 levels deep",
            id="nesting-block-mappings",
        ),
        pytest.param(
            _chain(5, 30),
            "pod.yaml:8: document 1: nested more than 100 levels deep once its aliases are "
            "expanded",
            id="nesting-through-aliases",
        ),
        pytest.param(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p\x01}\n",
            "pod.yaml:3: document 1: invalid YAML: control characters are not allowed (#x0001)",
            id="control-character",
        ),
        pytest.param(
            POD + "---\n" + "apiVersion: v1\nkind: Pod\nmetadata: {name: p\x1b}\n",
            "pod.yaml:12: document 1: invalid YAML: control characters are not allowed (#x001b)",
            id="control-character-in-a-later-document",
        ),
        pytest.param(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: é}\ndata: {a: \x07}\n",
            "pod.yaml:4: document 1: invalid YAML: control characters are not allowed (#x0007)",
            id="control-character-after-non-ascii",
        ),
        pytest.param(
            "apiVersion: v1\nkind: Pod\nspec: " + "[" * 150 + "]" * 150 + "\n",
            "pod.yaml:3: document 1: invalid YAML: nested more than 100 levels deep",
            id="nesting-150-levels-flow",
        ),
    ],
)
def test_hostile_input_is_refused(text: str, expected: str) -> None:
    with pytest.raises(ManifestError) as caught:
        loader.load_text(text, source="pod.yaml")
    assert str(caught.value) == expected
    assert caught.value.exit_code == 2


def test_document_too_large_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "MAX_DOCUMENT_BYTES", 1000)
    text = POD + "---\n" + "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n"
    text += "".join(f"  k{i}: {'v' * 50}\n" for i in range(30))
    with pytest.raises(ManifestError) as caught:
        loader.load_text(text, source="big.yaml")
    assert str(caught.value).startswith("big.yaml:10: document 2: document too large: ")
    assert str(caught.value).endswith("bytes, at most 1000")


def test_aliases_within_bounds_still_load() -> None:
    (laughs,) = loader.load_text(_laughs(3), source="p.yaml")
    assert laughs.body["data"]["l2"] == [[["lol"] * 9] * 9] * 9
    (chain,) = loader.load_text(_chain(3, 20), source="p.yaml")
    value, depth = chain.body["a2"], 0
    while isinstance(value, list):
        value, depth = value[0], depth + 1
    assert (value, depth) == ("x", 40)


def test_input_size_is_bounded_over_all_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "MAX_INPUT_BYTES", 2 * len(POD) + 10)
    for name in ("a.yaml", "b.yaml", "c.yaml"):
        (tmp_path / name).write_text(POD)
    with pytest.raises(ManifestError) as caught:
        loader.read_sources([str(tmp_path)])
    limit = 2 * len(POD) + 10
    expected = f"{tmp_path / 'c.yaml'}: input too large: more than {limit} bytes in all"
    assert str(caught.value) == expected
    assert len(loader.read_sources([str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")])) == 2


def test_stdin_size_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "MAX_INPUT_BYTES", 10)
    monkeypatch.setattr("sys.stdin", io.StringIO(POD))
    with pytest.raises(ManifestError, match=r"^<stdin>: input too large: more than 10 bytes"):
        loader.read_sources(["-"])


def _bind_unix_socket(path: str) -> None:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(path)  # the socket file stays after close


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        pytest.param(lambda p: os.mkfifo(p), "a FIFO", id="fifo-never-read"),
        pytest.param(lambda p: os.symlink(p, p), "a symbolic link loop", id="symlink-loop"),
        pytest.param(
            lambda p: os.symlink(p + ".gone", p), "a dangling symbolic link", id="dangling-link"
        ),
        pytest.param(_bind_unix_socket, "a socket", id="unix-socket"),
    ],
)
def test_directory_entry_that_is_not_a_file_is_named(
    tmp_path: Path, make: Callable[[str], None], expected: str
) -> None:
    (tmp_path / "a.yaml").write_text(POD)
    odd = tmp_path / "b.yaml"
    make(str(odd))
    with pytest.raises(ManifestError) as caught:
        loader.read_sources([str(tmp_path)])
    assert str(caught.value) == f"{odd}: not a manifest file: {expected}"


def test_directory_link_to_a_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_text(POD)
    (tmp_path / "pod.yaml").symlink_to(tmp_path / "real.txt")
    assert loader.read_sources([str(tmp_path)]) == [(str(tmp_path / "pod.yaml"), POD)]
