"""Lock file names: every pod a manifest or the CLI can name gets a lock file Linux accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubeplay.engine import locks
from kubeplay.kube.kinds import ObjectKey


@pytest.mark.parametrize(
    ("namespace", "name", "plain"),
    [
        pytest.param("default", "web", True, id="short-name-kept-readable"),
        pytest.param("n" * 63, "a" * 253, False, id="longest-valid-pod-name-in-longest-namespace"),
        pytest.param("default", "a/b", False, id="slash-never-a-directory"),
        pytest.param("default", "a\0b", False, id="nul"),
        pytest.param("default", "é", False, id="non-ascii"),
        pytest.param("a/b", "x", False, id="namespace-with-slash"),
    ],
)
def test_pod_lock_path_is_one_file_name(
    tmp_path: Path, namespace: str, name: str, plain: bool
) -> None:
    path = locks.pod_lock_path(tmp_path, namespace, name)
    assert path.parent == tmp_path
    assert len(path.name) <= locks.NAME_MAX
    assert path.name.startswith("pod_" if plain else "pod-sha256_")
    with locks.key_locks(tmp_path, [ObjectKey("", "Pod", namespace, name)]):
        assert locks.is_locked(path)


def test_a_long_name_of_any_kind_is_one_file_name(tmp_path: Path) -> None:
    key = ObjectKey("apps", "Deployment", "n" * 63, "a" * 253)
    path = locks.key_lock_path(tmp_path, key)
    assert len(path.name) <= locks.NAME_MAX and path.name.startswith("deployment.apps-sha256_")
    with locks.key_locks(tmp_path, [key]):
        assert locks.is_locked(path)


def test_hashed_lock_paths_keep_pods_apart(tmp_path: Path) -> None:
    paths = {
        locks.pod_lock_path(tmp_path, ns, name)
        for ns, name in [("default", "a" * 253), ("default", "b" * 253), ("other", "a" * 253)]
    }
    assert len(paths) == 3
