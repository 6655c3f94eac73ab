"""Bad input to play, down and delete: a clear exit 2 naming file, document and field, and
nothing created (the roots are never made). The CLI cases run `python -m kubeplay` as users
do, so a traceback anywhere on the way fails them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kubeplay.errors import ManifestError, UsageError
from kubeplay.services import play
from kubeplay.settings import Settings


def _pod(name: str, container: str = "") -> str:
    return (
        f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n"
        f"  - name: a\n    image: busybox\n{container}"
    )


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty-file"),
        pytest.param("# nothing\n---\n---\n", id="only-comments-and-empty-documents"),
        pytest.param("apiVersion: v1\nkind: List\nitems: []\n", id="empty-list"),
    ],
)
def test_play_of_nothing_is_an_error_as_in_kubectl(tmp_path: Path, text: str) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text(text)
    with pytest.raises(ManifestError) as caught:
        play.load_manifests([str(path)], kube_version="")
    assert str(caught.value) == f"{path}: no objects passed to apply"
    assert caught.value.exit_code == 2


def test_configmap_files_alone_are_objects_to_apply(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    config = tmp_path / "cm.yaml"
    config.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n")
    objects, _ = play.load_manifests([str(empty)], kube_version="", configmaps=[str(config)])
    assert [o.name for o in objects] == ["c"]


def _settings(tmp_path: Path) -> Settings:
    return Settings(root=tmp_path / "root", runroot=tmp_path / "run")


@pytest.mark.parametrize(
    "name",
    [
        pytest.param('"a/b"', id="slash"),
        pytest.param('"a\\0b"', id="nul"),
        pytest.param("a" * 300, id="over-255-characters"),
    ],
)
def test_down_refuses_a_name_no_pod_can_have(tmp_path: Path, name: str) -> None:
    path = tmp_path / "pod.yaml"
    path.write_text(_pod(name))
    with pytest.raises(ManifestError, match=r"pod.yaml:4: document 1 .*metadata.name: invalid"):
        play.down(_settings(tmp_path), [str(path)])
    assert not (tmp_path / "root").exists()
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("namespace", "name", "expected"),
    [
        pytest.param("default", "a/b", "pod: invalid name 'a/b'", id="slash"),
        pytest.param("default", "a" * 300, "pod: invalid name 'aaa", id="over-255-characters"),
        pytest.param("a/b", "web", "namespace: invalid name 'a/b'", id="namespace-slash"),
    ],
)
def test_delete_refuses_a_name_no_pod_can_have(
    tmp_path: Path, namespace: str, name: str, expected: str
) -> None:
    with pytest.raises(UsageError) as caught:
        play.delete(_settings(tmp_path), namespace, [name])
    assert str(caught.value).startswith(expected)
    assert caught.value.exit_code == 2
    assert not (tmp_path / "root").exists()


@pytest.mark.parametrize(
    ("args", "text", "expected"),
    [
        pytest.param(
            ["play"],
            _pod("p", "    env: [null]\n"),
            "spec.containers[0].env[0]: Invalid value: null",
            id="env-null",
        ),
        pytest.param(
            ["play"],
            _pod("p", "    resources: {limits: {memory: x}}\n"),
            "spec.containers[0].resources.limits.memory: Invalid value: 'x'",
            id="memory-x",
        ),
        pytest.param(
            ["play"],
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p\x01}\n",
            "control characters are not allowed",
            id="control-character",
        ),
        pytest.param(
            ["play"],
            "apiVersion: v1\nkind: Pod\nspec: " + "[" * 1000 + "]" * 1000 + "\n",
            "invalid YAML: exceeded maximum nesting depth",
            id="nesting-1000-levels",
        ),
        pytest.param(
            ["play"],
            "apiVersion: v1\nkind: Pod\nmetadata: &m {name: p, labels: *m}\n",
            "recursive alias",
            id="recursive-alias",
        ),
        pytest.param(["play"], "", "no objects passed to apply", id="empty-input"),
        pytest.param(["down"], _pod('"a/b"'), "metadata.name: invalid name 'a/b'", id="down-slash"),
        pytest.param(
            ["down"],
            _pod('"a\\0b"'),
            "document 1 (Pod a\\x00b): metadata.name: invalid name 'a\\x00b'",
            id="down-nul-shown-escaped",
        ),
        pytest.param(
            ["down"], _pod("a" * 300), "metadata.name: invalid name 'aaa", id="down-over-255"
        ),
        pytest.param(
            ["delete", "pod", "a" * 300], None, "pod: invalid name 'aaa", id="delete-over-255"
        ),
        pytest.param(["delete", "pod", "a/b"], None, "pod: invalid name 'a/b'", id="delete-slash"),
    ],
)
def test_cli_exit_2_without_traceback(
    tmp_path: Path, args: list[str], text: str | None, expected: str
) -> None:
    argv = list(args)
    if text is not None:
        path = tmp_path / "in.yaml"
        path.write_text(text)
        argv.append(str(path))
    env = {
        **os.environ,
        "KUBEPLAY_CONFIG": "/nonexistent/kubeplay.toml",
        "KUBEPLAY_ROOT": str(tmp_path / "root"),
        "KUBEPLAY_RUNROOT": str(tmp_path / "run"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "kubeplay", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ")
    assert expected in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "root").exists()
    assert not (tmp_path / "run").exists()
